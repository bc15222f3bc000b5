"""Fixtures shared by the DID host tests."""

from __future__ import annotations

import pytest

from tests.fixtures.cloudflare_fake import fake_cloudflare


@pytest.fixture
def cloudflare():
    """A loopback fake of the Cloudflare purge API, recording its calls."""
    with fake_cloudflare() as fake:
        yield fake
