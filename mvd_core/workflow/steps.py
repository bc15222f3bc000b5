"""The table of steps: what a participant goes through for each action, in order.

The participant orchestrator runs these steps and its progress lists them, both from this
one table. Each step is one of three shapes: an activity called once, a long operation
started and then polled on durable timers, or a readiness check repeated on durable timers.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvd_core.plan.render import WORKLOAD_KINDS
from mvd_core.runs import Action


@dataclass(frozen=True)
class Call:
    """One activity, retried with backoff until it succeeds or its error stands."""

    name: str
    activity: str


@dataclass(frozen=True)
class Operation:
    """``begin`` starts a long operation; ``poll`` looks at it until it is done."""

    name: str
    begin: str
    poll: str


@dataclass(frozen=True)
class WaitReady:
    """The participant's objects of these kinds are ready (``check_rollout``), up to a deadline."""

    name: str
    kinds: tuple[str, ...]
    activity: str = "check_rollout"


Step = Call | Operation | WaitReady

_CLUSTER = Operation("cluster", begin="begin_cluster", poll="poll_cluster")
_VAULT = Call("vault", "ensure_key")
_DID = Call("did", "publish_did")
_WORKLOADS = Call("workloads", "apply_workloads")
_RESTART = Call("restart", "restart_runtimes")
_ROLLOUT = WaitReady("rollout", WORKLOAD_KINDS)
_IDENTITY = Call("identity", "enroll_identity")
_SEED = WaitReady("seed", ("Job",))
_PRUNE = Call("prune", "prune_workloads")

STEPS: dict[Action, tuple[Step, ...]] = {
    "provision": (_CLUSTER, _VAULT, _DID, _WORKLOADS, _ROLLOUT, _IDENTITY, _SEED, _PRUNE),
    "reset": (_CLUSTER, _VAULT, _DID, _WORKLOADS, _RESTART, _ROLLOUT, _IDENTITY, _SEED, _PRUNE),
    "teardown": (Call("workloads", "delete_workloads"), Call("did", "remove_did")),
}
