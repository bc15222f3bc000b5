"""The MVD delivery signature, one scheme both ways: incoming webhooks are verified with it
(``mvd_core.api.webhooks``) and the control plane's own notifications are signed with it
(``mvd_core.runs.notify``), so a receiver checks them with the same code.

HMAC-SHA256 over ``"<timestamp>.<delivery id>." + raw body`` with the shared secret, sent as

    X-MVD-Timestamp: <unix seconds>
    X-MVD-Delivery:  <unique id, [A-Za-z0-9._:-]{1,128}>
    X-MVD-Signature: sha256=<hex HMAC>
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-MVD-Signature"
TIMESTAMP_HEADER = "X-MVD-Timestamp"
DELIVERY_HEADER = "X-MVD-Delivery"


def sign(secret: str | bytes, timestamp: int | str, delivery_id: str, body: bytes) -> str:
    """The ``X-MVD-Signature`` value for delivery ``delivery_id`` of ``body`` sent at
    ``timestamp`` (unix seconds): HMAC-SHA256 over ``"<timestamp>.<delivery_id>." + body``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    return f"sha256={hmac.new(key, signed, hashlib.sha256).hexdigest()}"


def signed_headers(secret: str | bytes, body: bytes, delivery_id: str, timestamp: int | None = None) -> dict[str, str]:
    """All three headers for a delivery (what a sender, or a test, puts on the request)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        TIMESTAMP_HEADER: str(ts),
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: sign(secret, ts, delivery_id, body),
    }
