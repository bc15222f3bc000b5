"""The dataspace blueprint: models, loader, the packaged default, target profiles."""

from mvd_core.dataspace.loader import BlueprintError, Problem, load, parse
from mvd_core.dataspace.models import Dataspace, Participant
from mvd_core.dataspace.targets import Targets, apply_targets, load_targeted

__all__ = [
    "BlueprintError",
    "Dataspace",
    "Participant",
    "Problem",
    "Targets",
    "apply_targets",
    "load",
    "load_targeted",
    "parse",
]
