"""The self-contained page (CSS and JS inlined) that a host without /static serves, e.g.
the Functions app at /api/dashboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mvd_core.api.dashboard import page_html


def test_page_html_inlines_both_assets():
    html = page_html()
    assert "/static/" not in html
    assert "<style>" in html and ".chip-done" in html
    assert "<script>" in html and "X-MVD-Source" in html
    assert html.startswith("<!doctype html>")


@pytest.mark.browser
def test_inline_page_works_against_the_api(idle_server, page: Page):
    """Served from another path on the same origin, it renders from /api alone."""
    server = idle_server
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.route(f"{server.url}/api/dashboard",
               lambda route: route.fulfill(status=200, content_type="text/html", body=page_html()))
    page.goto(f"{server.url}/api/dashboard")
    expect(page.locator("#participants > li.card")).to_have_count(3)
    expect(page.locator("#dataspace-title")).to_have_text("Minimum Viable Dataspace")
    assert not [u for u in requested if "/static/" in u]
