"""ProcessPlatform with real child processes (the stand-in runtime): apply, restart, stop,
prune, start order, failures, and what it writes to the state directory."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil
import pytest

from mvd_core.errors import MvdError
from mvd_core.platforms.processes import JavaCommand, ProcessPlatform
from mvd_core.platforms.processes.records import read_records, write_records
from mvd_core.platforms.processes.supervisor import find_java, properties
from tests.fixtures.polling import until
from tests.platforms.processes.conftest import gone, home, make_spec, settle, standin_command

# settings that need escaping in a properties file
TRICKY = {
    "edc.x.url": "http://localhost:1/a b?c=d#e",
    " lead": "  two spaces",
    "edc.x.umlaut": "Grüße ☃ 𝄞",
    "edc.x:colon=eq": "tab\there\nnewline",
    "edc.x.backslash": "C:\\path\\",
    "#hash": "!bang",
}


def pids(platform: ProcessPlatform, participant: str = "alpha") -> dict[str, int | None]:
    return {s.name: s.pid for s in platform.status(participant)}


def test_apply_starts_each_runtime_once_and_a_second_apply_starts_nothing(platform):
    specs = [make_spec(platform, "connector"), make_spec(platform, "identityhub")]

    first = platform.apply(specs)
    assert sorted(first.started) == ["connector", "identityhub"]
    states = settle(platform)
    before = pids(platform)
    assert all(psutil.pid_exists(pid) for pid in before.values())

    second = platform.apply(specs)
    assert second.started == [] and second.restarted == []
    assert sorted(second.unchanged) == ["connector", "identityhub"]
    assert pids(platform) == before
    # each runtime answers on its own recorded port
    for spec in specs:
        assert states[spec.name].ports == {"default": spec.apis["default"].port}
        assert httpx.get(spec.readiness_url).json()["isSystemHealthy"] is True


def test_apply_while_the_first_start_is_still_starting_starts_nothing(platform):
    specs = [make_spec(platform, "connector")]
    platform.apply(specs)
    assert platform.apply(specs).started == []
    settle(platform)


def test_a_changed_spec_restarts_only_that_runtime(platform):
    connector, hub = make_spec(platform, "connector"), make_spec(platform, "identityhub")
    platform.apply([connector, hub])
    settle(platform)
    before = pids(platform)

    changed = connector.model_copy(update={"settings": {"edc.component.id": "connector-2"}})
    result = platform.apply([changed, hub])

    assert result.restarted == ["connector"] and result.started == ["connector"]
    assert result.unchanged == ["identityhub"]
    states = settle(platform)
    assert states["identityhub"].pid == before["identityhub"]
    assert states["connector"].pid != before["connector"]
    assert gone(before["connector"])
    settings = httpx.get(changed.readiness_url).json()["settings"]
    assert settings["edc.component.id"] == "connector-2"


def test_restart_gives_new_processes_on_the_same_ports(platform):
    specs = [make_spec(platform, "connector"), make_spec(platform, "identityhub")]
    platform.apply(specs)
    before = settle(platform)

    result = platform.restart("alpha")

    assert sorted(result.started) == ["connector", "identityhub"]
    after = settle(platform)
    for name in before:
        assert after[name].pid != before[name].pid
        assert not psutil.pid_exists(before[name].pid)  # stopped and reaped
        assert after[name].ports == before[name].ports


def test_stop_leaves_no_process_and_shows_stopped(platform):
    spec = make_spec(platform, "connector", settings={"standin.child": "true"})
    platform.apply([spec])
    settle(platform)
    pid = pids(platform)["connector"]
    group = [p.pid for p in psutil.process_iter() if _pgid(p.pid) == pid]
    assert len(group) == 2  # the runtime and the grandchild it started

    assert platform.stop("alpha") == ["connector"]

    for member in group:
        assert not psutil.pid_exists(member) or gone(member)
    assert not psutil.pid_exists(pid)
    [state] = platform.status("alpha")
    assert state.state == "stopped" and state.pid is None
    assert platform.stop("alpha") == []
    # a later apply starts it again
    assert platform.apply([spec]).started == ["connector"]
    settle(platform)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_stop_sigkills_a_runtime_that_ignores_sigterm(platform):
    platform.stop_grace = 0.5
    platform.apply([make_spec(platform, "connector", settings={"standin.ignore-sigterm": "true"})])
    pid = settle(platform)["connector"].pid

    platform.stop("alpha")

    assert not psutil.pid_exists(pid)
    log = (home() / "logs" / "alpha" / "connector.log").read_text()
    assert "ignoring SIGTERM" in log


def test_replicas_are_processes_and_prune_stops_what_is_no_longer_declared(platform):
    specs = [make_spec(platform, "connector")] + [make_spec(platform, f"dataplane-{i}") for i in range(3)]
    platform.apply(specs)
    states = settle(platform)
    assert len({s.pid for s in states.values()}) == 4
    assert len({s.ports["default"] for s in states.values()}) == 4

    pruned = platform.prune("alpha", keep=["connector", "dataplane-0"])

    assert pruned == ["dataplane-1", "dataplane-2"]
    assert not psutil.pid_exists(states["dataplane-1"].pid) and not psutil.pid_exists(states["dataplane-2"].pid)
    left = {s.name: s for s in platform.status("alpha")}
    assert sorted(left) == ["connector", "dataplane-0"]
    assert left["connector"].pid == states["connector"].pid
    assert not (home() / "runtimes" / "alpha" / "dataplane-1.properties").exists()
    assert platform.prune("alpha", keep=["connector", "dataplane-0"]) == []


def test_a_runtime_that_dies_shows_as_failed_with_its_last_log_lines(platform):
    spec = make_spec(platform, "connector")
    platform.apply([spec])
    settle(platform)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://localhost:{spec.apis['default'].port}/die")

    states = settle(platform, want="failed")

    state = states["connector"]
    assert state.detail == "connector exited with code 7"
    assert state.log_tail[-1] == "dying on request"
    assert state.log == "$MVD_HOME/logs/alpha/connector.log"
    # not restarted behind the caller's back; the next apply starts it
    assert platform.advance("alpha").started == []
    assert platform.apply([spec]).started == ["connector"]
    assert settle(platform)["connector"].log_tail == []


def test_a_runtime_that_cannot_start_shows_as_failed_with_only_this_starts_lines(platform):
    good = make_spec(platform, "connector")
    platform.apply([good])
    settle(platform)
    platform.stop("alpha")
    bad = good.model_copy(update={"settings": {"standin.fail": "no vault at /nowhere"}})

    platform.apply([bad])
    state = settle(platform, want="failed")["connector"]

    assert state.detail == "connector exited with code 3"
    assert state.log_tail[-2:] == ["SEVERE: booting failed", "reason: no vault at /nowhere"]
    assert not any(line.startswith("listening on") for line in state.log_tail)  # the earlier start's lines


def test_dependent_runtimes_wait_until_theirs_are_ready(platform, tmp_path):
    release = tmp_path / "connector-may-be-ready"
    connector = make_spec(platform, "connector", settings={"standin.ready-when": str(release)})
    dataplane = make_spec(platform, "dataplane-0", start_after=["connector"])

    first = platform.apply([connector, dataplane])

    assert first.started == ["connector"] and first.waiting == ["dataplane-0"]
    until(
        "connector answering",
        lambda: platform.status("alpha")[0].detail == "readiness endpoint answers 503",
        timeout=30,
    )
    assert platform.advance("alpha").waiting == ["dataplane-0"]
    states = {s.name: s for s in platform.status("alpha")}
    assert states["connector"].state == "starting"
    assert states["dataplane-0"].state == "starting"
    assert states["dataplane-0"].detail == "waiting for connector to be ready"
    assert states["dataplane-0"].pid is None
    release.touch()
    settle(platform)  # advance starts the data plane once the connector answers
    after_restart = platform.restart("alpha")
    assert after_restart.started == ["connector"] and after_restart.waiting == ["dataplane-0"]
    settle(platform)


def test_no_readiness_probe_reaches_a_runtime_before_its_log_says_it_is_ready(platform, tmp_path):
    """EDC 0.15.1's Jetty can leave a path answering 404 for good when a request lands while it
    maps the context: a runtime polled from its start sometimes never showed ready."""
    release = tmp_path / "log-ready"
    connector = make_spec(platform, "connector", settings={"standin.log-ready-when": str(release)})
    dataplane = make_spec(platform, "dataplane-0", start_after=["connector"])
    platform.apply([connector, dataplane])
    log = home() / "logs" / "alpha" / "connector.log"
    until("the stand-in listening", lambda: "listening on" in log.read_text(), timeout=30)

    for _ in range(3):
        assert platform.advance("alpha").waiting == ["dataplane-0"]
        states = {s.name: s for s in platform.status("alpha")}
        assert (states["connector"].state, states["connector"].detail) == (
            "starting",
            "starting (its log does not say ready yet)",
        )
    release.touch()
    settle(platform)
    assert "probed before ready" not in log.read_text()


def test_a_dependency_nobody_runs_is_a_failure(platform):
    platform.apply([make_spec(platform, "dataplane-0", start_after=["connector"])])
    [state] = platform.status("alpha")
    assert state.state == "failed"
    assert state.detail == "dataplane-0 starts after connector, which this participant does not run"


def test_a_port_in_use_shows_as_failed_naming_it(platform):
    spec = make_spec(platform, "connector")
    port = spec.apis["default"].port
    with socket.create_server(("127.0.0.1", port)):
        result = platform.apply([spec])
        [state] = platform.status("alpha")
    assert result.failed == ["connector"]
    assert state.state == "failed"
    assert state.detail == f"connector cannot start: port {port} (default) is in use by another process"
    assert platform.apply([spec]).started == ["connector"]
    settle(platform)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("edc.vault.private", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"),
        ("edc.iam.sts.oauth.client.secret", "s3cr3t-value"),
        ("edc.api.auth.key.password", "s3cr3t-value"),
    ],
)
def test_a_secret_in_the_settings_is_refused_before_anything_changes(platform, key, value):
    spec = make_spec(platform, "connector", settings={key: value, "edc.iam.sts.oauth.client.secret.alias": "sts"})

    with pytest.raises(MvdError) as refused:
        platform.apply([spec])

    assert str(refused.value) == (
        f"runtime 'connector': setting {key!r} holds a secret; keep it in the vault "
        "and set its alias instead (settings files are not secret stores)"
    )
    assert "s3cr3t" not in str(refused.value) and "MHcCAQEE" not in str(refused.value)
    assert platform.status("alpha") == []
    assert not (home() / "runtimes" / "alpha" / "connector.properties").exists()


def test_state_files_are_private_and_settings_reach_the_runtime_verbatim(platform, monkeypatch):
    monkeypatch.setenv("MVD_API_TOKEN", "token-that-must-not-leak-0123456789")
    spec = make_spec(platform, "connector", settings=TRICKY)
    platform.apply([spec])
    settle(platform)

    echoed = httpx.get(spec.readiness_url).json()["settings"]
    assert {k: echoed[k] for k in TRICKY} == TRICKY
    assert echoed["web.http.port"] == str(spec.apis["default"].port) and echoed["web.http.path"] == "/api"
    base = home()
    for path in (
        base / "runtimes" / "alpha" / "connector.properties",
        base / "runtimes" / "alpha" / "runtimes.json",
        base / "runtimes" / "alpha" / "ports.json",
        base / "logs" / "alpha" / "connector.log",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (base / "runtimes", base / "runtimes" / "alpha", base / "logs", base / "logs" / "alpha"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    log = (base / "logs" / "alpha" / "connector.log").read_text()
    env_line = next(line for line in log.splitlines() if line.startswith("env: "))
    assert "MVD_API_TOKEN" not in env_line and "LANG" in env_line
    cmdline = psutil.Process(pids(platform)["connector"]).cmdline()
    assert cmdline == [
        sys.executable,
        str(standin_command(spec, base)[1]),
        str(base / "runtimes" / "alpha" / "connector.properties"),
    ]


def test_java_reads_the_settings_file_as_written(platform, tmp_path):
    """The properties escaping against java.util.Properties itself."""
    spec = make_spec(platform, "connector", settings=TRICKY)
    file = tmp_path / "s.properties"
    file.write_text(properties(spec), encoding="ascii")
    source = tmp_path / "Dump.java"
    source.write_text(
        "import java.io.*; import java.util.*;\n"
        "public class Dump { public static void main(String[] a) throws Exception {\n"
        "  Properties p = new Properties(); try (InputStream in = new FileInputStream(a[0])) { p.load(in); }\n"
        '  PrintStream out = new PrintStream(System.out, true, "UTF-8");\n'
        '  for (String k : new TreeSet<>(p.stringPropertyNames())) out.print(k + "\\u0000" + p.getProperty(k) + "\\u0000");\n'
        "} }\n"
    )
    out = subprocess.run([find_java(), str(source), str(file)], capture_output=True, check=True).stdout.decode()
    items = out.split("\0")[:-1]
    loaded = dict(zip(items[::2], items[1::2], strict=True))
    assert {k: loaded[k] for k in TRICKY} == TRICKY


def test_runtimes_started_from_a_short_lived_thread_outlive_it(platform):
    """PR_SET_PDEATHSIG fires when the forking *thread* exits: activities run on worker
    threads, so the fork must happen on the launcher thread, not theirs."""
    spec = make_spec(platform, "connector")
    thread_ids: list[int] = []
    may_end = threading.Event()

    def activity() -> None:
        platform.apply([spec])
        thread_ids.append(threading.get_native_id())
        may_end.wait()  # until the runtime has armed its death signal (it answers by then)

    worker = threading.Thread(target=activity)
    worker.start()
    pid = settle(platform)["connector"].pid
    may_end.set()
    worker.join()
    # the kernel sends the death signal before it drops the exited thread from /proc
    until("the worker thread gone", lambda: not Path(f"/proc/self/task/{thread_ids[0]}").exists(), timeout=30)

    [state] = platform.status("alpha")  # one more HTTP answer: a SIGKILLed runtime could not give it
    assert (state.state, state.pid) == ("ready", pid)
    assert psutil.Process(pid).ppid() == os.getpid()


def test_a_recorded_pid_that_now_names_another_process_is_neither_adopted_nor_signalled(platform):
    spec = make_spec(platform, "connector")
    platform.apply([spec])
    settle(platform)
    platform.stop("alpha")
    stranger = subprocess.Popen(["sleep", "600"])
    try:
        records = read_records(home(), "alpha")
        record = records["connector"]
        record.desired, record.pid, record.start_ticks = "running", stranger.pid, 12345  # an older process's start
        write_records(home(), "alpha", records)

        [state] = platform.status("alpha")
        assert state.state == "failed" and state.detail == "connector is no longer running"
        assert platform.apply([spec]).started == ["connector"]
        platform.restart("alpha")
        platform.stop("alpha")
        assert stranger.poll() is None  # never signalled
    finally:
        stranger.kill()
        stranger.wait()


def test_apply_refuses_mixed_participants_duplicate_and_unsafe_names(platform):
    a, b = make_spec(platform, "connector", "alpha"), make_spec(platform, "connector", "beta")
    with pytest.raises(MvdError, match=r"exactly one participant, got \['alpha', 'beta'\]"):
        platform.apply([a, b])
    with pytest.raises(MvdError, match="runtime names must be unique within a participant: connector"):
        platform.apply([a, a])
    with pytest.raises(MvdError, match=r"runtime name '\.\./x' is not a DNS label"):
        platform.apply([a.model_copy(update={"name": "../x"})])
    with pytest.raises(MvdError, match="participant 'Alpha/..' is not a DNS label"):
        platform.status("Alpha/..")
    assert not (home() / "runtimes").exists() or platform.participants() == []


def test_missing_java_is_one_line_naming_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java there
    monkeypatch.setenv("PATH", str(tmp_path))
    platform = ProcessPlatform(home(), command=JavaCommand({"connector": tmp_path / "cp.args"}))

    with pytest.raises(MvdError) as missing:
        platform.apply([make_spec(platform, "connector")])

    assert str(missing.value) == (
        "java not found: set JAVA_HOME to a JDK 17+ or put java on PATH "
        "(Debian: apt-get install openjdk-17-jdk-headless)"
    )
    assert platform.status("alpha") == []


def test_a_relative_state_directory_reaches_the_runtimes_as_absolute_paths(tmp_path, monkeypatch):
    """`make run` uses the default MVD_HOME `.mvd`; a runtime starts in its own directory, so a
    relative settings path would name nothing there (every EDC runtime failed to boot)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MVD_HOME", "relative-home")
    platform = ProcessPlatform(Path("relative-home"), command=standin_command, stop_grace=5)
    try:
        spec = make_spec(platform, "connector")
        platform.apply([spec])
        assert settle(platform)["connector"].state == "ready"
        config = psutil.Process(pids(platform)["connector"]).cmdline()[-1]
        assert config == str(tmp_path / "relative-home" / "runtimes" / "alpha" / "connector.properties")
    finally:
        platform.stop("alpha")
