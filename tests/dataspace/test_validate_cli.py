"""`mvd validate` as an operator runs it (a real subprocess): what used to validate and then
fail at `mvd serve` or at the first resolve is one line per problem, with field and line."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

DEFAULT = resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8")


def validate(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "dataspace.yaml"
    path.write_text(text, "utf-8")
    env = {**os.environ, "MVD_HOME": str(tmp_path / "home"), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "mvd_core", "validate", str(path)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def line_of(text: str, needle: str, after: int = 0) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if i > after and needle in line)


def test_every_problem_of_a_blueprint_that_cannot_work_is_named_with_field_and_line(tmp_path):
    text = (
        DEFAULT.replace('reset: "0 0 0 * * *"', 'reset: "a b c d e f"')
        .replace("timezone: UTC", "timezone: Mars/Olympus_Mons")
        .replace("dataPlane: {replicas: 3}", 'dataPlane: {replicas: "3"}', 1)
        .replace("domain: did.galactic-turbine.example", "domain: 10.0.0.1")
        .replace("kind: azure-blob\n        storageAccount: mvdspaceenforcerdid\n"
                 "        domain: mvdspaceenforcerdid.z6.web.core.windows.net",
                 "kind: s3\n        bucket: interstellar-assembly-did\n        region: eu-central-1")
    )
    res = validate(tmp_path, text)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    expected = {
        "schedule.reset": ("not a valid NCRONTAB", line_of(text, "reset:")),
        "schedule.timezone": ("unknown time zone", line_of(text, "timezone:")),
        "participants[0].runtimes.dataPlane.replicas": ("valid integer", line_of(text, 'replicas: "3"')),
        "participants[0].identity.host.domain": ("IP literal", line_of(text, "10.0.0.1")),
        "participants[2].identity.host": ("same DID as participants[1] (space-enforcer)",
                                          line_of(text, "host:", after=line_of(text, "id: interstellar-assembly"))),
    }
    problems = [line.strip() for line in res.stderr.splitlines() if line.strip().startswith("- ")]
    assert len(problems) == len(expected), res.stderr
    for field, (message, line) in expected.items():
        assert any(f"- line {line}: {field}: " in p and message in p for p in problems), (field, line, res.stderr)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("displayName: Galactic Turbine Industries", "displayName: Galactic\x00Turbine", "participants[0].displayName",
         "U+0000 (NUL)"),
        ("dataPlane: {replicas: 3}", "dataPlane: {replicas: " + "7" * 5000 + "}",
         "participants[0].runtimes.dataPlane.replicas", "5000 digits"),
        ("dataPlane: {replicas: 3}", "dataPlane: {replicas: " + "[" * 2000 + "]" * 2000 + "}",
         "participants[0].runtimes.dataPlane.replicas", "nested more than"),
    ],
    ids=["nul", "5000-digits", "deep"],
)
def test_input_yaml_cannot_hold_is_named_with_field_and_line(tmp_path, old, new, field, message):
    text = DEFAULT.replace(old, new, 1)
    res = validate(tmp_path, text)
    assert res.returncode == 1 and "Traceback" not in res.stdout + res.stderr
    [problem] = [line.strip() for line in res.stderr.splitlines() if line.strip().startswith("- ")]
    assert problem.startswith(f"- line {line_of(text, new[:20])}: {field}") and message in problem
    assert len(problem) < 400 and "\x00" not in problem
