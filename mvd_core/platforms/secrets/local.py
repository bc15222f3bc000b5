"""The local file vault: one file per secret under the state directory.

Directory 0700, files 0600, each write atomic (temp file in the same directory, fsync,
rename), so a crash leaves either the old or the new value, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mvd_core.errors import MvdError
from mvd_core.platforms.secrets import UnreadableSecret, check_name
from mvd_core.state import private_dir


class LocalFileVault:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.description = f"local vault {self.root}"

    def _dir(self) -> Path:
        try:
            private_dir(self.root)
        except OSError as exc:
            raise MvdError(f"cannot use {self.description}: {exc.strerror}") from None
        return self.root

    def get(self, name: str) -> str | None:
        path = self.root / check_name(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise MvdError(f"cannot read secret {name!r} from {self.description}: {exc.strerror}") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableSecret(
                f"secret {name!r} in {self.description} is not UTF-8 text (the file {path.name} is damaged)"
            ) from None

    def set(self, name: str, value: str) -> None:
        directory = self._dir()
        target = directory / check_name(name)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(value)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise MvdError(f"cannot write secret {name!r} to {self.description}: {exc.strerror}") from None

    def delete(self, name: str) -> bool:
        try:
            (self.root / check_name(name)).unlink()
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise MvdError(f"cannot delete secret {name!r} from {self.description}: {exc.strerror}") from None
