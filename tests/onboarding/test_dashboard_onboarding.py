"""The dashboard's Onboarding panel in Debian's Chromium (Playwright), on a real `mvd serve` in
this process with the stand-in newcomers and seed connector of tests/api/test_participants.py:
a join shows each check with what it found, a refusal names the failed check, the newcomer is
listed with when it joined and when the next reset removes it, and Remove (with the API token)
takes it off the list and the participant list every catalog crawls."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.api.test_participants import newcomers, plane  # noqa: F401 - fixtures
from tests.browser.conftest import shot
from tests.e2e.conftest import TOKEN


def listed(p) -> list[str]:
    return [n["id"] for n in httpx.get(f"{p.url}/api/dataspace/participants.json", timeout=10).json()]


def test_join_shows_every_check_and_remove_takes_the_newcomer_off(plane, newcomers, page):  # noqa: F811
    did = newcomers.add("guest")
    bare = newcomers.add("bare", services=False)
    page.goto(plane.url + "/")
    meta = page.locator("#onboarding-meta")
    expect(meta).to_contain_text("Onboarding is open to anyone with a did:web DID: 0 of 20 places taken.")
    expect(meta.locator("time")).to_have_count(1)  # when the next reset removes them
    expect(meta).not_to_contain_text("[object")
    expect(page.locator("#onboarded-empty")).to_be_visible()
    expect(page.locator("#join-invite-field")).to_be_hidden()

    # a refusal: the failed check, why, and the checks that passed before it
    page.get_by_label("Your participant's did:web DID").fill(bare)
    page.get_by_role("button", name="Join").click()
    outcome = page.locator("#join-outcome")
    expect(outcome).to_have_attribute("data-outcome", "refused")
    expect(outcome).to_contain_text("Refused (422): the DID document of")
    expect(page.locator('[data-check="services"]')).to_have_class(re.compile("check-failed"))
    expect(page.locator('[data-check="resolves"]')).to_have_class(re.compile("check-ok"))
    expect(page.locator('[data-check="dsp"]')).to_have_count(0)
    shot(page, "onboarding-refused")

    page.get_by_label("Your participant's did:web DID").fill(did)
    page.get_by_role("button", name="Join").click()
    expect(outcome).to_have_attribute("data-outcome", "joined")
    expect(outcome).to_contain_text("Joined as localhost-")
    expect(page.locator(".check")).to_have_count(11)
    expect(page.locator(".check-failed")).to_have_count(0)
    expect(page.locator('[data-check="dsp"]')).to_contain_text("interstellar-assembly's connector asked")
    expect(meta).to_contain_text("1 of 20 places taken")
    item = page.locator(f'.onboarded-item[data-did="{did}"]')
    expect(item).to_contain_text("removed by the next reset at")
    expect(page.locator("#onboarded-empty")).to_be_hidden()
    assert did in listed(plane)
    shot(page, "onboarding-joined")

    # Remove asks for the token, then the newcomer is gone from the panel and the list
    item.get_by_role("button", name=re.compile("Remove")).click()
    page.locator("#token-input").fill(TOKEN)
    page.locator("#token-save").click()
    expect(page.locator("#message")).to_contain_text("was removed and its credentials revoked")
    expect(item).to_have_count(0)
    expect(page.locator(f'.removed-item[data-did="{did}"]')).to_contain_text("removed by hand")
    assert did not in listed(plane)
