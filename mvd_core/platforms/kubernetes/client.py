"""Construction of ``kubernetes.client.ApiClient`` and bounded retries of API calls.

The kubernetes client does not retry 429/5xx answers itself; ``call`` retries them (and
connection errors) with exponential backoff, honouring ``Retry-After``, a bounded number of
times, then raises an ``ExternalError`` naming the call. Every call the control plane makes
is idempotent (apply, delete that accepts 404, reads), so a retry is safe.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from mvd_core.errors import ExternalError, MvdError
from mvd_core.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
MAX_ATTEMPTS = 10
_BACKOFF_BASE, _BACKOFF_CAP, _RETRY_AFTER_CAP = 0.05, 2.0, 10.0


def api_client_for_url(url: str, *, token: str | None = None, verify_ssl: bool = True) -> k8s.ApiClient:
    """A client for an API server at ``url`` (a simulated cluster's URL, or a real one with a token)."""
    cfg = k8s.Configuration(host=url.rstrip("/"))
    cfg.verify_ssl = verify_ssl
    if token:
        cfg.api_key = {"authorization": f"Bearer {token}"}
    return k8s.ApiClient(cfg)


def api_client_from_kubeconfig(path: str | Path | None, context: str) -> k8s.ApiClient:
    """A client for one context of a kubeconfig file (``~/.kube/config`` when ``path`` is None)."""
    file = Path(path).expanduser() if path else Path(k8s_config.KUBE_CONFIG_DEFAULT_LOCATION).expanduser()
    if not file.is_file():
        raise MvdError(f"kubeconfig {file} does not exist")
    contexts, _ = _contexts(file)
    if context not in contexts:
        raise MvdError(f"kubeconfig {file} has no context {context!r} (it has: {', '.join(contexts) or 'none'})")
    try:
        client: k8s.ApiClient = k8s_config.new_client_from_config(
            config_file=str(file), context=context, persist_config=False
        )
    except k8s_config.ConfigException as exc:
        raise MvdError(f"kubeconfig {file}, context {context!r}: {exc}") from None
    return client


def api_client_from_kubeconfig_dict(kubeconfig: dict[str, Any], context: str | None = None) -> k8s.ApiClient:
    """A client from an in-memory kubeconfig (as the AKS credentials API returns it)."""
    try:
        client: k8s.ApiClient = k8s_config.new_client_from_config_dict(
            kubeconfig, context=context, persist_config=False
        )
    except k8s_config.ConfigException as exc:
        raise ExternalError(f"the cluster's kubeconfig is unusable: {exc}") from None
    return client


def _contexts(file: Path) -> tuple[list[str], str | None]:
    try:
        contexts, active = k8s_config.list_kube_config_contexts(config_file=str(file))
    except (k8s_config.ConfigException, Exception) as exc:  # noqa: BLE001 - malformed YAML too
        raise MvdError(f"kubeconfig {file} cannot be read: {type(exc).__name__}: {exc}") from None
    return [c["name"] for c in contexts], (active or {}).get("name")


def status_message(exc: ApiException) -> str:
    """The ``message`` of a Status body, else the HTTP reason."""
    try:
        body = json.loads(exc.body or "{}")
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except (TypeError, ValueError):
        pass
    return str(exc.reason or "no reason given")


def _retry_after(exc: ApiException) -> float | None:
    headers = exc.headers or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return min(float(value), _RETRY_AFTER_CAP) if value is not None else None
    except ValueError:
        return None


@overload
def call(
    fn: Callable[..., T],
    *args: Any,
    what: str,
    missing_ok: Literal[False] = False,
    attempts: int | None = None,
    **kwargs: Any,
) -> T: ...
@overload
def call(
    fn: Callable[..., T], *args: Any, what: str, missing_ok: bool, attempts: int | None = None, **kwargs: Any
) -> T | None: ...
def call(
    fn: Callable[..., T], *args: Any, what: str, missing_ok: bool = False, attempts: int | None = None, **kwargs: Any
) -> T | None:
    """``fn(*args, **kwargs)`` with bounded retries of throttling, server errors and lost connections.

    With ``missing_ok`` a 404 returns None. Any other failure is an ``ExternalError`` naming ``what``.
    """
    attempts = attempts or MAX_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return None
            if exc.status not in RETRYABLE_STATUS or attempt == attempts:
                raise ExternalError(f"{what}: {exc.status} {status_message(exc)}") from None
            delay = _retry_after(exc)
        except (urllib3.exceptions.HTTPError, ConnectionError) as exc:
            if attempt == attempts:
                raise ExternalError(f"{what}: cannot reach the cluster ({type(exc).__name__})") from None
            delay = None
        if delay is None:
            delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        log.debug("retrying %s (attempt %d) in %.2fs", what, attempt, delay)
        time.sleep(delay)
    raise AssertionError("unreachable")
