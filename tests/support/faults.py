"""Real resource faults for durability tests: a small tmpfs that fills up, a file-size limit.

Neither replaces any of Sentinel's code: the kernel refuses the writes.

- ``small_tmpfs(path, mb)`` mounts a tmpfs of that size (root, or a user allowed to mount) and
  ``grow_tmpfs`` remounts it larger: a disk that fills, then gets space back. Tests that need it
  skip with a visible reason where mounting is impossible.
- ``file_size_limit(bytes)`` sets ``RLIMIT_FSIZE`` for this process (``prlimit`` for another):
  a write past the limit is cut short, then fails with ``EFBIG``, exactly as a write on a full
  disk is cut short and then fails with ``ENOSPC``. CPython ignores ``SIGXFSZ``, so the process
  gets the error instead of being killed. It works everywhere, so CI always exercises it.
"""

from __future__ import annotations

import contextlib
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def mount_tmpfs(path: Path, size_mb: int) -> str | None:
    """Mount a tmpfs of ``size_mb`` on ``path``; the reason it is impossible, or None when mounted."""
    if shutil.which("mount") is None:
        return "no mount command"
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        return f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})"
    return None


def grow_tmpfs(path: Path, size_mb: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size_mb}m", str(path)], check=True, timeout=30)


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, timeout=30)


@contextlib.contextmanager
def small_tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` at ``path`` for the block; skips the test where mounting is impossible."""
    problem = mount_tmpfs(path, size_mb)
    if problem is not None:
        pytest.skip(f"disk-full test on a real file system skipped: {problem}")
    try:
        yield path
    finally:
        unmount(path)


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes of this process past ``limit`` bytes of any file fail (EFBIG) inside the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def limit_file_size_of(pid: int, limit: int | None) -> None:
    """Set (or lift, with None) the file-size limit of another process, as ``prlimit`` does."""
    hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY if limit is None else limit, hard))
