"""Orchestrators and activities the engine tests host. Orchestrators are plain Durable
Functions generators, exactly as the Azure host would run them."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import azure.durable_functions as df


class Calls:
    """Counts activity executions per key, thread-safe; a test's view of side effects."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def hit(self, key: str) -> int:
        with self.lock:
            self.counts[key] += 1
            return self.counts[key]


def sequential(ctx: df.DurableOrchestrationContext):
    n = ctx.get_input()["n"]
    total = 0
    for i in range(n):
        total = yield ctx.call_activity("add", {"a": total, "b": i})
    return total


def fan_out(ctx: df.DurableOrchestrationContext):
    n = ctx.get_input()["n"]
    results = yield ctx.task_all([ctx.call_activity("add", {"a": i, "b": i}) for i in range(n)])
    return results


def with_retry(ctx: df.DurableOrchestrationContext):
    args = ctx.get_input()
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=args["interval_ms"],
        max_number_of_attempts=args["attempts"],
    )
    try:
        value = yield ctx.call_activity_with_retry(
            "flaky", options, {"key": args["key"], "fail": args["fail"]}
        )
    except Exception as exc:  # noqa: BLE001 - a failed task surfaces as a bare Exception
        return {"error": str(exc)}
    return {"value": value}


def catches_failure(ctx: df.DurableOrchestrationContext):
    try:
        yield ctx.call_activity("boom", "kaput")
    except Exception as exc:  # noqa: BLE001 - a failed task surfaces as a bare Exception
        recovered = yield ctx.call_activity("add", {"a": 1, "b": 1})
        return {"caught": str(exc), "recovered": recovered}
    return {"caught": None}


def raises(ctx: df.DurableOrchestrationContext):
    yield ctx.call_activity("add", {"a": 0, "b": 0})
    raise RuntimeError("orchestrator gave up")


def parent(ctx: df.DurableOrchestrationContext):
    names = ctx.get_input()["children"]
    ctx.set_custom_status({"phase": "children"})
    tasks = [
        ctx.call_sub_orchestrator("child", {"name": name}, instance_id=f"{ctx.instance_id}:{name}")
        for name in names
    ]
    try:
        results = yield ctx.task_all(tasks)
    except Exception as exc:  # noqa: BLE001 - a failed task surfaces as a bare Exception
        ctx.set_custom_status({"phase": "failed"})
        return {"error": str(exc)}
    ctx.set_custom_status({"phase": "done"})
    return results


def child(ctx: df.DurableOrchestrationContext):
    name = ctx.get_input()["name"]
    if name == "bad":
        yield ctx.call_activity("boom", f"child {name}")
    first = yield ctx.call_activity("add", {"a": len(name), "b": 0})
    second = yield ctx.call_activity("add", {"a": first, "b": 100})
    return {"name": name, "value": second}


def sub_with_retry(ctx: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=20, max_number_of_attempts=3)
    result = yield ctx.call_sub_orchestrator_with_retry(
        "flaky_child", options, ctx.get_input(), instance_id=f"{ctx.instance_id}:flaky"
    )
    return result


def flaky_child(ctx: df.DurableOrchestrationContext):
    value = yield ctx.call_activity("flaky", ctx.get_input())
    return value


def timer_then_event(ctx: df.DurableOrchestrationContext):
    """Waits on a durable timer, then on an external event racing a long timeout timer."""
    start = ctx.current_utc_datetime
    yield ctx.create_timer(start + timedelta(milliseconds=ctx.get_input()["timer_ms"]))
    ctx.set_custom_status("waiting for approval")
    timeout = ctx.create_timer(ctx.current_utc_datetime + timedelta(hours=1))
    approval = ctx.wait_for_external_event("approval")
    winner = yield ctx.task_any([approval, timeout])
    if winner == approval:
        timeout.cancel()
        return {"approved": approval.result, "waited": ctx.current_utc_datetime >= start}
    return {"approved": None}


def replay_aware(ctx: df.DurableOrchestrationContext):
    """Records (through an activity) whether the SDK reports replays correctly."""
    seen = []
    for i in range(3):
        seen.append(ctx.is_replaying)
        yield ctx.call_activity("add", {"a": i, "b": 0})
    seen.append(ctx.is_replaying)
    return {"last_is_replaying": seen[-1], "instance_id": ctx.instance_id}


def uses_entity(ctx: df.DurableOrchestrationContext):
    result = yield ctx.call_http("GET", "https://example.invalid/")
    return result


def make_activities(calls: Calls) -> dict[str, Any]:
    def add(args: dict[str, int]) -> int:
        calls.hit(f"add:{args['a']}:{args['b']}")
        return args["a"] + args["b"]

    def flaky(args: dict[str, Any]) -> str:
        attempt = calls.hit(f"flaky:{args['key']}")
        if attempt <= args["fail"]:
            raise ConnectionError(f"attempt {attempt} of {args['key']} failed")
        return f"{args['key']} ok after {attempt}"

    def boom(message: str) -> None:
        calls.hit(f"boom:{message}")
        raise ValueError(message)

    return {"add": add, "flaky": flaky, "boom": boom}


ORCHESTRATORS = {
    "sequential": sequential,
    "fan_out": fan_out,
    "with_retry": with_retry,
    "catches_failure": catches_failure,
    "raises": raises,
    "parent": parent,
    "child": child,
    "sub_with_retry": sub_with_retry,
    "flaky_child": flaky_child,
    "timer_then_event": timer_then_event,
    "replay_aware": replay_aware,
    "uses_entity": uses_entity,
}


def three_events(ctx: df.DurableOrchestrationContext):
    a = yield ctx.wait_for_external_event("a")
    b = yield ctx.wait_for_external_event("b")
    c = yield ctx.wait_for_external_event("c")
    return [a, b, c]


def one_activity(ctx: df.DurableOrchestrationContext):
    result = yield ctx.call_activity(ctx.get_input()["activity"], ctx.get_input().get("arg"))
    return result


ORCHESTRATORS["three_events"] = three_events
ORCHESTRATORS["one_activity"] = one_activity


def fan_out_retries(ctx: df.DurableOrchestrationContext):
    """Retry timers and new tasks interleave: the sequence numbers must line up on every replay."""
    options = df.RetryOptions(first_retry_interval_in_milliseconds=15, max_number_of_attempts=3)
    keys = ctx.get_input()["keys"]
    first = yield ctx.task_all(
        [
            ctx.call_activity_with_retry("flaky", options, {"key": k, "fail": i % 3})
            for i, k in enumerate(keys)
        ]
    )
    after = yield ctx.call_activity("add", {"a": len(first), "b": 0})
    try:
        yield ctx.task_all(
            [
                ctx.call_activity_with_retry("flaky", options, {"key": "never", "fail": 99}),
                ctx.call_activity_with_retry("flaky", options, {"key": "late", "fail": 2}),
            ]
        )
    except Exception as exc:  # noqa: BLE001 - a failed task surfaces as a bare Exception
        return {"first": first, "after": after, "error": str(exc)}
    return {"first": first, "after": after, "error": None}


ORCHESTRATORS["fan_out_retries"] = fan_out_retries


def counter(ctx: df.DurableOrchestrationContext):
    n = ctx.get_input()["n"]
    value = yield ctx.call_activity("add", {"a": n, "b": 1})
    if value < 3:
        ctx.continue_as_new({"n": value})
        return None
    return value


ORCHESTRATORS["counter"] = counter
