"""The data directory and its files are the service user's alone: directory 0700, files 0600.

It holds every institution's events, the outbox (notices with working acknowledgement links), the
acknowledgement secret and the spool. Modes are set when Sentinel creates them, whatever the umask,
and an existing directory or file that is more open (a data directory made before this rule, a
database created 0644) is tightened at start.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) if needed; the directory itself ends up 0700 or stricter."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    _tighten(path, DIRECTORY_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, 0600; an existing one ends up 0600 or stricter."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def tighten_if_present(path: Path) -> None:
    """An existing file ends up 0600 or stricter; a missing one is left missing."""
    try:
        _tighten(path, FILE_MODE)
    except FileNotFoundError:
        pass


def _tighten(path: Path, allowed: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~allowed:
        os.chmod(path, current & allowed)
        log.info("%s was readable by others (mode %03o): now %03o", path, current, current & allowed)
