"""The wiring that picks a participant's real systems from its blueprint and settings."""

from __future__ import annotations

from mvd_core.dataspace import load
from mvd_core.dataspace.models import SimulatedCluster
from mvd_core.dataspace.targets import local_participant
from mvd_core.identity import keys
from mvd_core.settings import get_settings
from mvd_core.workflow import connect


def test_participant_public_key_uses_the_declared_vault():
    local = local_participant(load().participants[0], SimulatedCluster())
    settings = get_settings()
    assert connect.participant_public_key(local, settings) is None
    created = connect.participant_public_key(local, settings, create=True)
    assert connect.participant_public_key(local, settings) == created
    assert (settings.home / "vaults" / local.id / keys.secret_name(local.id)).is_file()
