"""Webhook verification: HMAC-SHA256 per source, timestamp tolerance, delivery de-duplication.

A sender signs ``f"{timestamp}.{delivery}.".encode() + raw_body`` with the source's secret and sends

    X-MVD-Timestamp: <unix seconds>
    X-MVD-Delivery:  <unique id, [A-Za-z0-9._:-]{1,128}>
    X-MVD-Signature: sha256=<hex HMAC>

Timestamp and delivery id are inside the signature, so a captured delivery can be neither
re-dated nor renamed: the only thing an eavesdropper can do with it is send it again as it
is, and the delivery id it carries is remembered for longer than the timestamp stays
acceptable (``delivery_ttl``), so that is a 409. The de-duplication key is the sender's own
(signed) delivery id rather than a digest of the request, so a sender that retries one
delivery with a fresh timestamp still starts one run. Checks run cheapest-first and nothing
is recorded before the signature is valid; only then is the delivery id remembered.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.alias_generators import to_camel

from mvd_core.api.inputs import json_object
from mvd_core.errors import Conflict, MvdError, NotFound, Unauthorized
from mvd_core.runs import DELIVERY_TTL, Action
from mvd_core.settings import WEBHOOK_SOURCE_PATTERN

# The scheme lives in the foundation layer (the run notifications are signed with it too);
# these names stay importable from here.
from mvd_core.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers

__all__ = [
    "DELIVERY_HEADER",
    "MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "SIGNED_STRING",
    "TIMESTAMP_HEADER",
    "PayloadTooLarge",
    "VerifiedWebhook",
    "WebhookPayload",
    "check_first_delivery",
    "delivery_ttl",
    "header",
    "parse_payload",
    "sign",
    "signed_headers",
    "verify",
]

MAX_BODY_BYTES = 1024 * 1024
_SOURCE = re.compile(WEBHOOK_SOURCE_PATTERN)
_DELIVERY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")  # ASCII digits only; int() would take any Unicode digit
SIGNED_STRING = '"<X-MVD-Timestamp>.<X-MVD-Delivery>." + raw body'


class PayloadTooLarge(MvdError):
    status = 413


class WebhookPayload(BaseModel):
    """The body senders post; anything else in it is ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    action: Action = "reset"
    rotate_keys: list[str] = Field(default_factory=list)


class VerifiedWebhook(BaseModel):
    source: str
    delivery_id: str
    timestamp: int
    payload: WebhookPayload


def delivery_ttl(tolerance_seconds: int) -> timedelta:
    """How long a delivery id is remembered: a signed delivery is accepted from ``tolerance``
    before its timestamp until ``tolerance`` after it, so at least twice the tolerance (and
    never less than the registry's 24 h)."""
    return max(DELIVERY_TTL, timedelta(seconds=2 * tolerance_seconds + 60))


def header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify(
    source: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, SecretStr],
    tolerance_seconds: int,
    now: float | None = None,
) -> VerifiedWebhook:
    """Check a delivery; raises an MvdError with the HTTP status to answer (404 unknown source,
    413 too large, 401 signature/timestamp, 400 payload). Does not touch the delivery store."""
    if not _SOURCE.fullmatch(source) or source not in secrets:
        # The configured sources are not listed: this answer needs no credentials.
        raise NotFound(f"unknown webhook source {source[:64]!r}")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"webhook body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} (1 MiB)")
    signature = header(headers, SIGNATURE_HEADER)
    raw_ts = header(headers, TIMESTAMP_HEADER)
    delivery = header(headers, DELIVERY_HEADER)
    if not signature:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header")
    if not raw_ts:
        raise Unauthorized(f"missing {TIMESTAMP_HEADER} header (unix seconds)")
    if not delivery:
        raise MvdError(f"missing {DELIVERY_HEADER} header (a unique delivery id)")
    if not _DELIVERY.fullmatch(delivery):
        raise MvdError(f"{DELIVERY_HEADER} must match [A-Za-z0-9._:-]{{1,128}}")
    # As sent (the HTTP layer already dropped the spaces around a header value): strip()
    # would also drop a trailing newline or Unicode space.
    match = _SIGNATURE.fullmatch(signature)
    if not match:
        raise Unauthorized(f"{SIGNATURE_HEADER} must be sha256=<64 hex digits>")
    if not _TIMESTAMP.fullmatch(raw_ts):
        raise Unauthorized(f"{TIMESTAMP_HEADER} must be unix seconds (up to 15 ASCII digits)")
    expected = sign(secrets[source].get_secret_value(), raw_ts, delivery, body)
    if not hmac.compare_digest(expected.encode("ascii"), f"sha256={match.group(1).lower()}".encode("ascii")):
        raise Unauthorized(f"signature does not match for source {source!r} (it covers {SIGNED_STRING})")
    timestamp = int(raw_ts)
    skew = abs((time.time() if now is None else now) - timestamp)
    if skew > tolerance_seconds:
        raise Unauthorized(f"{TIMESTAMP_HEADER} is {int(skew)} s away from now; the tolerance is {tolerance_seconds} s")
    payload = parse_payload(body)
    return VerifiedWebhook(source=source, delivery_id=delivery, timestamp=timestamp, payload=payload)


def parse_payload(body: bytes) -> WebhookPayload:
    data = json_object(body, "webhook body")
    try:
        return WebhookPayload.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MvdError(f"webhook body: {problems}") from None


def check_first_delivery(first_time: bool, verified: VerifiedWebhook) -> None:
    if not first_time:
        raise Conflict(f"delivery {verified.delivery_id!r} from {verified.source!r} was already received")
