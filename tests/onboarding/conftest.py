"""The browser fixtures of tests/browser (one Chromium for this package, as there), for the
Onboarding panel's tests."""

from tests.browser.conftest import chromium, page, pytest_runtest_makereport  # noqa: F401 - fixtures, hook
