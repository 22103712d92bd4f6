"""Compressed files for ``sentinel ingest``: gzip, bzip2 and xz, recognised by their content.

Rotated logs are compressed (``auth.log.2.gz``); so are archived captures and event logs. The
format is told by the first bytes, not the name, so a ``.1`` that is gzip and a ``.gz`` that is
plain text are both read right. A compressed stream that ends early (a copy cut short) gives
what came before the cut and says so.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import shutil
import zlib
from pathlib import Path
from typing import NamedTuple

# First bytes of each format; the codec names are what reports show.
MAGIC: dict[bytes, str] = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
SUFFIXES = (".gz", ".bz2", ".xz")
# What a damaged or cut stream raises while it is read.
STREAM_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error, ValueError)


class TruncatedInput(NamedTuple):
    """An importer's item saying the input ends early: what came before was read, the rest is not there."""

    reason: str


def compression_of(head: bytes) -> str | None:
    """``gzip``, ``bzip2`` or ``xz`` for a stream that starts with ``head``; None for anything else."""
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def open_decompressed(path: Path, codec: str) -> io.BufferedIOBase:
    """The decompressed bytes of ``path`` as a stream."""
    if codec == "gzip":
        return gzip.open(path, "rb")
    if codec == "bzip2":
        return bz2.open(path, "rb")
    return lzma.open(path, "rb")


def decompressed_name(path: Path) -> str:
    """``auth.log`` for ``auth.log.gz``; the name itself when it has no compression suffix."""
    for suffix in SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.name[: -len(suffix)]
    return path.name


def decompress_to(path: Path, codec: str, target: Path) -> str | None:
    """Write the decompressed content of ``path`` to ``target``; the reason if the stream ends early."""
    with open_decompressed(path, codec) as source, open(target, "wb") as out:
        try:
            shutil.copyfileobj(source, out, 1 << 20)
        except STREAM_ERRORS as exc:
            return f"{path}: the {codec} stream is cut short or damaged ({exc}); what came before is imported"
    return None


def read_head(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of the file's content, decompressed if it is compressed."""
    with path.open("rb") as fh:
        head = fh.read(size)
    codec = compression_of(head)
    if codec is None:
        return head
    out = bytearray()
    try:
        with open_decompressed(path, codec) as stream:
            while len(out) < size:  # small reads: a stream cut early still gives its first bytes
                piece = stream.read(min(512, size - len(out)))
                if not piece:
                    break
                out += piece
    except STREAM_ERRORS:
        pass
    return bytes(out)


__all__ = [
    "MAGIC",
    "STREAM_ERRORS",
    "TruncatedInput",
    "compression_of",
    "decompress_to",
    "decompressed_name",
    "open_decompressed",
    "read_head",
]
