"""Every pattern that guards a name is a full match (issue 10, item 3).

A control character or a Unicode separator before, after or inside an otherwise valid value
is refused by the guard itself: never stripped, never let through to fail (or not) later.
``$`` matches before a final newline and ``str.strip()`` drops Unicode spaces, so each guard
below is fed every such character in every position. The guards: blueprint names (parsed
from YAML, each refusal naming its field), run ids, participant ids and webhook headers at the
API, secret names, did:web hosts and path segments, Kubernetes object names and selectors.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from mvd_core.api import webhooks
from mvd_core.api.handlers import ApiRequest, get_run, post_command
from mvd_core.commands.handler import _message_id
from mvd_core.commands.models import Command
from mvd_core.dataspace import BlueprintError, load, parse
from mvd_core.errors import MvdError
from mvd_core.identity.didweb import InvalidDid, did_to_url
from mvd_core.platforms.kubernetes.simulator.resources import RESOURCES
from mvd_core.platforms.kubernetes.simulator.selectors import field_matcher, label_matcher
from mvd_core.platforms.kubernetes.simulator.store import ApiError, ClusterStore
from mvd_core.platforms.secrets import check_name
from mvd_core.runs import check_run_id

# The characters of the issue, then (below) any other control, format or separator character.
LISTED = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\u2028", "\u2029", "\x85", "\xa0", "\u200b"]
hidden_char = st.sampled_from(LISTED) | st.characters(
    categories=("Cc", "Cf", "Zs", "Zl", "Zp"), exclude_characters=" "  # a plain space is legal in a selector
)


class Refused(Exception):
    """The guard said no."""


@dataclass(frozen=True)
class Guard:
    name: str
    good: str
    check: Callable[[str], None]  # returns when the value is accepted, raises Refused when refused

    def __str__(self) -> str:
        return self.name


def _refused_by(*kinds: type[BaseException]) -> Callable[[Callable[[str], Any]], Callable[[str], None]]:
    def wrap(call: Callable[[str], Any]) -> Callable[[str], None]:
        def check(value: str) -> None:
            try:
                call(value)
            except kinds as exc:
                raise Refused(str(exc)) from exc

        return check

    return wrap


# --- the blueprint ------------------------------------------------------------------------

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when there: many documents below
_Reader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT = resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8")


def _base() -> dict:
    data = yaml.safe_load(DEFAULT)
    gt = data["participants"][0]
    gt["publicHost"] = "gt.example.org"
    gt["cluster"].update(subscriptionId="0000-1111", location="westeurope")
    gt["identity"]["host"]["path"] = ["dids"]
    gt["identity"]["host"]["endpointUrl"] = "https://acct.r2.cloudflarestorage.com"
    gt["seedJobs"] = [{"name": "assets", "image": "busybox:1.36"}]
    data["schedule"]["timezone"] = "Europe/Berlin"
    data["images"] = {"connectorUi": "ghcr.io/eclipse-edc/data-dashboard:0.5.0"}
    return data


BASE = _base()


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        steps.append(int(part) if part.isdigit() else part)
    return steps


def _blueprint_guard(path: str) -> Guard:
    steps = _steps(path)
    node: Any = BASE
    for step in steps:
        node = node[step]

    def check(value: str) -> None:
        data = copy.deepcopy(BASE)
        target = data
        for step in steps[:-1]:
            target = target[step]
        target[steps[-1]] = value
        text = yaml.dump(data, Dumper=_Dumper, allow_unicode=False)
        assert yaml.load(text, Loader=_Reader) == data  # the character reaches the loader as it is
        try:
            parse(text, "guarded.yaml")
        except BlueprintError as exc:
            fields = [p.path for p in exc.problems]
            assert path in fields, f"refused, but not naming {path}: {fields}"
            assert all(p.line for p in exc.problems)
            raise Refused(str(exc)) from exc

    return Guard(f"blueprint {path}", node, check)


BLUEPRINT_FIELDS = [
    "name",
    "participants[0].id",
    "participants[0].publicHost",
    "participants[0].cluster.name",
    "participants[0].cluster.resourceGroup",
    "participants[0].cluster.location",
    "participants[0].cluster.subscriptionId",
    "participants[0].vault.name",
    "participants[0].identity.host.domain",
    "participants[0].identity.host.bucket",
    "participants[0].identity.host.accountId",
    "participants[0].identity.host.zoneId",
    "participants[0].identity.host.endpointUrl",
    "participants[0].identity.host.path[0]",
    "participants[0].seedJobs[0].name",
    "participants[0].seedJobs[0].image",
    "participants[1].identity.host.storageAccount",
    "participants[1].identity.host.domain",
    "participants[2].identity.host.bucket",
    "participants[2].identity.host.region",
    "images.connectorUi",
    "schedule.reset",
    "schedule.timezone",
]


# --- the API ------------------------------------------------------------------------------


class _RecordingDataspace:
    """The real default dataspace, recording which ids got as far as a lookup."""

    def __init__(self) -> None:
        self._dataspace = load()
        self.looked_up: list[str] = []

    def participant(self, participant_id: str) -> Any:
        self.looked_up.append(participant_id)
        return self._dataspace.participant(participant_id)


class _Backend:
    """Only what the two handlers below reach: a tainted value must not get this far."""

    def __init__(self) -> None:
        self.dataspace = _RecordingDataspace()
        self.runs_asked: list[str] = []

    async def get_run(self, run_id: str) -> None:
        self.runs_asked.append(run_id)

    async def submit(self, *args: Any) -> Any:
        raise AssertionError("a refused command must not be submitted")


def _get_run(value: str) -> None:
    backend = _Backend()
    answer = asyncio.run(get_run(ApiRequest("GET", "/api/runs/x", route_params={"id": value}), backend))  # type: ignore[arg-type]
    if answer.status == 400 and not backend.runs_asked:
        raise Refused(answer.body["error"])
    assert answer.status == 404 and backend.runs_asked == [value]


def _rotate_keys(value: str) -> None:
    backend = _Backend()
    request = ApiRequest("POST", "/api/dataspace/reset", route_params={"action": "reset"},
                         body=json.dumps({"rotateKeys": [value]}).encode())
    try:
        answer = asyncio.run(post_command(request, backend))  # type: ignore[arg-type]
    except AssertionError:
        answer = None  # submitted: accepted
    if answer is not None and answer.status in (400, 404) and not backend.dataspace.looked_up:
        raise Refused(answer.body["error"])
    assert backend.dataspace.looked_up == [value]


def _command(value: str) -> None:
    Command(id="c0ffee", run_id=value, action="reset", dataspace="mvd", source="api", requested_at=datetime.now(UTC))


def _poison_id(value: str) -> None:
    if _message_id(json.dumps({"id": value})) != value:
        raise Refused("not used as the command id")


SECRET = "a-webhook-secret-of-32-characters"
BODY = b'{"action": "reset"}'
TIMESTAMP = 1700000000  # with a tolerance wide enough that only the format can refuse one


def _webhook(header: str) -> Callable[[str], None]:
    @_refused_by(MvdError)
    def check(value: str) -> None:
        delivery = value if header == webhooks.DELIVERY_HEADER else "d-1"
        headers = webhooks.signed_headers(SECRET, BODY, delivery, TIMESTAMP)
        if header == webhooks.TIMESTAMP_HEADER:
            # the signature is over the value as sent, so only the format check can refuse it
            headers[header] = value
            headers[webhooks.SIGNATURE_HEADER] = webhooks.sign(SECRET, value, delivery, BODY)
        elif header == webhooks.SIGNATURE_HEADER:
            headers[header] = value
        webhooks.verify("github", headers, BODY, {"github": SecretStr(SECRET)}, 10**11)

    return check


@_refused_by(MvdError)
def _webhook_source(value: str) -> None:
    # configured under the very same name, so that only the pattern can refuse it
    webhooks.verify(value, webhooks.signed_headers(SECRET, BODY, "d-1"), BODY, {value: SecretStr(SECRET)}, 60)


def _signature_of_body() -> str:
    return webhooks.signed_headers(SECRET, BODY, "d-1", TIMESTAMP)[webhooks.SIGNATURE_HEADER]


# --- Kubernetes (the simulated API server's store) -----------------------------------------

_STORE: list[ClusterStore] = []
CONFIGMAPS = RESOURCES[("", "v1", "configmaps")]
NAMESPACES = RESOURCES[("", "v1", "namespaces")]


@pytest.fixture(scope="module", autouse=True)
def _cluster_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = ClusterStore(Path(tmp_path_factory.mktemp("sim")) / "simulated.db", ready_delay=0)
    store.ensure_cluster("c1")
    store.write("c1", NAMESPACES, "", "alice", "create", body={"metadata": {"name": "alice"}})
    _STORE.append(store)
    yield
    _STORE.clear()


def _k8s_name(value: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": value, "namespace": "alice"}, "data": {}}
    try:
        _STORE[0].write("c1", CONFIGMAPS, "alice", value, "apply", body=body, manager="test")
    except ApiError as exc:
        assert exc.code == 422, exc.message
        raise Refused(exc.message) from exc


# --- every guard ------------------------------------------------------------------------------

GUARDS = [
    *(_blueprint_guard(path) for path in BLUEPRINT_FIELDS),
    Guard("run id (check_run_id)", "mvd-mvd-20240101T000000-abcdef", _refused_by(MvdError)(check_run_id)),
    Guard("run id (queue command)", "mvd-mvd-20240101T000000-abcdef", _refused_by(ValidationError)(_command)),
    Guard("run id (GET /api/runs/{id})", "mvd-mvd-20240101T000000-abcdef", _get_run),
    Guard("participant id (rotateKeys)", "galactic-turbine", _rotate_keys),
    Guard("command id (poison message)", "c0ffee0123456789", _poison_id),
    Guard("webhook source", "github", _webhook_source),
    Guard("X-MVD-Delivery", "delivery-1", _webhook(webhooks.DELIVERY_HEADER)),
    Guard("X-MVD-Timestamp", "1700000000", _webhook(webhooks.TIMESTAMP_HEADER)),
    Guard("X-MVD-Signature", _signature_of_body(), _webhook(webhooks.SIGNATURE_HEADER)),
    Guard("secret name", "mvd-signing-key", _refused_by(MvdError)(check_name)),
    Guard("did:web host", "example.com", _refused_by(InvalidDid)(lambda v: did_to_url(f"did:web:{quote(v, safe='.')}"))),
    Guard("did:web path segment (percent-encoded)", "user",
          _refused_by(InvalidDid)(lambda v: did_to_url(f"did:web:example.com:{quote(v, safe='')}"))),
    Guard("did:web path segment (as is)", "user", _refused_by(InvalidDid)(lambda v: did_to_url(f"did:web:example.com:{v}"))),
    Guard("Kubernetes object name", "web", _k8s_name),
    Guard("label selector", "app=web", _refused_by(ApiError)(label_matcher)),
    Guard("label selector (set)", "tier in (a,b)", _refused_by(ApiError)(label_matcher)),
    Guard("label selector (exists)", "app", _refused_by(ApiError)(label_matcher)),
    Guard("field selector", "metadata.name=web", _refused_by(ApiError)(field_matcher)),
]


def taint(value: str, char: str, where: str) -> str:
    if where == "before":
        return char + value
    if where == "after":
        return value + char
    middle = len(value) // 2
    return value[:middle] + char + value[middle:]


@pytest.mark.parametrize("guard", GUARDS, ids=str)
def test_a_valid_value_passes(guard: Guard) -> None:
    guard.check(guard.good)


@pytest.mark.parametrize("guard", GUARDS, ids=str)
def test_each_listed_character_in_each_position_is_refused(guard: Guard) -> None:
    accepted = []
    for char in LISTED:
        for where in ("before", "after", "inside"):
            value = taint(guard.good, char, where)
            try:
                guard.check(value)
            except Refused:
                continue
            accepted.append(value)
    assert accepted == []


@pytest.mark.parametrize("guard", GUARDS, ids=str)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(char=hidden_char, where=st.sampled_from(["before", "after", "inside"]), position=st.integers(0, 200))
def test_any_control_or_separator_character_anywhere_is_refused(guard: Guard, char: str, where: str, position: int) -> None:
    value = guard.good
    if where == "inside":
        i = 1 + position % max(1, len(value) - 1)
        tainted = value[:i] + char + value[i:]
    else:
        tainted = taint(value, char, where)
    with pytest.raises(Refused):
        guard.check(tainted)
