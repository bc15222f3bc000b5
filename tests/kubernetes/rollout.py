"""Waiting for a rollout as the orchestrator does: ``rollout_status`` (what its check_rollout
step reads, never blocking) polled until it settles, up to a deadline."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client as k8s

from mvd_core.platforms.kubernetes import workloads as W


def settle(api: k8s.ApiClient, objects: list[dict[str, Any]], timeout_seconds: float = 30) -> W.RolloutStatus:
    """The rollout status once every Deployment and Job is ready, one has failed, or the
    deadline has passed (then what is still pending)."""
    deadline, delay = time.monotonic() + timeout_seconds, 0.02
    while True:
        status = W.rollout_status(api, objects)
        if status.ready or status.failed or time.monotonic() >= deadline:
            return status
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)
