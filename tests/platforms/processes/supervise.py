"""An ``mvd``-like process for the orphan and adoption tests: runs a ProcessPlatform over the
stand-in runtime, applies the specs of the JSON file in argv[1] from a short-lived worker
thread (as an activity would), prints one JSON line ``{name: pid}`` once all are ready, then
waits for its stdin to close (or to be killed)."""

import json
import os
import sys
import threading
from pathlib import Path

from mvd_core.platforms.processes import ProcessPlatform
from mvd_core.runtimes.spec import RuntimeSpec
from tests.platforms.processes.conftest import settle, standin_command


def main() -> None:
    specs = [RuntimeSpec.model_validate(s) for s in json.loads(Path(sys.argv[1]).read_text())]
    platform = ProcessPlatform(Path(os.environ["MVD_HOME"]), command=standin_command)
    worker = threading.Thread(target=platform.apply, args=(specs,))
    worker.start()
    worker.join()
    states = settle(platform, specs[0].participant)
    print(json.dumps({name: state.pid for name, state in states.items()}), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
