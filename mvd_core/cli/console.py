"""Terminal output shared by every command: one rich console for results, one for problems."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

# No emoji codes: DIDs and keys contain ":word:" runs that rich would turn into pictures.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def fail(message: str) -> None:
    """One error line; the message is shown as text, never read as markup."""
    err.print(Text.assemble(("error:", "bold red"), " ", message))
