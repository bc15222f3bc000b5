"""No input crashes the loader with anything but a BlueprintError."""

from __future__ import annotations

from importlib import resources

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvd_core.dataspace import BlueprintError, parse

DEFAULT = resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8")

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=20,
)


def _parses_or_explains(text: str) -> None:
    try:
        parse(text, "fuzz.yaml")
    except BlueprintError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_text(text):
    _parses_or_explains(text)


@settings(max_examples=200, deadline=None)
@given(json_like)
def test_arbitrary_yaml_structures(data):
    _parses_or_explains(yaml.safe_dump(data))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_seed(data):
    lines = DEFAULT.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    lines[i] = data.draw(st.text(max_size=40))
    _parses_or_explains("\n".join(lines))


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["[", "{", "- "]), st.integers(100, 3000))
def test_deep_nesting(opener, depth):
    _parses_or_explains(opener * depth)
