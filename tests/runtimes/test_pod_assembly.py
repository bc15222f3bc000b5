"""The rendered runtime pod, run here without a cluster: its init container's exact command (the
same script, Maven flags and environment, only /opt/mvd moved into a temp directory) on the
ConfigMap's files laid out as its volume's items lay them out, with an empty Maven repository,
resolves the connector from Maven Central; then the main container's exact command starts that
classpath to readiness, answering its management API with the key from its vault.

What differs from the pod: paths under /opt/mvd, Java and Maven from this machine (Java 17 like
the images; this machine's Maven 3.8 where the image has 3.9), the processes target's settings
file (localhost and free ports; the cluster's names no resolver here knows), no read-only root."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import httpx

from mvd_core.dataspace.loader import load
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import render_participant
from mvd_core.platforms.processes import JavaCommand, ProcessPlatform
from mvd_core.platforms.secrets.local import LocalFileVault
from mvd_core.runtimes.assembly import classpath_of
from mvd_core.runtimes.participant import MANAGEMENT_API_KEY, participant_runtimes, required_ports
from mvd_core.settings import Settings
from tests.fixtures.polling import until

POD_ROOT = "/opt/mvd/"


def moved(value: str, root: Path) -> str:
    return value.replace(POD_ROOT, f"{root}/")


def files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_rendered_pod_assembles_the_connector_from_maven_central_and_it_starts(edc_runtimes, tmp_path):
    ds = load()
    participant = ds.participants[0]
    objects = render_participant(ds, participant, dataspace_dids(ds, Settings()), Settings())
    [maven] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "edc-maven"]
    [workload] = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "connector"]
    pod: dict[str, Any] = workload["spec"]["template"]["spec"]
    [init], [main] = pod["initContainers"], pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    root = tmp_path / "pod"

    # the volumes: the ConfigMap's keys at their items' paths, the assembly an empty directory
    sources = Path(moved(next(m["mountPath"] for m in init["volumeMounts"] if m["name"] == "maven"), root))
    for item in volumes["maven"]["configMap"]["items"]:
        (sources / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (sources / item["path"]).write_text(maven["data"][item["key"]], "utf-8")
    assembly = Path(moved(next(m["mountPath"] for m in init["volumeMounts"] if m["name"] == "runtime"), root))
    assembly.mkdir(parents=True)

    env = {"PATH": os.environ["PATH"], **{e["name"]: moved(e["value"], root) for e in init["env"]}}
    done = subprocess.run([moved(part, root) for part in init["command"]], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    argfile = assembly / "runtime.args"
    classpath = classpath_of(argfile)
    assert done.stdout.endswith(f"assembled EDC runtime connector: {len(classpath)} jars\n"), done.stdout[-500:]
    # every jar in the repository on the pod's volume, empty before: resolved from Maven Central
    # (checksums checked), our extensions compiled under build/
    assert classpath and all(entry.is_file() and entry.is_relative_to(assembly) for entry in classpath)
    assert {e.relative_to(assembly).parts[0] for e in classpath} == {"repository", "build"}
    # the same runtime as the processes target's: the same jars (our extensions built from the same sources)
    assert sorted(e.name for e in classpath) == sorted(e.name for e in classpath_of(edc_runtimes["connector"]))

    # the main container's command, with the processes target's settings file for this machine
    home = tmp_path / "home"
    vault = LocalFileVault(home / "vaults" / participant.id)
    api_key = secrets.token_urlsafe(24)
    vault.set(MANAGEMENT_API_KEY, api_key)
    platform = ProcessPlatform(home, command=JavaCommand(edc_runtimes))
    specs = participant_runtimes(
        participant,
        did=f"did:web:localhost%3A7080:dids:{participant.id}",
        issuer_did="did:web:localhost%3A7080:dids:issuer",
        participant_list_url="http://localhost:7080/api/participants.json",
        vault_path=vault.root,
        ports=platform.allocate_ports(participant.id, required_ports(participant)),
    )
    connector = next(s for s in specs if s.name == "connector")
    settings = tmp_path / "connector.properties"
    settings.write_text(connector.properties(), "utf-8")
    command = [moved(part, root) for part in main["command"]]
    assert command[-2] == "-Dedc.fs.config=/etc/mvd/connector.properties"
    command[-2] = f"-Dedc.fs.config={settings}"
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    before = files(assembly)
    log = (tmp_path / "connector.log").open("w")
    jvm = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        answered_readiness: list[int | None] = [None]

        def ready() -> bool:
            assert jvm.poll() is None, (tmp_path / "connector.log").read_text()[-3000:]
            answered_readiness[0] = _status(connector.readiness_url)
            return answered_readiness[0] == 200

        # within pytest-timeout's 300 s with the assembly before it, so a miss says what it saw
        try:
            until("the connector ready", ready, timeout=150)
        except AssertionError as exc:
            health = connector.readiness_url.replace("/readiness", "/health")
            raise AssertionError(
                f"{exc}: {connector.readiness_url} answered {answered_readiness[0]}, {health} {_status(health)}; "
                f"log: {(tmp_path / 'connector.log').read_text()[-3000:]}"
            ) from None
        query = {"@context": ["https://w3id.org/edc/connector/management/v0.0.1"], "@type": "QuerySpec"}
        url = f"{connector.url('management')}/v3/assets/request"
        # EDC 0.15.1 may answer 405 to its first request before Jersey serves the context
        refused = until("the management API serving",
                        lambda: (r := httpx.post(url, json=query, headers={"x-api-key": "wrong"}, timeout=30))
                        .status_code != 405 and r, timeout=60)
        assert refused.status_code == 401
        answered = httpx.post(url, json=query, headers={"x-api-key": api_key}, timeout=30)
        assert answered.status_code == 200 and answered.json() == []
    finally:
        jvm.terminate()
        jvm.wait(timeout=60)
        log.close()
    # what the pod mounts read-only stays as the init container left it; the working directory untouched
    assert files(assembly) == before
    assert not any(workdir.iterdir())
    assert api_key not in " ".join(command)


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return None
