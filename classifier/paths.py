"""Where pmc keeps its runtime files: the data directory, the model registry and the store.

Everything runtime lives under one data directory — `data/` in the project checkout, or the
folder named by the `PMC_DATA_DIR` environment variable — and is never committed.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROJECT_ROOT", "data_dir", "models_dir", "default_db_path", "store_key", "is_store_url", "fsync_directory", "sweep_stale",
           "STALE_SECONDS", "file_mode", "is_special_file"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The runtime data directory (`PMC_DATA_DIR`, else `<project>/data`)."""
    return Path(os.environ.get("PMC_DATA_DIR") or PROJECT_ROOT / "data")


def models_dir() -> Path:
    """The model registry: one sub-folder per saved model version."""
    return Path(os.environ.get("PMC_MODELS_DIR") or data_dir() / "models")


def default_db_path() -> Path | str:
    """The annotation store: `PMC_DB` (an SQLite path, or a `postgresql://` URL kept as a string),
    else `<data>/pmc.sqlite`."""
    value = os.environ.get("PMC_DB")
    if value and is_store_url(value):
        return value
    return Path(value or data_dir() / "pmc.sqlite")


STORE_URL_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def is_store_url(target: object) -> bool:
    """True when a `--db` value names a PostgreSQL server (a URL) rather than an SQLite file."""
    return isinstance(target, str) and "://" in target and target.split("://", 1)[0].lower() in STORE_URL_SCHEMES


def store_key(db: str | Path) -> str:
    """One spelling of a store for caches and locks: a URL as given, a path resolved."""
    if is_store_url(db):
        return str(db)
    return str(Path(db).resolve())


def fsync_directory(path: Path) -> None:
    """Flush a folder's entries to disk, so a file renamed into it survives a crash of the machine."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


def file_mode(path: Path) -> int:
    """The file's current permission bits, or the usual ones for a new file (0666 less umask):
    what a file written to a temporary name and renamed into place should get."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def is_special_file(path: Path) -> bool:
    """An existing path that is not a regular file or folder (/dev/null, a FIFO, a terminal):
    written in place, never replaced by a rename."""
    import stat

    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


STALE_SECONDS = 3600.0  # a temporary file or folder older than this was left by a killed process


def sweep_stale(folder: Path, patterns: tuple[str, ...], *, older_than: float = STALE_SECONDS) -> list[str]:
    """Remove what killed writes left in `folder`: entries matching `patterns` (globs) older than
    `older_than` seconds (a write in progress is younger). Returns the names removed."""
    import shutil
    import time

    removed: list[str] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for pattern in patterns:
        for item in folder.glob(pattern):
            try:
                if now - item.lstat().st_mtime < older_than:
                    continue
                shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
                removed.append(item.name)
            except OSError:
                continue
    return removed
