"""Render a participant's desired Kubernetes objects from the same RuntimeSpecs the processes
target runs (``mvd_core.runtimes.cluster``: cluster hosts, the containers' fixed ports).

One namespace per participant (its id). Per runtime a ConfigMap ``<runtime>-settings``
holding its settings as the properties file EDC reads (``-Dedc.fs.config``). Per runtime
kind one workload and one Service with a port per API: Deployments ``identityhub``,
``connector`` and ``catalog`` (when standalone), and a StatefulSet ``dataplane`` whose pods
``dataplane-<i>`` are the spec's runtimes of those names, so each replica registers its own
address with the connector. Every runtime pod runs a published JRE image; its init container
assembles the runtime from the Maven project in the ConfigMap ``edc-maven`` (``runtimes/images.py``).
The connector UI, an Ingress for the APIs others reach from outside, and the seed Jobs. Output is deterministic: same blueprint
and DIDs, same objects, same spec hashes.
"""

from __future__ import annotations

import json
import shlex
from pathlib import PurePosixPath
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from mvd_core.dataspace.models import Dataspace, LocalDidHost, Participant, SeedJob
from mvd_core.k8s import labels as L
from mvd_core.plan.exposure import (
    as_runtimes_account,
    exposure_objects,
    mounts_vault,
    secret_provider_class,
    service_account,
    vault_secret_provider,
)
from mvd_core.plan.trust import issuer_did, participant_list_url
from mvd_core.runtimes.assembly import java_command
from mvd_core.runtimes.cluster import (
    DATAPLANE,
    VAULT_PATH,
    api_url,
    cluster_runtimes,
    public_url,
    workload_name,
)
from mvd_core.runtimes.images import (
    ARGFILE,
    ASSEMBLY_DIR,
    CURL_IMAGE,
    JRE_IMAGE,
    MAVEN_IMAGE,
    MAVEN_SOURCES_DIR,
    PUBLISHED_IMAGES,
    assemble_env,
    assemble_script,
    maven_configmap_files,
    maven_configmap_items,
)
from mvd_core.runtimes.participant import DSP_VERSION_PATH, MANAGEMENT_API_KEY, context_id
from mvd_core.runtimes.seed import ManagementRequest, seed_requests
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.settings import Settings

CONNECTOR_UI: Final = "connector-ui"
# The EDC Data Dashboard's image serves on 8080 (nginx-unprivileged; its Dockerfile and nginx.conf)
# and reads its connectors from /app/config/edc-connector-config.json.
CONNECTOR_UI_PORT: Final = 8080
DASHBOARD_CONFIG: Final = "/app/config/edc-connector-config.json"
DASHBOARD_NGINX: Final = "/etc/nginx/conf.d/default.conf"
# Where a browser reaches the dashboard: `kubectl port-forward svc/connector-ui 8080:8080`. It is
# not on the Ingress: the dashboard is a browser app that sends the management API key itself, so
# whoever loads it gets the key (its config file is served at /config/edc-connector-config.json).
DASHBOARD_ORIGIN: Final = f"http://localhost:{CONNECTOR_UI_PORT}"
API_KEY_PLACEHOLDER: Final = "@MANAGEMENT_API_KEY@"
# The offers Job: curl's official image (runtimes/images.py).
SEED_IMAGE: Final = CURL_IMAGE
# The ConfigMap holding the Maven project every runtime pod's init container assembles its runtime from.
MAVEN_CONFIGMAP: Final = "edc-maven"
# The init container of a runtime pod, and its key in the image table: "<workload>/assemble".
ASSEMBLE: Final = "assemble"
# Every pod runs as this uid/gid (not root; none of the images needs a user of its own).
POD_UID: Final = 10001
POD_SECURITY: Final = {
    "runAsNonRoot": True,
    "runAsUser": POD_UID,
    "runAsGroup": POD_UID,
    "fsGroup": POD_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY: Final = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
# The init container's Maven (-Xmx384m): here, from an empty repository, the connector peaked at 267 MiB RSS.
ASSEMBLE_RESOURCES: Final = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "768Mi"}}
OFFERS_JOB: Final = "seed-offers"
SEED_DIR: Final = "/etc/mvd/seed"
SEED_SCRIPT: Final = "seed.sh"
# Attempts, 2 s apart, while the connector does not answer yet (its startup probe allows 5 min).
SEED_ATTEMPTS: Final = 180
SETTINGS_DIR: Final = PurePosixPath("/etc/mvd")
# The Secrets Store CSI driver mounts the participant's Key Vault secrets as files named by
# alias: the layout the runtimes' file vault reads (its SecretProviderClass: plan/exposure.py).
VAULT_DRIVER: Final = "secrets-store.csi.k8s.io"
# Headroom over -Xmx for metaspace (capped at 192m by the JVM flags), thread stacks and code cache.
NON_HEAP_MB: Final = 256
WORKLOAD_KINDS: Final = ("Deployment", "StatefulSet")
# The identity hub's writable vault (a memory volume at VAULT_PATH) and where its init container
# reads the CSI-mounted Key Vault secrets it copies there.
HUB_VAULT: Final = "hub-vault"
HUB_VAULT_SOURCE: Final = "/var/run/mvd/vault-source"
# Each mounted secret's content (the CSI driver's files are symlinks into its ..data directory, which
# the glob skips; cp -L copies what they point at), readable by the hub alone.
HUB_VAULT_COPY: Final = (
    f'set -eu; for f in {HUB_VAULT_SOURCE}/*; do [ -f "$f" ] || continue; '
    f'cp -L "$f" {VAULT_PATH}/; chmod 600 "{VAULT_PATH}/${{f##*/}}"; done'
)


class RuntimeImage(BaseModel):
    """A workload's image and where its reference comes from."""

    model_config = ConfigDict(frozen=True)

    image: str
    source: str


def _published(image: str) -> RuntimeImage:
    return RuntimeImage(image=image, source=f"{PUBLISHED_IMAGES[image].origin}; pinned in mvd_core/runtimes/images.py")


def runtime_images(dataspace: Dataspace, participant: Participant) -> dict[str, RuntimeImage]:
    """Workload or Job name (``<workload>/assemble`` for a runtime's init container) -> its image,
    for what the participant renders: the one place every rendered image reference comes from.

    The runtimes' images are the project's (published JRE and Maven images, pinned by tag); the
    connector UI's and the seed Jobs' are the blueprint's."""
    images = dataspace.images_for(participant)
    where = f"participants[{participant.id}].images" if participant.images is not None else "images"
    out: dict[str, RuntimeImage] = {}
    for workload in ("identityhub", "connector", DATAPLANE, *(["catalog"] if participant.runtimes.catalog else [])):
        out[workload] = _published(JRE_IMAGE)
        out[f"{workload}/{ASSEMBLE}"] = _published(MAVEN_IMAGE)
    if participant.runtimes.connector_ui.enabled:
        known = PUBLISHED_IMAGES.get(images.connector_ui)
        out[CONNECTOR_UI] = RuntimeImage(
            image=images.connector_ui, source=f"{where}.connectorUi" + (f": {known.origin}" if known else "")
        )
    out[OFFERS_JOB] = _published(SEED_IMAGE)
    for i, job in enumerate(participant.seed_jobs):
        out[_job_name(job)] = RuntimeImage(
            image=job.image, source=f"participants[{participant.id}].seedJobs[{i}].image"
        )
    return out


def _job_name(job: SeedJob) -> str:
    return f"seed-{job.name}"


def _labels(dataspace: Dataspace, participant: Participant, component: str) -> dict[str, str]:
    return {
        L.NAME_KEY: component,
        L.PART_OF_KEY: dataspace.name,
        L.MANAGED_BY_KEY: L.MANAGED_BY_VALUE,
        L.PARTICIPANT_KEY: participant.id,
    }


def _meta(
    dataspace: Dataspace, participant: Participant, name: str, component: str, *, namespaced: bool = True
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": _labels(dataspace, participant, component)}
    if namespaced:
        meta["namespace"] = participant.id
    return meta


_finish = L.with_spec_hash


def did_web_https(participant: Participant, settings: Settings) -> bool:
    """Whether the runtimes resolve did:web over https (one switch for every DID, the issuer's
    included): unless both the participant's DID and the control plane are served over plain http."""
    return not isinstance(participant.identity.host, LocalDidHost) or settings.base_url.startswith("https:")


def participant_specs(
    dataspace: Dataspace, participant: Participant, dids: dict[str, str], settings: Settings
) -> list[RuntimeSpec]:
    """The participant's runtimes as its namespace runs them."""
    return cluster_runtimes(
        participant,
        namespace=participant.id,
        public_host=dataspace.public_host_for(participant),
        did=dids[participant.id],
        issuer_did=issuer_did(settings),
        participant_list_url=participant_list_url(settings),
        did_web_https=did_web_https(participant, settings),
    )


def public_endpoints(dataspace: Dataspace, participant: Participant, did: str) -> dict[str, str]:
    """The DID document's services: the DSP address and the identity hub's credential service,
    both through the participant's Ingress."""
    host = dataspace.public_host_for(participant)
    protocol = public_url(host, "connector", "protocol")
    credentials = public_url(host, "identityhub", "credentials")
    assert protocol is not None and credentials is not None  # both are in PUBLIC_APIS
    return {
        "protocol": protocol + DSP_VERSION_PATH,
        "credential_service": f"{credentials}/v1/participants/{context_id(did)}",
    }


def settings_configmap(spec: RuntimeSpec) -> str:
    return f"{spec.name}-settings"


def _settings_file(spec: RuntimeSpec) -> str:
    return f"{spec.name}.properties"


def _assemble_container(spec: RuntimeSpec, image: str) -> dict[str, Any]:
    """The init container: assembles the runtime's kind into the shared volume (runtimes/images.py)."""
    return {
        "name": ASSEMBLE,
        "image": image,
        "command": ["/bin/sh", "-c", assemble_script()],
        "env": assemble_env(spec.kind),
        "resources": ASSEMBLE_RESOURCES,
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "maven", "mountPath": str(MAVEN_SOURCES_DIR), "readOnly": True},
            {"name": "runtime", "mountPath": str(ASSEMBLY_DIR)},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _container(spec: RuntimeSpec, image: str, *, per_pod: bool) -> dict[str, Any]:
    default = spec.apis["default"]
    # A StatefulSet's pods share a template: each reads the settings file named like itself.
    settings_file = "$(POD_NAME).properties" if per_pod else _settings_file(spec)
    env: list[dict[str, Any]] = []
    if per_pod:
        env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})

    def probe(path: str, period: int, failures: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "default"}, "periodSeconds": period, "failureThreshold": failures}

    memory = f"{spec.heap_mb + NON_HEAP_MB}Mi"
    return {
        "name": workload_name(spec.kind, spec.name),
        "image": image,
        # the processes target's command line: the JRE image's java, the assembled @argfile
        "command": java_command(spec, ARGFILE, SETTINGS_DIR / settings_file, java="java"),
        "env": env,
        "ports": [{"name": api, "containerPort": endpoint.port} for api, endpoint in spec.apis.items()],
        "startupProbe": probe(f"{default.path}/check/startup", 5, 60),
        "readinessProbe": probe(spec.readiness_path, 5, 3),
        "livenessProbe": probe(f"{default.path}/check/liveness", 10, 3),
        "resources": {"requests": {"cpu": "100m", "memory": memory}, "limits": {"memory": memory}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "settings", "mountPath": str(SETTINGS_DIR), "readOnly": True},
            {"name": "vault", "mountPath": str(VAULT_PATH), "readOnly": True},
            {"name": "runtime", "mountPath": str(ASSEMBLY_DIR), "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _workload(
    dataspace: Dataspace,
    participant: Participant,
    name: str,
    specs: list[RuntimeSpec],
    images: dict[str, RuntimeImage],
    maven: dict[str, Any],
) -> dict[str, Any]:
    stateful = specs[0].kind == "dataplane"
    labels = _labels(dataspace, participant, name)
    selector = {L.NAME_KEY: name, L.PARTICIPANT_KEY: participant.id}
    volumes = [
        {
            "name": "settings",
            "projected": {"sources": [{"configMap": {"name": settings_configmap(spec)}} for spec in specs]},
        },
        _vault_volume(participant),
        {"name": "maven", "configMap": {"name": MAVEN_CONFIGMAP, "items": maven_configmap_items()}},
        # the Maven repository and the built extensions: ~80-110 MB per runtime kind
        {"name": "runtime", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    spec: dict[str, Any] = {
        "replicas": len(specs),
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": labels, "annotations": _config_hash(maven)},
            "spec": {
                "securityContext": POD_SECURITY,
                "initContainers": [_assemble_container(specs[0], images[f"{name}/{ASSEMBLE}"].image)],
                "containers": [_container(specs[0], images[name].image, per_pod=stateful)],
                "volumes": volumes,
            },
        },
    }
    if name == "identityhub":
        _writable_vault(spec["template"]["spec"], images[name].image)
    if stateful:
        # all replicas at once (none waits for another) under the headless Service of their DNS names
        spec.update(serviceName=name, podManagementPolicy="Parallel")
    return _finish(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet" if stateful else "Deployment",
            "metadata": _meta(dataspace, participant, name, name),
            "spec": spec,
        }
    )


def _service(
    dataspace: Dataspace, participant: Participant, name: str, ports: dict[str, int], *, headless: bool = False
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {L.NAME_KEY: name, L.PARTICIPANT_KEY: participant.id},
        "ports": [{"name": api, "port": port, "targetPort": api} for api, port in ports.items()],
    }
    if headless:
        # each data plane pod's own DNS name resolves from its start: it registers that address at boot
        spec.update(clusterIP="None", publishNotReadyAddresses=True)
    return _finish(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(dataspace, participant, name, name),
            "spec": spec,
        }
    )


def _configmap(dataspace: Dataspace, participant: Participant, spec: RuntimeSpec) -> dict[str, Any]:
    return _finish(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(dataspace, participant, settings_configmap(spec), workload_name(spec.kind, spec.name)),
            "data": {_settings_file(spec): spec.properties()},
        }
    )


# On a pod template: the spec hash of the ConfigMap it reads, so a changed file rolls it out.
CONFIG_HASH_KEY: Final = "mvd.dataspace/config-hash"


def _config_hash(configmap: dict[str, Any]) -> dict[str, str]:
    return {CONFIG_HASH_KEY: configmap["metadata"]["annotations"][L.SPEC_HASH_KEY]}


def _writable_vault(pod: dict[str, Any], image: str) -> None:
    """The identity hub writes to its vault (each participant context's API key and STS client
    secret), which a CSI mount cannot take: its file vault (``edc.vault.file.path``, the same path
    as every runtime's) is a memory volume that the init container ``vault`` fills with the
    mounted Key Vault secrets before the hub starts. What the hub writes lives as long as the pod,
    as its in-memory contexts do; the identity step copies what the control plane needs to Key
    Vault. The init container runs the hub's own image (its shell and cp); no value is in the spec."""
    pod["volumes"].append({"name": HUB_VAULT, "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}})
    [main] = pod["containers"]
    main["volumeMounts"] = [
        {"name": HUB_VAULT, "mountPath": str(VAULT_PATH)} if mount["name"] == "vault" else mount
        for mount in main["volumeMounts"]
    ]
    pod["initContainers"].append(
        {
            "name": "vault",
            "image": image,
            "command": ["sh", "-c", HUB_VAULT_COPY],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
            "securityContext": CONTAINER_SECURITY,
            "volumeMounts": [
                {"name": "vault", "mountPath": HUB_VAULT_SOURCE, "readOnly": True},
                {"name": HUB_VAULT, "mountPath": str(VAULT_PATH)},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
    )


def _vault_volume(participant: Participant) -> dict[str, Any]:
    return {
        "name": "vault",
        "csi": {
            "driver": VAULT_DRIVER,
            "readOnly": True,
            "volumeAttributes": {"secretProviderClass": vault_secret_provider(participant)},
        },
    }


def seed_file(request: ManagementRequest) -> str:
    """The file of the offers Job's ConfigMap holding one request's body."""
    return f"{request.kind}-{request.id}.json"


def seed_script(requests: list[ManagementRequest]) -> str:
    """The offers Job's shell script (busybox sh and curl): POST each request's file to the
    connector's management API with the key from the vault; 2xx is created, 409 kept."""
    posts = "\n".join(
        f"post {shlex.quote(r.path)} {shlex.quote(seed_file(r))} {shlex.quote(f'{r.kind} {r.id}')}" for r in requests
    )
    return f"""#!/bin/sh
# Seeds the participant's offers through its connector's management API: the requests of
# mvd_core/runtimes/seed.py, which the processes target's seed step sends too. 2xx = created,
# 409 = kept (it exists), so the Job runs again after every reset. Retried while the connector
# does not answer yet: no connection, or 404/405 (EDC before Jersey serves the context), 502/503.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
headers=$(mktemp)
answer=$(mktemp)
trap 'rm -f "$headers" "$answer"' EXIT
# curl reads the key from a header file: it is on no command line
{{ printf 'x-api-key: '; tr -d '\\r\\n' < "$MVD_API_KEY_FILE"; echo; }} > "$headers"
post() {{
  attempt=1
  while :; do
    status=$(curl -sS -o "$answer" -w '%{{http_code}}' -X POST -H @"$headers" -H 'Content-Type: application/json' \\
      --data-binary @"$dir/$2" "$MVD_MANAGEMENT_URL$1") || status=000
    case "$status" in
      2??) echo "$3: created"; return 0 ;;
      409) echo "$3: kept"; return 0 ;;
      000|404|405|502|503) ;;
      *) echo "$3: POST $1 answered $status: $(head -c 300 "$answer")" >&2; exit 1 ;;
    esac
    if [ "$attempt" -ge "${{MVD_SEED_ATTEMPTS:-{SEED_ATTEMPTS}}}" ]; then
      echo "$3: no answer from the management API at $MVD_MANAGEMENT_URL after $attempt attempts (last: $status)" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep "${{MVD_SEED_INTERVAL:-2}}"
  done
}}
{posts}
"""


def seed_files(requests: list[ManagementRequest]) -> dict[str, str]:
    """The offers Job's ConfigMap: its script and one JSON file per request body."""
    return {SEED_SCRIPT: seed_script(requests), **{seed_file(r): json.dumps(r.body, indent=2) + "\n" for r in requests}}


def _offers_job(
    dataspace: Dataspace, participant: Participant, settings: Settings, management_url: str, image: str
) -> list[dict[str, Any]]:
    """The seed step of the processes target as a Job: the same requests, sent by curl from
    inside the namespace to the connector's management API."""
    configmap = _finish(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(dataspace, participant, OFFERS_JOB, "seed"),
            "data": seed_files(seed_requests(participant, settings)),
        }
    )
    container = {
        "name": "offers",
        "image": image,
        "command": ["/bin/sh", f"{SEED_DIR}/{SEED_SCRIPT}"],
        "env": [
            {"name": "MVD_MANAGEMENT_URL", "value": management_url},
            {"name": "MVD_API_KEY_FILE", "value": f"{VAULT_PATH}/{MANAGEMENT_API_KEY}"},
        ],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "requests", "mountPath": SEED_DIR, "readOnly": True},
            {"name": "vault", "mountPath": str(VAULT_PATH), "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # the script's mktemp files
        ],
    }
    job = _finish(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": _meta(dataspace, participant, OFFERS_JOB, "seed"),
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {"annotations": _config_hash(configmap)},
                    "spec": {
                        "restartPolicy": "Never",
                        "securityContext": POD_SECURITY,
                        "containers": [container],
                        "volumes": [
                            {"name": "requests", "configMap": {"name": OFFERS_JOB}},
                            _vault_volume(participant),
                            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
                        ],
                    },
                },
            },
        }
    )
    return [configmap, job]


def dashboard_config(public_host: str, specs: list[RuntimeSpec], did: str) -> list[dict[str, Any]]:
    """The Data Dashboard's ``edc-connector-config.json`` (a list of its ``EdcConfig``) for the
    participant's connector: the APIs the browser calls at the dashboard's own origin (its nginx
    proxies each to the runtime's in-cluster address), the public DSP address others use, the
    DID, and the management API key as a placeholder the pod fills in from the vault."""
    connector = next(s for s in specs if s.kind == "connector")
    catalog = next((s for s in specs if s.kind == "catalog"), connector)
    protocol = public_url(public_host, "connector", "protocol")
    assert protocol is not None  # in PUBLIC_APIS
    return [
        {
            "connectorName": connector.participant,
            "managementUrl": DASHBOARD_ORIGIN + connector.apis["management"].path,
            "defaultUrl": DASHBOARD_ORIGIN + connector.apis["default"].path,
            "protocolUrl": protocol + DSP_VERSION_PATH,
            "apiToken": API_KEY_PLACEHOLDER,
            "federatedCatalogEnabled": True,
            "federatedCatalogUrl": DASHBOARD_ORIGIN + catalog.apis["catalog"].path,
            "did": did,
        }
    ]


def dashboard_proxies(specs: list[RuntimeSpec]) -> dict[str, str]:
    """Path at the dashboard's origin -> the in-cluster URL its nginx forwards it to: the
    connector's management API, the health checks of its default API, the catalog query API."""
    connector = next(s for s in specs if s.kind == "connector")
    catalog = next((s for s in specs if s.kind == "catalog"), connector)
    check = connector.apis["default"].path + "/check"
    return {
        connector.apis["management"].path + "/": api_url(connector, "management") + "/",
        check + "/": api_url(connector, "default") + "/check/",
        catalog.apis["catalog"].path + "/": api_url(catalog, "catalog") + "/",
    }


def dashboard_nginx(specs: list[RuntimeSpec]) -> str:
    """The image's own server block (the app under /app, its config under /config) plus the proxies."""
    proxies = "".join(
        f"  location {path} {{\n    proxy_pass {target};\n  }}\n" for path, target in dashboard_proxies(specs).items()
    )
    return (
        f"server {{\n  listen {CONNECTOR_UI_PORT};\n  root /app;\n"
        "  location /config {\n    alias /app/config/;\n    try_files $uri$args $uri$args/ =404;\n  }\n"
        f"{proxies}"
        "  location / {\n    alias /app/;\n    index index.html;\n    try_files $uri$args $uri$args/ /index.html;\n  }\n"
        "}\n"
    )


# Run by the dashboard image's own shell before nginx starts: the config with the key from the
# vault (JSON-escaped) in place of the placeholder, into a memory volume the app serves.
_FILL_IN_KEY = (
    "set -eu; template=$(cat /etc/mvd/connector-ui/edc-connector-config.json); out=/run/connector-ui/edc-connector-config.json; "
    f'printf \'%s\' "${{template%%{API_KEY_PLACEHOLDER}*}}" > "$out"; '
    'tr -d \'\\r\\n\' < "$MVD_API_KEY_FILE" | sed \'s/[\\\\"]/\\\\&/g\' >> "$out"; '
    f'printf \'%s\\n\' "${{template#*{API_KEY_PLACEHOLDER}}}" >> "$out"'
)


def _connector_ui(
    dataspace: Dataspace, participant: Participant, specs: list[RuntimeSpec], did: str, image: str
) -> list[dict[str, Any]]:
    labels = _labels(dataspace, participant, CONNECTOR_UI)
    selector = {L.NAME_KEY: CONNECTOR_UI, L.PARTICIPANT_KEY: participant.id}
    configmap = _finish(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(dataspace, participant, CONNECTOR_UI, CONNECTOR_UI),
            "data": {
                "edc-connector-config.json": json.dumps(
                    dashboard_config(dataspace.public_host_for(participant), specs, did), indent=2
                )
                + "\n",
                "nginx.conf": dashboard_nginx(specs),
            },
        }
    )
    init = {
        "name": "config",
        "image": image,
        "command": ["/bin/sh", "-c", _FILL_IN_KEY],
        "env": [{"name": "MVD_API_KEY_FILE", "value": f"{VAULT_PATH}/{MANAGEMENT_API_KEY}"}],
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/mvd/connector-ui", "readOnly": True},
            {"name": "vault", "mountPath": str(VAULT_PATH), "readOnly": True},
            {"name": "filled", "mountPath": "/run/connector-ui"},
        ],
    }
    container = {
        "name": CONNECTOR_UI,
        "image": image,
        "ports": [{"name": "http", "containerPort": CONNECTOR_UI_PORT}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "filled", "mountPath": DASHBOARD_CONFIG, "subPath": "edc-connector-config.json", "readOnly": True},
            {"name": "config", "mountPath": DASHBOARD_NGINX, "subPath": "nginx.conf", "readOnly": True},
            # nginx-unprivileged keeps its pid file and temp files in /tmp
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return [
        configmap,
        _finish(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": _meta(dataspace, participant, CONNECTOR_UI, CONNECTOR_UI),
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": selector},
                    "template": {
                        "metadata": {"labels": labels, "annotations": _config_hash(configmap)},
                        "spec": {
                            "securityContext": POD_SECURITY,
                            "initContainers": [init],
                            "containers": [container],
                            "volumes": [
                                {"name": "config", "configMap": {"name": CONNECTOR_UI}},
                                _vault_volume(participant),
                                {"name": "filled", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
                                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                            ],
                        },
                    },
                },
            }
        ),
        _service(dataspace, participant, CONNECTOR_UI, {"http": CONNECTOR_UI_PORT}),
    ]


def render_participant(
    dataspace: Dataspace, participant: Participant, dids: dict[str, str], settings: Settings
) -> list[dict[str, Any]]:
    """Every Kubernetes object of one participant, in apply order."""
    specs = participant_specs(dataspace, participant, dids, settings)
    images = runtime_images(dataspace, participant)

    def meta(name: str, component: str) -> dict[str, Any]:
        return _meta(dataspace, participant, name, component)

    workloads: dict[str, list[RuntimeSpec]] = {}
    for spec in specs:
        workloads.setdefault(workload_name(spec.kind, spec.name), []).append(spec)
    objects: list[dict[str, Any]] = [
        _finish(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": _meta(dataspace, participant, participant.id, "namespace", namespaced=False),
            }
        ),
        *(_configmap(dataspace, participant, spec) for spec in specs),
    ]
    maven = _finish(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(dataspace, participant, MAVEN_CONFIGMAP, "runtime"),
            "data": maven_configmap_files(),
        }
    )
    objects.append(maven)
    for name, group in workloads.items():
        objects.append(_workload(dataspace, participant, name, group, images, maven))
        ports = {api: endpoint.port for api, endpoint in group[0].apis.items()}
        objects.append(_service(dataspace, participant, name, ports, headless=name == DATAPLANE))
    if participant.runtimes.connector_ui.enabled:
        objects += _connector_ui(dataspace, participant, specs, dids[participant.id], images[CONNECTOR_UI].image)
    objects += [_finish(o) for o in exposure_objects(dataspace, participant, specs, meta)]
    management = api_url(next(s for s in specs if s.kind == "connector"), "management")
    objects += _offers_job(dataspace, participant, settings, management, images[OFFERS_JOB].image)
    for job in participant.seed_jobs:
        objects.append(
            _finish(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": _meta(dataspace, participant, _job_name(job), "seed"),
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": job.timeout_seconds,
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    {
                                        "name": job.name,
                                        "image": images[_job_name(job)].image,
                                        "args": list(job.args),
                                        "env": [
                                            {
                                                "name": "MVD_MANAGEMENT_URL",
                                                "value": management,
                                            }
                                        ],
                                    }
                                ],
                            }
                        },
                    },
                }
            )
        )
    objects.insert(1, _finish(service_account(participant, meta)))
    provider = secret_provider_class(participant, specs, meta)
    if provider is not None:
        objects.insert(2, _finish(provider))
    # every pod that mounts the vault runs as the ServiceAccount its workload identity trusts
    return [_finish(as_runtimes_account(o)) if mounts_vault(o) else o for o in objects]
