"""Every file the app writes goes through here: a temporary file beside the target, flushed
to disk, then moved into place with ``os.replace``, so a crash or a full disk never leaves
half a file where a whole one was (CONVENTIONS: everyday habits)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_path(path: str | os.PathLike) -> Path:
    """The temporary file :func:`replacing` writes ``path`` through (same folder, hidden, per process)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Flush ``tmp`` to disk and move it onto ``path`` (atomic on one file system)."""
    fd = os.open(tmp, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield the temporary path to write ``path`` through; when the block ends without an
    error, it is committed onto ``path``; whatever happens, no temporary file is left."""
    tmp = temp_path(path)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; OSError on failure."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
