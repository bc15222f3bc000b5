"""The one long-lived thread every runtime process is forked from.

A runtime must not outlive the ``mvd`` process that runs it: a SIGKILLed ``mvd serve`` cannot
stop anything, so the kernel does it. Each child asks for ``prctl(PR_SET_PDEATHSIG, SIGKILL)``
(``pdeathsig.py``, exec'd into the runtime's program). The kernel sends that signal when the
*thread* that forked the child exits, not when the process does; the workflow's activities
run on worker threads that come and go, so no activity forks: they hand the fork to this
thread, which lives as long as its process (a daemon thread; it ends only with the process).

Each child also gets its own session and process group (``start_new_session``), so a stop
signals the runtime and anything it started, and a Ctrl-C at the terminal reaches only
``mvd``, whose shutdown then stops the runtimes in order.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from mvd_core.platforms.processes.records import proc_stat

WRAPPER = Path(__file__).with_name("pdeathsig.py")


@dataclass
class _Request:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    log_fd: int
    result: Future[tuple[int, int]] = field(default_factory=Future)


class Launcher:
    """Forks runtimes on its own thread and keeps their ``Popen`` objects, so the runtimes of
    this process are reaped and their exit codes known (an adopted runtime has neither)."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._children: dict[tuple[int, int], subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mvd-runtime-launcher", daemon=True)
        self._thread.start()

    def spawn(self, argv: list[str], *, cwd: Path, env: dict[str, str], log_fd: int) -> tuple[int, int]:
        """Start ``argv`` (an absolute program path first) with stdout and stderr to ``log_fd``;
        returns its pid and start time (clock ticks since boot)."""
        request = _Request(argv=argv, cwd=cwd, env=env, log_fd=log_fd)
        self._requests.put(request)
        return request.result.result()

    def _run(self) -> None:
        while True:
            request = self._requests.get()
            try:
                request.result.set_result(self._fork(request))
            except BaseException as exc:  # noqa: BLE001 - this thread must never end: its children would die with it
                request.result.set_exception(exc)

    def _fork(self, request: _Request) -> tuple[int, int]:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(WRAPPER), str(os.getpid()), *request.argv],
            stdin=subprocess.DEVNULL,
            stdout=request.log_fd,
            stderr=subprocess.STDOUT,
            cwd=request.cwd,
            env=request.env,
            start_new_session=True,
            close_fds=True,
        )
        stat = proc_stat(proc.pid)  # not reaped yet, so /proc/<pid> exists even if it already exited
        assert stat is not None
        with self._lock:
            self._children[(proc.pid, stat.start_ticks)] = proc
        return proc.pid, stat.start_ticks

    def child(self, pid: int, start_ticks: int) -> subprocess.Popen[bytes] | None:
        """The ``Popen`` of a runtime this process started, or None for one it did not."""
        with self._lock:
            return self._children.get((pid, start_ticks))

    def forget(self, pid: int, start_ticks: int) -> None:
        with self._lock:
            self._children.pop((pid, start_ticks), None)


_launcher: Launcher | None = None
_launcher_pid = 0
_launcher_lock = threading.Lock()


def launcher() -> Launcher:
    """This process's launcher (a forked child of ``mvd`` gets its own: threads do not fork)."""
    global _launcher, _launcher_pid
    with _launcher_lock:
        if _launcher is None or _launcher_pid != os.getpid():
            _launcher, _launcher_pid = Launcher(), os.getpid()
        return _launcher


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"
