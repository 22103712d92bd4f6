"""Printing on the terminal: every value from the store, a file or the network is untrusted text.

Log messages, user and host names, rule titles, comments and error texts come from senders and users.
Printed as they are, Rich reads ``[link=https://evil.example]click[/link]`` as markup (a hyperlink
nobody in the SOC wrote) and the terminal obeys the escape sequences inside them (OSC 8 hyperlinks,
colours, cursor moves, a new window title, a line rewritten by a carriage return). So every command
prints through these helpers: ``plain`` shows control characters (C0, DEL, C1, and the bidirectional
overrides that reorder what is displayed) as visible escapes such as ``\\x1b``, and Rich only ever
receives ``Text`` built from it, which it never parses as markup. JSON (``json_text``) keep
their value and escape the same characters as ``\\u`` sequences.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# Everything a terminal may act on, except tab (and newline where text may span lines): C0, DEL, C1,
# and the Unicode marks that reorder or hide text (bidirectional embeddings, overrides and isolates).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_NEWLINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# In orjson's output C0 is escaped already; only these can appear, and only inside strings.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def plain(value: object, *, newlines: bool = False) -> str:
    """``value`` as text a terminal shows and does not act on (``None`` → ``-``)."""
    text = "-" if value is None else str(value)
    return (_CONTROL_KEEP_NEWLINES if newlines else _CONTROL).sub(_shown, text)


def cell(value: object) -> Text:
    """One value for a Rich table or line: inert text, never markup."""
    return Text(plain(value))


def markup_safe(value: object) -> str:
    """For the few Rich APIs that take a markup string (progress descriptions): inert, brackets escaped."""
    return escape(plain(value))


def table(title: str, *columns: str) -> Table:
    """A table whose title and cells are text, not markup; add rows with ``add_row``."""
    out = Table(title=Text(plain(title)))
    for column in columns:
        out.add_column(column, overflow="fold")
    return out


def add_row(out: Table, *values: object) -> None:
    out.add_row(*(cell(v) for v in values))


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of plain parts and (text, Rich style) parts; the texts are made inert, the styles are ours."""
    line = Text()
    for part in parts:
        text, style = (part, "") if isinstance(part, str) else part
        line.append(plain(text), style=style)
    return line


def console(*, stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


def echo(*parts: object, err: bool = False) -> None:
    """One plain line (parts joined by spaces) on stdout or stderr."""
    typer.echo(" ".join(plain(p) for p in parts), err=err)


def json_text(value: Any, *, indent: bool = False) -> str:
    """``value`` as JSON that means the same and that a terminal does not act on."""
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def echo_json(value: Any, *, indent: bool = False) -> None:
    """``json_text`` on stdout: one line, or indented."""
    typer.echo(json_text(value, indent=indent))
