"""The README's curl + openssl webhook example, run as written against `mvd serve` (only the
secret and the URL are this test's): it starts a run, the same delivery again is refused,
and the captured delivery under another id does not verify."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "webhook-secret-1"  # the "ci" source of the plane fixture


def readme_example() -> str:
    section = README.read_text("utf-8").split("### Webhooks", 1)[1]
    [block] = [b for b in re.findall(r"```sh\n(.*?)```", section, re.DOTALL) if "openssl dgst" in b]
    return block


def _run(script: str) -> dict:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return httpx.Response(200, content=done.stdout).json()


def test_the_readme_signing_example_works_against_mvd_serve(plane):
    script = readme_example()
    script = re.sub(r"^secret=.*$", f"secret='{SECRET}'", script, count=1, flags=re.MULTILINE)
    script = re.sub(r"^url=.*$", f"url={plane.url}/api/webhooks/ci", script, count=1, flags=re.MULTILINE)
    assert f"secret='{SECRET}'" in script and f"url={plane.url}" in script
    accepted = _run(script)
    assert accepted["action"] == "reset" and accepted["coalesced"] is False, accepted
    run = plane.wait(accepted["runId"])
    assert run["source"] == "webhook"

    fixed = re.sub(r"^delivery=.*$", "delivery=readme-delivery-1", script, count=1, flags=re.MULTILINE)
    second = _run(fixed)
    plane.wait(second["runId"])
    assert "already received" in _run(fixed)["error"]
    renamed = fixed.replace('-H "X-MVD-Delivery: $delivery"', '-H "X-MVD-Delivery: readme-delivery-2"')
    assert renamed != fixed
    assert "signature does not match" in _run(renamed)["error"]
    assert len(plane.host.registry.recent()) == 2
