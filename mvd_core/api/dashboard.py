"""The dashboard: ``static/index.html`` with its CSS and JS under ``/static``, the same files
on both hosts (``mvd serve`` serves the directory, the Functions app ``asset()``), and the
headers every response carries.

The page has no inline script or style, so the Content-Security-Policy allows only files
from the page's own origin and nothing may frame it."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

_POLICY_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # the page's empty favicon is a data: URL
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(_POLICY_DIRECTIVES)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}
STATIC_FILES = resources.files("mvd_core.api").joinpath("static")
# name under /static -> media type; nothing else is served from there.
ASSETS = {
    "common.js": "text/javascript",
    "app.js": "text/javascript",
    "connector.js": "text/javascript",
    "onboarding.js": "text/javascript",
    "style.css": "text/css",
}


@lru_cache(maxsize=len(ASSETS) + 1)
def _read(name: str) -> bytes:
    return STATIC_FILES.joinpath(name).read_bytes()


def page() -> bytes:
    """index.html, which loads /static/style.css and /static/app.js."""
    return _read("index.html")


def asset(name: str) -> tuple[bytes, str] | None:
    """A file under /static and its media type; None for any other name."""
    media_type = ASSETS.get(name)
    return None if media_type is None else (_read(name), media_type)
