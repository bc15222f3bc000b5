"""An offline stand-in for `terraform validate` (which needs the providers): every
reference resolves to something declared, and the module call matches the module."""

from __future__ import annotations

import re

import pytest

from tests.infra.terraform import INFRA, MODULE, load

RESOURCE_REF = re.compile(r"\b((?:azurerm|azapi)_[a-z_]+)\.([a-z_][a-z0-9_]*)\b")


def source(directory) -> str:
    # Comments may mention names freely; strip them before looking for references.
    text = "\n".join(p.read_text() for p in sorted(directory.glob("*.tf")))
    return re.sub(r"(?m)^\s*#.*$", "", text)


@pytest.mark.parametrize("directory", [INFRA, MODULE], ids=["root", "participants"])
def test_variables_and_locals_referenced_are_declared_and_used(directory):
    config, text = load(directory), source(directory)
    used_vars = set(re.findall(r"\bvar\.([a-z_][a-z0-9_]*)", text))
    assert used_vars <= set(config.variables), f"undeclared: {used_vars - set(config.variables)}"
    assert set(config.variables) <= used_vars, f"unused variables: {set(config.variables) - used_vars}"
    used_locals = set(re.findall(r"\blocal\.([a-z_][a-z0-9_]*)", text))
    assert used_locals <= set(config.locals), f"undeclared locals: {used_locals - set(config.locals)}"


@pytest.mark.parametrize("directory", [INFRA, MODULE], ids=["root", "participants"])
def test_resource_references_resolve(directory):
    config, text = load(directory), source(directory)
    declared = {(rtype, name) for rtype in config.resource_types() for name in config.resources(rtype)}
    declared |= {(dtype, name) for block in config.blocks("data") for dtype, body in block.items() for name in body}
    referenced = {m.groups() for m in RESOURCE_REF.finditer(text)}
    assert referenced, "no resource references found: the pattern is broken"
    missing = sorted(referenced - declared)
    assert not missing, f"references to undeclared resources: {missing}"


def test_module_call_matches_the_module():
    root, module = load(INFRA), load(MODULE)
    call = next(b["participants"] for b in root.blocks("module") if "participants" in b)
    assert call["source"] == "./modules/participants"
    arguments = set(call) - {"source", "count", "for_each", "depends_on", "providers"}
    assert arguments <= set(module.variables), f"unknown module inputs: {arguments - set(module.variables)}"
    required = {name for name, v in module.variables.items() if "default" not in v}
    assert required <= arguments, f"module inputs not given: {required - arguments}"
    used_outputs = set(re.findall(r"module\.participants\[0\]\.([a-z_]+)", source(INFRA)))
    assert used_outputs and used_outputs <= set(module.outputs), used_outputs - set(module.outputs)
