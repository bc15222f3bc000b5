"""What identity is given to keep a participant's key in: one participant's secret store.

The stores themselves (the local file vault, Azure Key Vault) live in
``mvd_core.platforms.secrets`` and implement this Protocol; identity never opens one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from mvd_core.errors import MvdError


@runtime_checkable
class SecretStore(Protocol):
    """One participant's vault."""

    description: str  # where the secrets live, for messages (never a credential)

    def get(self, name: str) -> str | None:
        """The secret's value, or None when it does not exist."""
        ...

    def set(self, name: str, value: str) -> None:
        """Create or replace the secret."""
        ...

    def delete(self, name: str) -> bool:
        """Remove the secret; False when it did not exist."""
        ...


class UnreadableSecret(MvdError):
    """A stored secret that is not text (a damaged or foreign file); never carries its bytes."""
