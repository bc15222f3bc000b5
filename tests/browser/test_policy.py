"""The dashboard under its Content-Security-Policy in Chromium, as `mvd serve` and as the
Functions app serve it: it works with no violation, an inline script is refused, and no other
page can frame it."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.browser.conftest import MvdServe, shot

pytestmark = pytest.mark.browser

# Collected in the page: every violation the browser reports (Playwright's init scripts are not
# subject to the page's policy).
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


def _watch(page: Page) -> list[str]:
    console: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "frame-ancestors" in message.text:
            console.append(message.text)

    page.on("console", keep)
    page.add_init_script(WATCH_VIOLATIONS)
    return console


def _use_the_dashboard(page: Page) -> None:
    """What a visitor does that involves scripts, styles and the dialogs (form method=dialog)."""
    expect(page.locator("#participants > li.card")).to_have_count(3)
    expect(page.locator("#dataspace-title")).to_have_text("Minimum Viable Dataspace")
    page.get_by_role("button", name="Set API token").click()
    expect(page.locator("#token-dialog")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#token-dialog")).to_be_hidden()
    background = page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)"), "style.css was not applied"


def test_the_dashboard_works_under_its_policy(idle_server: MvdServe, page: Page):
    console = _watch(page)
    response = page.goto(idle_server.url + "/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy
    _use_the_dashboard(page)
    assert page.evaluate("window.__violations") == [] and console == []
    shot(page, "07-under-csp")


def test_an_inline_script_is_refused(idle_server: MvdServe, page: Page):
    """The policy is enforced, not only sent: a script injected into the page does not run."""
    _watch(page)
    page.goto(idle_server.url + "/")
    expect(page.locator("#participants > li.card")).to_have_count(3)
    page.evaluate("""() => {
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true;';
      document.body.append(s);
    }""")
    deadline = time.monotonic() + 10
    while not page.evaluate("window.__violations.length") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert page.evaluate("window.__injected === undefined")
    assert any(v.startswith("script-src") for v in page.evaluate("window.__violations"))


def test_no_other_page_can_frame_the_dashboard(idle_server: MvdServe, page: Page):
    console = _watch(page)
    page.set_content(f'<iframe id="f" src="{idle_server.url}/" width="600" height="400"></iframe>')
    deadline = time.monotonic() + 15
    while not console and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert any("frame-ancestors" in text for text in console), console
    frame = page.frame_locator("#f")
    expect(frame.locator("#participants")).to_have_count(0)


def test_the_functions_page_works_under_its_policy(idle_server: MvdServe, page: Page):
    """The page and files as the Functions app answers them (headers included), over the API of
    a real server on the same origin."""
    from blueprints.dashboard import dashboard, dashboard_asset
    from tests.functions.test_invoke import http

    def answer(response) -> dict:
        headers = {k: v for k, v in response.headers.items()}
        headers["content-type"] = response.mimetype + (f"; charset={response.charset}" if response.charset else "")
        return {"status": response.status_code, "headers": headers, "body": response.get_body()}

    served: list[str] = []

    def functions_app(route: Route) -> None:
        path = route.request.url.removeprefix(idle_server.url)
        served.append(path)
        if path == "/":
            route.fulfill(**answer(dashboard(http("GET", "/"))))
        else:
            name = path.removeprefix("/static/")
            route.fulfill(**answer(dashboard_asset(http("GET", path, {"name": name}))))

    page.route(f"{idle_server.url}/", functions_app)
    page.route(f"{idle_server.url}/static/*", functions_app)
    console = _watch(page)
    response = page.goto(idle_server.url + "/")
    assert response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
    _use_the_dashboard(page)
    assert sorted(served) == ["/", "/static/app.js", "/static/common.js", "/static/onboarding.js", "/static/style.css"]
    assert page.evaluate("window.__violations") == [] and console == []
