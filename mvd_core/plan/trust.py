"""What every participant's runtimes are told about the control plane: the dataspace issuer's
DID (hosted by the control plane) and the participant list the catalogs crawl."""

from __future__ import annotations

from typing import Final

from mvd_core.dataspace.models import LocalDidHost
from mvd_core.identity.didweb import did_for
from mvd_core.identity.issuer import ISSUER_ID
from mvd_core.settings import Settings

PARTICIPANT_LIST_PATH: Final = "/api/dataspace/participants.json"


def issuer_did(settings: Settings) -> str:
    return did_for(LocalDidHost(kind="local"), ISSUER_ID, local_base_url=settings.base_url)


def participant_list_url(settings: Settings) -> str:
    return settings.base_url + PARTICIPANT_LIST_PATH
