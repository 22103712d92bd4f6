"""Declarative log decoders: a service's logs described in YAML, not programmed.

One file per service (``library/*.yaml`` ships with Sentinel; a site adds its own folders) says what
the decoder applies to, how the service's own files start, and rules that set ECS fields and the
event's classification; ``model.py`` documents the format. The choices, and why:

- **Behind the parser registry** (``collectors.parsers``): a decoder is one more parser for the
  programs and formats it names. The Python parsers stay where Python is really needed (the sshd fast
  path, auditd, pam) and keep their programs; a decoder naming the same program only sees what the
  Python parser left unclassified. The registry is process-wide, as it was: the shipped library is
  static data compiled once, when the first normaliser is built (about a quarter of a second of CPU;
  commands that read no logs never pay it), and ``sentinel serve`` and ``sentinel ingest`` install
  the configured set (``site.py``) before any line is read.
- **Three doors, each one lookup** (``dispatch.py``): by syslog program (exact, or ``name*`` resolved
  once and remembered), by the configured file format, or by texts the line holds (one regex built as
  a trie of every decoder's prefilter texts). No line is offered to a decoder whose program, format
  or text it does not have, so adding decoders costs the others nothing
  (``benchmarks/decoders_mixed.py``). Each rule also skips its regex when the longest text it
  requires is absent (``patterns.required_literal``).
- **Times**: a syslog line's header time stands (it is what the sender stamped; the message's own
  copy is often in another format). A line of the service's own file gets its time from the
  decoder's ``lines`` header. Lines that start ``YYYY-MM-DD hh:mm:ss`` look like ISO syslog but are
  usually an application's own file: their decoders read them first when a rule classifies them.
  A time without a zone is the institution's; without a year it is placed like an RFC 3164 time.
- **Fields**: captures go through typed writers (``ecs.py``): addresses are checked (``source.ip``
  only when it is one), numbers are numbers, ``-`` is no value. Attribution and identity
  (``organization.*``, ``host.*``, ``observer.*``, ``event.id``...) and the classification
  (``event.category/type/outcome/action``) cannot come from line text: the classification is a
  rule's own keys, checked against ECS at load.
- **Order**: lower ``order`` first; at equal order a site decoder before a shipped one; a site
  decoder with a shipped decoder's id replaces it. Within a decoder, the first matching rule wins.
- **Errors**: a file with a problem is reported with its file, line and key and left out; the
  others load. Samples (lines that must decode to given fields, lines that must not) run through
  the real normaliser (``samples.py``): in the test suite for the shipped library, and in
  ``sentinel decoders test`` for a site's.
"""
