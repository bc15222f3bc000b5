"""The dataspace blueprint: models, loader, the packaged default, target profiles."""

from mvd_core.dataspace.loader import BlueprintError, Problem, load, parse
from mvd_core.dataspace.models import Dataspace, Participant

__all__ = ["BlueprintError", "Dataspace", "Participant", "Problem", "load", "parse"]
