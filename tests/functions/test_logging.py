"""MVD_LOG_LEVEL and MVD_LOG_FORMAT take effect on the Functions host: the app configures
logging when it is indexed, and the records reach the worker's handler (on the root logger,
which forwards them to the host and Application Insights) at that level, as JSON lines that
carry the run id, participant and step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Stands in for the worker: its handler is on the root logger and forwards only the message.
CODE = """
import json, logging
records = []
class Worker(logging.Handler):
    def emit(self, record):
        records.append((record.levelname, record.getMessage()))
logging.getLogger().addHandler(Worker())
import function_app
from mvd_core.logs import get_logger, log_context
with log_context(run_id="r-20261129-000000-abcdef01", participant="galactic-turbine", step="did"):
    get_logger("mvd_core.workflow.activities").debug("publishing the DID document")
    get_logger("mvd_core.workflow.activities").info("published")
print(json.dumps(records))
"""


def _run(env: dict[str, str]) -> list[tuple[str, str]]:
    done = subprocess.run([sys.executable, "-c", CODE], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [tuple(r) for r in json.loads(done.stdout)]


def test_json_lines_at_the_configured_level_with_run_participant_and_step():
    records = _run({"MVD_LOG_LEVEL": "DEBUG", "MVD_LOG_FORMAT": "json"})
    mine = [(level, json.loads(message)) for level, message in records if message.startswith("{")]
    assert [(level, line["msg"]) for level, line in mine] == [
        ("DEBUG", "publishing the DID document"), ("INFO", "published")]
    for _, line in mine:
        assert (line["run_id"], line["participant"], line["step"]) == (
            "r-20261129-000000-abcdef01", "galactic-turbine", "did")
        assert line["logger"] == "mvd.workflow.activities"


def test_the_level_filters():
    records = _run({"MVD_LOG_LEVEL": "WARNING"})
    assert not [m for _, m in records if "publish" in m]
    records = _run({"MVD_LOG_LEVEL": "INFO", "MVD_LOG_FORMAT": "console"})
    assert ("INFO", "published") in records and not [m for _, m in records if "publishing" in m]


def test_a_bad_log_setting_is_named_and_the_app_still_indexes():
    records = _run({"MVD_LOG_FORMAT": "xml"})
    assert any(level == "WARNING" and "MVD_LOG_FORMAT" in m for level, m in records), records
    assert ("INFO", "published") in records
