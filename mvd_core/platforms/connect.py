"""Connect a participant to its real systems: the one place that picks, from the blueprint
and settings, which secret store, DID host and cluster source a participant uses."""

from __future__ import annotations

from typing import Any

from mvd_core.blueprint.models import Participant
from mvd_core.plan.desired import PublicKeys
from mvd_core.plan.planner import Observe, no_cluster
from mvd_core.settings import Settings


def public_keys_for_render(settings: Settings, targets: str) -> PublicKeys:
    def keys(_: Participant) -> dict[str, Any] | None:
        return None  # wired to the participant's vault once identity lands

    return keys


def observer(settings: Settings) -> Observe:
    return no_cluster
