"""The dashboard on `mvd serve`, driven in Chromium: deploy, reset, history, a failing step,
a wrong token, teardown's confirmation, keyboard use and a 375 px wide screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TOKEN, MvdServe, shot

pytestmark = pytest.mark.browser

PARTICIPANTS = ["galactic-turbine", "space-enforcer", "interstellar-assembly"]
PROVISION_STEPS = ["cluster", "vault", "did", "workloads", "rollout", "identity", "seed", "prune"]
RUN_TIMEOUT = 120_000  # ms: a whole run on a shared 2-core runner

# Records every data-status a participant row of the run panel takes, so a test can tell
# that progress arrived live (without a reload) rather than only as the final state.
RECORD_STATUSES = """
window.__seen = [];
new MutationObserver(() => {
  for (const row of document.querySelectorAll('#run-panel .prow')) {
    window.__seen.push(row.dataset.participant + ':' + row.dataset.status);
  }
}).observe(document.getElementById('run'), {subtree: true, childList: true, attributes: true});
"""


def open_dashboard(page: Page, server: MvdServe) -> None:
    page.goto(server.url + "/")
    expect(page.locator("#participants > li.card")).to_have_count(len(PARTICIPANTS))


def run_row(page: Page, participant: str):
    return page.locator(f'#run-panel .prow[data-participant="{participant}"]')


def card(page: Page, participant: str):
    return page.locator(f'#participants li.card[data-participant="{participant}"]')


def enter_token(page: Page, token: str) -> None:
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_role("textbox", name="API token")).to_be_focused()
    page.get_by_role("textbox", name="API token").fill(token)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()


def wait_for_run_end(page: Page, status: str) -> str:
    panel = page.locator("#run-panel")
    expect(panel).to_have_attribute("data-status", status, timeout=RUN_TIMEOUT)
    expect(page.locator("#run-title")).to_have_text("Last run")
    return panel.get_attribute("data-run-id") or ""


@pytest.mark.timeout(900)  # two full runs on a shared runner
def test_deploy_reset_and_history(start_server, page: Page):
    server = start_server(ready_delay=0.5)
    open_dashboard(page, server)

    # The dataspace as declared: runtimes, replicas, catalog mode, simulated clusters, DIDs.
    gti = card(page, "galactic-turbine")
    expect(gti.locator("h3")).to_have_text("Galactic Turbine Industries")
    expect(gti.locator('[data-field="catalog"]')).to_have_attribute("data-catalog", "standalone")
    expect(gti.locator(".runtimes")).to_contain_text("data plane × 3")
    expect(card(page, "space-enforcer").locator('[data-field="catalog"]')).to_have_attribute("data-catalog", "embedded")
    expect(card(page, "space-enforcer").locator(".runtimes")).to_contain_text("data plane × 1")
    port = server.url.rsplit(":", 1)[1]
    for pid in PARTICIPANTS:
        c = card(page, pid)
        expect(c.locator('[data-field="cluster"]')).to_contain_text("simulated")
        expect(c.locator("code.did")).to_have_text(f"did:web:localhost%3A{port}:dids:{pid}")
        expect(c.locator("a.did-link")).to_have_attribute("href", f"http://localhost:{port}/dids/{pid}/did.json")
        expect(c.locator(".pill")).to_have_text("not deployed")
        expect(c.locator("[data-resolves]")).to_have_attribute("data-resolves", "no")
        expect(c.locator("[data-resolves]")).to_contain_text("not published yet")  # expected, not an alarm
    expect(page.locator("#history-empty")).to_be_visible()
    shot(page, "01-before-deploy")

    page.evaluate(RECORD_STATUSES)
    page.get_by_role("button", name="Deploy").click()
    enter_token(page, TOKEN)
    for name in ("Deploy", "Reset", "Teardown"):
        expect(page.get_by_role("button", name=name)).to_be_disabled()
    expect(page.locator("#message")).to_contain_text("Deploy started")
    shot(page, "02-deploy-running")

    for pid in PARTICIPANTS:
        expect(run_row(page, pid)).to_have_attribute("data-status", "done", timeout=RUN_TIMEOUT)
    deploy_id = wait_for_run_end(page, "completed")
    for pid in PARTICIPANTS:
        row = run_row(page, pid)
        expect(row.locator(".pill")).to_have_text("done")
        expect(row.locator(".chip")).to_have_count(len(PROVISION_STEPS))
        for step in ("cluster", "vault", "did", "workloads", "rollout", "prune"):
            expect(row.locator(f'.chip[data-step="{step}"]')).to_have_attribute("data-status", "done")
        # the default blueprint declares no seed jobs
        expect(row.locator('.chip[data-step="seed"]')).to_have_attribute("data-status", re.compile("done|skipped"))
        expect(row.locator(".chip-dur").first).to_have_text(re.compile(r"\d+(\.\d)? (ms|s)"))
    seen = page.evaluate("window.__seen")
    assert any(s.endswith((":pending", ":running")) for s in seen), seen  # live, not only the end state
    expect(page.locator("#message")).to_contain_text("Deploy completed")
    for name in ("Deploy", "Reset", "Teardown"):
        expect(page.get_by_role("button", name=name)).to_be_enabled()
    for pid in PARTICIPANTS:
        expect(card(page, pid).locator(".pill")).to_have_text("deployed")
        # the view re-checks resolution within seconds (the server caches it briefly)
        expect(card(page, pid).locator("[data-resolves]")).to_have_attribute("data-resolves", "yes", timeout=30_000)
    shot(page, "03-deployed")  # docs/dashboard.png is a copy of this one

    # Reset: the token is kept for the session, so no dialog this time.
    page.get_by_role("button", name="Reset").click()
    expect(page.locator("#token-dialog")).to_be_hidden()
    expect(page.locator("#message")).to_contain_text("Reset started")
    expect(page.locator("#run-panel")).not_to_have_attribute("data-run-id", deploy_id, timeout=10_000)
    reset_id = wait_for_run_end(page, "completed")
    for pid in PARTICIPANTS:
        expect(run_row(page, pid).locator('.chip[data-step="restart"]')).to_have_attribute("data-status", "done")

    # The history: both runs, started by the button, newest first; one opens to its steps.
    items = page.locator("#history > li.history-item")
    expect(items).to_have_count(2, timeout=10_000)
    expect(items.nth(0)).to_have_attribute("data-run-id", reset_id)
    for i, action in enumerate(["reset", "provision"]):
        expect(items.nth(i)).to_have_attribute("data-action", action)
        expect(items.nth(i)).to_have_attribute("data-source", "button")
        expect(items.nth(i)).to_have_attribute("data-status", "completed", timeout=10_000)
        expect(items.nth(i).locator("summary")).to_contain_text("button")
    summary = items.nth(0).locator("summary")
    summary.focus()
    page.keyboard.press("Enter")  # keyboard opens the entry
    detail = items.nth(0).locator(".detail")
    expect(detail.locator(".prow")).to_have_count(len(PARTICIPANTS))
    expect(detail.locator('.chip[data-step="restart"][data-status="done"]')).to_have_count(len(PARTICIPANTS))
    expect(detail).to_contain_text(reset_id)
    shot(page, "04-history")
    # The same page, with a run and an opened history entry, at 375 px: nothing overflows.
    page.set_viewport_size({"width": 375, "height": 812})
    expect(page.locator("#history-title")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "04-history-narrow")
    assert [(r["action"], r["source"], r["status"]) for r in server.runs()] == [
        ("reset", "button", "completed"), ("provision", "button", "completed")]


def _unwritable_did_directory(home: Path) -> None:
    """Fault injection: a plain file where space-enforcer's DID directory must go, so
    publishing its did:web document fails every time (even as root)."""
    (home / "dids").mkdir(parents=True)
    (home / "dids" / "space-enforcer").write_text("not a directory\n")


def test_a_failing_step_shows_its_error(start_server, page: Page):
    server = start_server(prepare=_unwritable_did_directory)
    open_dashboard(page, server)
    page.get_by_role("button", name="Deploy").click()
    enter_token(page, TOKEN)

    failed = run_row(page, "space-enforcer")
    expect(failed).to_have_attribute("data-status", "failed", timeout=RUN_TIMEOUT)
    wait_for_run_end(page, "failed")
    expect(failed.locator('.chip[data-step="did"]')).to_have_attribute("data-status", "failed")
    for step in ("workloads", "rollout", "identity", "seed", "prune"):
        expect(failed.locator(f'.chip[data-step="{step}"]')).to_have_attribute("data-status", "skipped")
    error = failed.locator('.step-error[data-step="did"]')
    expect(error).to_contain_text("did failed")
    expect(error).to_contain_text("cannot write")
    expect(error).to_contain_text("space-enforcer")
    for pid in ("galactic-turbine", "interstellar-assembly"):  # one failing does not stop the others
        expect(run_row(page, pid)).to_have_attribute("data-status", "done")
    expect(card(page, "space-enforcer").locator(".pill")).to_have_text("failed at did")
    expect(page.get_by_role("alert")).to_contain_text("Deploy failed")
    expect(page.get_by_role("alert")).to_contain_text("space-enforcer at did")
    expect(page.locator("#history > li.history-item").first).to_have_attribute("data-status", "failed", timeout=10_000)
    shot(page, "05-step-failed")


def test_a_wrong_token_is_refused(idle_server, page: Page):
    server = idle_server
    open_dashboard(page, server)
    page.get_by_role("button", name="Deploy").click()
    enter_token(page, "not-the-token")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("API token was refused")
    expect(alert).to_contain_text("401")
    expect(alert).to_contain_text("Nothing was started")
    expect(page.get_by_role("button", name="Deploy")).to_be_enabled()
    assert page.evaluate("sessionStorage.getItem('mvd.apiToken')") is None  # the bad token is forgotten
    shot(page, "06-wrong-token")
    assert server.runs() == []

    # Asked again on the next click; cancelling starts nothing either.
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#token-dialog")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#token-dialog")).to_be_hidden()
    expect(page.locator("#message")).to_contain_text("cancelled")
    expect(page.get_by_role("button", name="Deploy")).to_be_focused()
    assert server.runs() == []


def test_teardown_asks_for_confirmation(start_server, page: Page):
    server = start_server()
    open_dashboard(page, server)
    page.get_by_role("button", name="Set API token").click()
    enter_token(page, TOKEN)
    expect(page.get_by_role("button", name="Change API token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('mvd.apiToken')") == TOKEN

    page.get_by_role("button", name="Teardown").click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    shot(page, "07-teardown-confirm", full_page=False)
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(page.locator("#message")).to_contain_text("Teardown cancelled")
    assert server.runs() == []

    page.get_by_role("button", name="Teardown").click()
    confirm.get_by_role("button", name="Tear down").click()
    expect(page.locator("#message")).to_contain_text("Teardown started")
    wait_for_run_end(page, "completed")
    for pid in PARTICIPANTS:
        expect(run_row(page, pid).locator(".chip")).to_have_count(2)  # workloads, did
        expect(card(page, pid).locator(".pill")).to_have_text("torn down")
    assert [(r["action"], r["source"]) for r in server.runs()] == [("teardown", "button")]


def test_keyboard_and_narrow_screen(idle_server, chromium):
    server = idle_server
    context = chromium.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        open_dashboard(page, server)
        # Readable at 375 px: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        # Focus order: skip link, then the actions in reading order.
        order = []
        for _ in range(5):
            page.keyboard.press("Tab")
            order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent"))
        assert order == ["Skip to content", "btn-provision", "btn-reset", "btn-teardown", "btn-token"]
        # Every control has an accessible name; the token field has its label.
        for button in page.get_by_role("button").all():
            if button.is_visible():
                assert button.inner_text().strip()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_role("button", name="Deploy")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("textbox", name="API token")).to_be_focused()
        shot(page, "08-narrow-token-dialog", full_page=False)
        page.keyboard.press("Escape")
        expect(page.locator("#token-dialog")).to_be_hidden()
        expect(page.get_by_role("button", name="Deploy")).to_be_focused()
        shot(page, "09-narrow")
        assert server.runs() == []
    finally:
        context.close()
    assert not errors, errors
