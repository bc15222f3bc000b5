"""The state directory (``MVD_HOME``) and the files in it: the one place that creates them.

Every directory the control plane creates for its state is 0700 and every file 0600,
whatever the umask: the engine and registry databases hold run inputs, the vault holds
private keys, the log and the API token sit beside them. A directory or file an older
version left with wider modes is narrowed when it is next opened. SQLite creates a
database's ``-wal`` and ``-shm`` files with the database file's own mode, so creating the
database 0600 first covers them (``private_sqlite`` narrows old ones too).

A state file that is damaged is never replaced unasked: ``DamagedState`` names it and
says what to do.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from mvd_core.errors import MvdError

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """``path`` as a directory of mode 0700, with each missing parent created 0700 as well
    (an existing parent is left alone; ``path`` itself is narrowed if it is wider)."""
    path = Path(path)
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass  # another process made it meanwhile; narrowed below
        _narrow(directory, DIR_MODE)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    _narrow(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` as an existing file of mode 0600 (created empty when missing), its directory
    private; for files another library opens afterwards (SQLite, logging)."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (temp file in the same private directory,
    fsync, rename), mode 0600: a crash leaves the old content or the new, never half."""
    path = Path(path)
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def private_sqlite(path: Path) -> Path:
    """A SQLite database file made private before SQLite opens it, with any ``-wal``/``-shm``
    left by an older version narrowed too."""
    private_file(path)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        try:
            _narrow(side, FILE_MODE)
        except FileNotFoundError:
            pass
    return path


def _narrow(path: Path, mode: int) -> None:
    if stat.S_IMODE(os.stat(path).st_mode) != mode:
        os.chmod(path, mode)


def shown(path: Path) -> str:
    """A state file as messages that may reach an API caller name it: relative to
    ``MVD_HOME`` (the absolute path stays on this machine)."""
    from mvd_core.settings import get_settings

    path = Path(path)
    try:
        return f"$MVD_HOME/{path.resolve().relative_to(get_settings().home.resolve())}"
    except ValueError:
        return path.name


class DamagedState(MvdError):
    """A state file that cannot be read as what it should be. Answered 503 by the API: the
    request was fine, the server's state is not. ``message`` names the file relative to
    ``MVD_HOME``; ``local_message`` (for the CLI) with its absolute path."""

    status = 503

    def __init__(self, path: Path, reason: str, remedy: str) -> None:
        self.path = Path(path)
        self.reason, self.remedy = reason, remedy
        super().__init__(f"{shown(self.path)} {reason}; {remedy}")

    @property
    def local_message(self) -> str:
        return f"{self.path.absolute()} {self.reason}; {self.remedy}"
