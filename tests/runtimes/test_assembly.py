"""Assembling the EDC runtimes: cached, locked, offline after the first resolve, clear errors."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mvd_core.runtimes import assembly
from mvd_core.runtimes.assembly import (
    MAVEN_SOURCES,
    AssemblyError,
    assemble,
    assembly_dir,
    classpath_of,
    java_command,
)
from mvd_core.runtimes.kinds import EDC_VERSION, RUNTIME_KINDS
from mvd_core.runtimes.spec import ApiEndpoint, RuntimeSpec
from mvd_core.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
MACHINE_PATH = os.environ.get("PATH", "")


@pytest.fixture
def own_cache(tmp_path, monkeypatch) -> Path:
    """An empty MVD_CACHE_DIR: nothing assembled yet (Maven's repository stays the shared one)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MVD_CACHE_DIR", str(cache))
    get_settings.cache_clear()
    return cache


def tools_only(tmp_path: Path, *names: str) -> str:
    """A PATH holding just the named tools (links to the real ones)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in names:
        real = shutil.which(name, path=MACHINE_PATH)
        assert real, f"{name} is needed on this machine for the test"
        (bin_dir / name).symlink_to(os.path.realpath(real))
    return str(bin_dir)


def test_every_kind_has_a_classpath_of_existing_jars_with_our_extensions(edc_runtimes):
    assert set(edc_runtimes) == set(RUNTIME_KINDS)
    for kind, argfile in edc_runtimes.items():
        entries = classpath_of(argfile)
        assert len(entries) > 100 and all(e.is_file() for e in entries), kind
        names = {e.name for e in entries}
        assert f"boot-{EDC_VERSION}.jar" in names
        assert "mvd-file-vault-1.0.0.jar" in names
        assert ("mvd-edr-api-1.0.0.jar" in names) == (kind == "connector"), kind  # the EDR read path
        # the artifacts 0.15.1 declares but Maven Central lacks are excluded
        assert not any(n.startswith(("edr-cache-api", "decentralized-claims-sts-remote-client", "jetty-websocket-1"))
                       for n in names), kind


def test_a_second_assemble_does_no_maven_work(edc_runtimes, tmp_path, monkeypatch):
    log = assembly_dir() / "maven.log"
    before = log.stat().st_mtime_ns
    monkeypatch.setenv("PATH", tools_only(tmp_path))  # no java, no mvn: Maven cannot run
    monkeypatch.delenv("JAVA_HOME", raising=False)
    lines: list[str] = []
    started = time.monotonic()
    again = assemble(progress=lines.append)
    elapsed = time.monotonic() - started
    assert again == edc_runtimes
    assert lines == []
    assert log.stat().st_mtime_ns == before
    assert elapsed < 2.0, f"a cached assembly took {elapsed:.2f} s"


def test_missing_java_or_maven_is_one_line_naming_it(own_cache, tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", tools_only(tmp_path))
    with pytest.raises(AssemblyError) as error:
        assemble()
    message = str(error.value)
    assert "need Java 17+" in message and "no java was found" in message
    assert "apt-get install openjdk-17-jdk-headless maven" in message and "\n" not in message

    monkeypatch.setenv("PATH", tools_only(tmp_path, "java", "javac"))
    with pytest.raises(AssemblyError, match="needs Maven, and no mvn was found on PATH"):
        assemble()
    assert not own_cache.exists() or not any(own_cache.rglob("assembly.json"))


def test_unreachable_maven_central_is_one_line(own_cache, tmp_path, monkeypatch):
    """An empty Maven repository and Maven Central behind a port nobody listens on."""
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    (home / ".m2" / "settings.xml").write_text(
        "<settings><mirrors><mirror><id>nowhere</id><mirrorOf>*</mirrorOf>"
        f"<url>http://127.0.0.1:{closed}/maven2</url></mirror></mirrors></settings>"
    )
    monkeypatch.setenv("MAVEN_OPTS", f"-Duser.home={home}")
    lines: list[str] = []
    with pytest.raises(AssemblyError) as error:
        assemble(progress=lines.append)
    message = str(error.value)
    assert message.startswith(f"cannot reach Maven Central to resolve the EDC {EDC_VERSION} runtimes (")
    assert "maven.log" in message and "\n" not in message
    assert lines[0] == f"resolving EDC {EDC_VERSION} runtimes from Maven Central (first run, ~3 min)…"
    assert not any(own_cache.rglob("assembly.json"))
    assert not (own_cache / "edc-runtimes" / f"resolved-{EDC_VERSION}").exists()


def test_a_maven_that_stalls_silently_is_stopped_at_the_deadline(own_cache, tmp_path, monkeypatch):
    """A stand-in mvn that prints one line and then hangs (as Maven does on a stalled download)."""
    monkeypatch.setenv("PATH", tools_only(tmp_path, "java", "javac"))
    pid_file = tmp_path / "mvn.pid"
    sleep = shutil.which("sleep", path=MACHINE_PATH)
    (tmp_path / "bin" / "mvn").write_text(
        f"#!/bin/sh\necho $$ > {pid_file}\necho '[INFO] Scanning for projects...'\nexec {sleep} 600\n"
    )
    (tmp_path / "bin" / "mvn").chmod(0o755)
    monkeypatch.setattr(assembly, "MAVEN_TIMEOUT", 1.0)
    started = time.monotonic()
    with pytest.raises(AssemblyError, match=r"failed: Maven did not finish within 1 s and was stopped; Maven's output: "):
        assemble()
    assert time.monotonic() - started < 30
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped


def test_two_processes_assembling_at_once_run_maven_once_and_offline(edc_runtimes, own_cache):
    """Both wait for the lock; the first builds (offline: Maven has resolved EDC before), the second
    finds the finished assembly."""
    shared = own_cache / "edc-runtimes"
    shared.mkdir(parents=True)
    (shared / f"resolved-{EDC_VERSION}").touch()
    script = (
        "import json, sys\n"
        "from mvd_core.runtimes.assembly import assemble\n"
        "paths = assemble(progress=lambda line: print(line, flush=True))\n"
        "print(json.dumps({k: str(v) for k, v in paths.items()}))\n"
    )
    env = {**os.environ, "MVD_CACHE_DIR": str(own_cache)}
    with open(shared / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        procs = [
            subprocess.Popen([sys.executable, "-u", "-c", script], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)
        ]
        for proc in procs:  # each reports that it waits for the lock we hold
            assert proc.stdout is not None
            first = proc.stdout.readline().strip()
            assert first == "waiting for another process assembling the EDC runtimes…", first
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out
        outputs.append([first, *out.strip().splitlines()])
    results = [json.loads(lines[-1]) for lines in outputs]
    assert results[0] == results[1]
    maven_runs = [line for line in (assembly_dir() / "maven.log").read_text().splitlines() if line.startswith("$ ")]
    assert len(maven_runs) == 1 and "--offline" in maven_runs[0] and "--strict-checksums" in maven_runs[0]
    [builder] = [lines for lines in outputs if len(lines) > 2]
    assert f"assembling the EDC {EDC_VERSION} runtimes offline from the local Maven repository…" in builder
    for kind in RUNTIME_KINDS:
        assert any(line.startswith(f"  {kind}: ") and line.endswith(" jars") for line in builder)
    assert sum(1 for lines in outputs if len(lines) == 2) == 1  # the other only waited


def test_java_command_names_files_never_settings(edc_runtimes, tmp_path):
    spec = RuntimeSpec(
        participant="p", name="connector", kind="connector", heap_mb=256, start_after=[],
        settings={"web.http.management.auth.key.alias": "management-api-key", "edc.hostname": "localhost"},
        apis={"default": ApiEndpoint(name="default", port=20001, path="/api")},
    )
    config = tmp_path / "connector.properties"
    command = java_command(spec, edc_runtimes["connector"], config)
    assert command[-3:] == [f"@{edc_runtimes['connector']}", f"-Dedc.fs.config={config}",
                            "org.eclipse.edc.boot.system.runtime.BaseRuntime"]
    assert "-Xmx256m" in command
    assert not any("management-api-key" in part or "localhost" in part for part in command)


def test_properties_file_reads_back_in_java(tmp_path):
    """RuntimeSpec.properties() as java.util.Properties parses it (what EDC's file config reads)."""
    settings = {
        "edc.vault.file.path": "/home/a user/vault",
        "edc.catalog.nodes.url": "http://localhost:1/list?a=b&c=d#x",
        "odd key=with:chars": "  leading spaces, a \\ backslash,\na line break, é and 😀",
    }
    spec = RuntimeSpec(participant="p", name="c", kind="connector", heap_mb=64, start_after=[], settings=settings,
                       apis={"default": ApiEndpoint(name="default", port=20001, path="/api")})
    (tmp_path / "c.properties").write_text(spec.properties(), encoding="utf-8")
    (tmp_path / "Dump.java").write_text(
        "import java.io.*; import java.util.*; import java.nio.charset.StandardCharsets;\n"
        "public class Dump { public static void main(String[] a) throws Exception {\n"
        "  var p = new Properties(); try (var in = new FileInputStream(a[0])) { p.load(in); }\n"
        "  var out = new PrintStream(System.out, true, StandardCharsets.UTF_8);\n"
        "  for (var k : new TreeSet<>(p.stringPropertyNames())) {\n"
        "    out.print(Base64.getEncoder().encodeToString(k.getBytes(StandardCharsets.UTF_8)) + ' ');\n"
        "    out.println(Base64.getEncoder().encodeToString(p.getProperty(k).getBytes(StandardCharsets.UTF_8))); } } }\n"
    )
    java = shutil.which("java")
    assert java
    out = subprocess.run([java, str(tmp_path / "Dump.java"), str(tmp_path / "c.properties")],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    parsed = {base64.b64decode(k).decode(): base64.b64decode(v).decode()
              for k, v in (line.split(" ") for line in out.splitlines())}
    assert parsed == settings


def test_our_extensions_junit_tests_pass(edc_runtimes, tmp_path):
    """The Java extensions' own tests, through Maven, in a copy of the packaged sources."""
    source = tmp_path / "maven"
    shutil.copytree(MAVEN_SOURCES, source)
    tested = ["extensions/file-vault", "extensions/catalog-nodes", "extensions/membership-policy", "extensions/edr-api"]
    result = subprocess.run(
        ["mvn", "-B", "-ntp", "-q", "-Dstyle.color=never", "--strict-checksums", "-pl", ",".join(tested), "test"],
        cwd=source, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    runs = {}
    for module in tested:
        for report in (source / module / "target" / "surefire-reports").glob("TEST-*.xml"):
            suite = ET.parse(report).getroot()
            runs[suite.get("name")] = (int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0)))
    assert runs == {
        "org.mvd.edc.vault.FileVaultTest": (3, 0),
        "org.mvd.edc.catalog.HttpTargetNodeDirectoryTest": (1, 0),
        "org.mvd.edc.policy.MembershipConstraintFunctionTest": (3, 0),
        "org.mvd.edc.edr.EdrApiControllerTest": (3, 0),
    }
