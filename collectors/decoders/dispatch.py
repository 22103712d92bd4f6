"""Which decoder reads a line, decided without trying every pattern.

Three doors, each one lookup: a syslog message goes to the decoders of its program (a dict; a
program matched by a prefix such as ``postfix*`` is resolved once and remembered); a file line
whose dataset is configured goes to that format's decoder; any other line, and the message of a
program nobody claims, is searched once for every decoder's prefilter texts together (one regex
built as a trie of the texts) and offered only to the decoders whose text occurs. However many
decoders are loaded, a line costs one lookup or one search, then the rules of one or two decoders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from collectors.decoders.compiled import CompiledDecoder, ProgramDispatch
from sentinel.errors import ConfigError

_PROGRAM_CACHE_SIZE = 4096  # distinct program names remembered (attacker-chosen names cannot grow it)


def _trie(texts: Iterable[str]) -> str:
    """One regex for a set of literal texts, factored on shared prefixes (``a(?:b|c)``): at any
    position it finds the shortest text starting there."""
    root: dict[str, Any] = {}
    for text in texts:
        node = root
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = True

    def emit(node: dict[str, Any]) -> str:
        if "" in node:  # a text ends here: the shortest hit is enough
            return ""
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root)


class LiteralIndex:
    """Which decoders have a prefilter text in a line: one regex search per hit, not one per text."""

    __slots__ = ("_owners", "_search")

    def __init__(self, decoders: Sequence[CompiledDecoder]) -> None:
        owners: dict[str, set[int]] = {}
        for position, decoder in enumerate(decoders):
            for text in decoder.prefilter:
                owners.setdefault(text, set()).add(position)
        # The trie reports the shortest text at a position: it stands for every text it begins.
        shortest = [t for t in owners if not any(t != o and t.startswith(o) for o in owners)]
        merged: dict[str, set[int]] = {t: set() for t in shortest}
        for text, positions in owners.items():
            head = min((s for s in shortest if text.startswith(s)), key=len)
            merged[head] |= positions
        self._owners = {text: tuple(sorted(p)) for text, p in merged.items()}
        self._search = re.compile(_trie(self._owners)).search if self._owners else None

    def hits(self, text: str) -> list[int]:
        """Positions (in load order) of the decoders one of whose texts occurs in ``text``."""
        search = self._search
        if search is None:
            return []
        m = search(text)
        if m is None:
            return []
        found = set(self._owners[m.group()])
        m = search(text, m.start() + 1)
        while m is not None:
            found.update(self._owners[m.group()])
            m = search(text, m.start() + 1)
        return sorted(found)


class DecoderSet:
    """The active decoders, indexed for dispatch; ``errors`` are the files that did not load."""

    def __init__(self, decoders: Iterable[CompiledDecoder], errors: Sequence[ConfigError] = ()) -> None:
        # Lower order first; at equal order a site decoder before a shipped one, then by id.
        self.decoders: tuple[CompiledDecoder, ...] = tuple(sorted(decoders, key=lambda d: (d.order, d.shipped, d.id)))
        self.errors = tuple(errors)
        exact: dict[str, list[CompiledDecoder]] = {}
        prefixes: dict[str, list[CompiledDecoder]] = {}
        formats: dict[str, CompiledDecoder] = {}
        for decoder in self.decoders:
            for program in decoder.programs:
                if program.endswith("*"):
                    prefixes.setdefault(program[:-1], []).append(decoder)
                else:
                    exact.setdefault(program, []).append(decoder)
            for name in decoder.formats:
                formats.setdefault(name, decoder)
        self.by_program: dict[str, tuple[CompiledDecoder, ...]] = {k: tuple(v) for k, v in exact.items()}
        self._prefixes = tuple((p, tuple(v)) for p, v in sorted(prefixes.items()))
        self._prefix_starts = tuple(p for p, _ in self._prefixes)
        self._resolved: dict[str, tuple[CompiledDecoder, ...]] = {}
        self.by_format = formats
        with_text = [d for d in self.decoders if d.prefilter]
        self._with_text = tuple(with_text)
        self._index = LiteralIndex(with_text)
        self.dispatch_program: ProgramDispatch | None = None  # set by the parser registry

    def by_prefix(self, program: str) -> tuple[CompiledDecoder, ...]:
        """The decoders whose ``name*`` program entries ``program`` starts with (in decoder order)."""
        if not self._prefix_starts or not program.startswith(self._prefix_starts):
            return ()
        found = self._resolved.get(program)
        if found is None:
            matched = {id(d): d for p, ds in self._prefixes if program.startswith(p) for d in ds}
            found = tuple(d for d in self.decoders if id(d) in matched)
            if len(self._resolved) >= _PROGRAM_CACHE_SIZE:
                self._resolved.clear()
            self._resolved[program] = found
        return found

    def candidates(self, text: str) -> list[CompiledDecoder]:
        """The decoders whose prefilter texts occur in ``text``, in decoder order."""
        return [self._with_text[i] for i in self._index.hits(text)]

    def decode_unclaimed(self, message: str, doc: dict[str, Any]) -> str | None:
        """A syslog message no parser claims by program: the dataset of the decoder that classified it."""
        for decoder in self.candidates(message):
            if decoder.decode_message(message, doc):
                return decoder.dataset
        return None

    def decode_line(
        self, line: str, doc: dict[str, Any], *, classified_only: bool = False
    ) -> tuple[str, datetime] | None:
        """A line with no syslog header: (dataset, time) from the first decoder that reads its format.

        A decoder whose rules classify the line wins over one that only reads its header; with
        ``classified_only``, a header alone claims nothing.
        """
        fallback = None
        for decoder in self.candidates(line):
            if decoder.json is not None:
                found = decoder.parse_json(line, doc, self.dispatch_program)
                if found is not None:
                    return found
                continue
            header = decoder.read_header(line)
            if header is None:
                continue
            text = line[header[1].end() :].strip()
            if decoder.classify(text, doc):
                return decoder.dataset, decoder.finish_header(header, text, doc)
            if fallback is None and not classified_only:
                fallback = (decoder, header, text)
        if fallback is not None:
            decoder, header, text = fallback
            return decoder.dataset, decoder.finish_header(header, text, doc)
        return None
