"""The local DID host: files under ``$MVD_HOME/dids/<participant-id>/`` that ``mvd serve``
serves at ``/dids/<participant-id>/[path/]did.json``."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from mvd_core.dataspace.models import LocalDidHost
from mvd_core.errors import MvdError
from mvd_core.identity.didweb import did_for, did_to_url
from mvd_core.identity.document import to_bytes
from mvd_core.logs import get_logger
from mvd_core.platforms.didhosts import PublishResult
from mvd_core.settings import Settings
from mvd_core.state import private_dir

log = get_logger(__name__)


def dids_root(settings: Settings) -> Path:
    return settings.home / "dids"


class LocalDidHostClient:
    def __init__(self, host: LocalDidHost, participant_id: str, settings: Settings) -> None:
        base = settings.base_url
        self.did = did_for(host, participant_id, local_base_url=base)
        self.root = dids_root(settings) / participant_id
        # served at /dids/<participant-id>/[path/]did.json, the URL its DID names
        self.path = self.root.joinpath(*host.path, "did.json")
        # the DID's own URL (localhost stands for a loopback address, see ``did_for``)
        self.url = did_to_url(self.did, scheme="http" if base.startswith("http:") else "https")
        self.description = f"local DID directory {self.root}"

    def publish(self, document: dict[str, Any]) -> PublishResult:
        body = to_bytes(document)
        digest = hashlib.sha256(body).hexdigest()
        try:
            if self.path.is_file() and self.path.read_bytes() == body:
                return PublishResult(url=self.url, written=False, sha256=digest)
            private_dir(self.path.parent)
            # mkstemp makes it 0600: public once served, but a file of the private state directory
            fd, tmp = tempfile.mkstemp(prefix=".did.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise MvdError(f"cannot write {self.path}: {exc.strerror}") from None
        log.info("published %s to %s", self.did, self.path)
        return PublishResult(url=self.url, written=True, sha256=digest)

    def remove(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise MvdError(f"cannot delete {self.path}: {exc.strerror}") from None
        # drop the now-empty directories up to the participant's root
        parent = self.path.parent
        while parent != self.root.parent and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        log.info("removed %s from %s", self.did, self.path)
        return True
