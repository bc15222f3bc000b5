"""The dashboard page. ``mvd serve`` serves ``static/index.html`` with its CSS and JS under
``/static``; a host that serves only the page itself (the Functions app, where routes live
under ``/api``) uses ``page_html()``, the same page with both files inlined."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from mvd_core.errors import MvdError

STYLESHEET_TAG = '<link rel="stylesheet" href="/static/style.css">'
SCRIPT_TAG = '<script src="/static/app.js" defer></script>'


def _asset(name: str) -> str:
    return resources.files("mvd_core.api").joinpath("static", name).read_text("utf-8")


@lru_cache(maxsize=1)
def page_html() -> str:
    """index.html with style.css and app.js inlined (app.js waits for DOMContentLoaded)."""
    page, css, js = _asset("index.html"), _asset("style.css"), _asset("app.js")
    if STYLESHEET_TAG not in page or SCRIPT_TAG not in page:
        raise MvdError("the packaged dashboard index.html no longer links /static/style.css and /static/app.js")
    if "</style" in css.lower() or "</script" in js.lower():
        raise MvdError("a dashboard asset contains a closing tag and cannot be inlined")
    return page.replace(STYLESHEET_TAG, f"<style>\n{css}</style>").replace(SCRIPT_TAG, f"<script>\n{js}</script>")
