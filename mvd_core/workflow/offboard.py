"""Participants leaving: one removed by ``DELETE /api/participants/{did}``, and every onboarded
participant by a reset. A removal is marked in the onboarding store first (so it leaves the
participant list and the issuer's member set at once), then its MembershipCredentials are
revoked on the issuer's status list, which every connector checks, and the store records that.
Each part can be repeated: a removal whose revocation a crash interrupted is revoked by the next
call (``revoke_removed``), and revoking twice changes nothing."""

from __future__ import annotations

from mvd_core.dataspace import Dataspace
from mvd_core.identity.issuer import Issuer, local_issuer
from mvd_core.logs import get_logger
from mvd_core.onboarding import Onboarded, open_store
from mvd_core.onboarding import exists as onboarding_exists
from mvd_core.platforms.secrets.local import LocalFileVault
from mvd_core.runs.models import Removal
from mvd_core.settings import Settings

log = get_logger(__name__)

ISSUER_VAULT = "issuer-vault"  # under MVD_HOME: the key `mvd serve`'s issuer signs with


def issuer(dataspace: Dataspace, settings: Settings) -> Issuer:
    """The dataspace issuer `mvd serve` runs, over the same vault and status list, its members
    the seed participants and the onboarded ones."""
    store = open_store(settings)
    return local_issuer(LocalFileVault(settings.home / ISSUER_VAULT), dataspace, settings, store.active_dids)


def revoke_removed(dataspace: Dataspace, settings: Settings) -> dict[str, int]:
    """Revoke the credentials of every removed participant not revoked yet: DID -> how many."""
    store = open_store(settings)
    pending = store.unrevoked()
    if not pending:
        return {}
    signer = issuer(dataspace, settings)
    revoked: dict[str, int] = {}
    for entry in pending:
        revoked[entry.did] = signer.revoke(entry.did)
        store.mark_revoked(entry.did)
        log.info("revoked %d credential(s) of %s (removed by %s)", revoked[entry.did], entry.did, entry.removed_by)
    return revoked


def removal(entry: Onboarded, revoked: dict[str, int]) -> Removal:
    return Removal(
        did=entry.did,
        participant_id=entry.participant_id,
        joined_at=entry.joined_at,
        removed_at=entry.removed_at,
        revoked=entry.did in revoked or entry.revoked_at is not None,
    )


def remove_one(dataspace: Dataspace, settings: Settings, did: str) -> Removal | None:
    """Remove the onboarded participant ``did`` (None: it is not one) and revoke its credentials."""
    entry = open_store(settings).remove(did, "api")
    if entry is None:
        return None
    log.info("removed onboarded participant %s (%s)", entry.participant_id, did)
    return removal(entry, revoke_removed(dataspace, settings))


def remove_all(dataspace: Dataspace, settings: Settings, run_id: str) -> list[Removal]:
    """What a reset does first: every onboarded participant removed by ``run_id`` and revoked.
    A retry (or a replay after a crash) answers the same list: the store keeps who removed whom.
    Nobody to remove, and no store created, where nobody ever joined (the Functions app)."""
    if not onboarding_exists(settings):
        return []
    removed = open_store(settings).remove_all(run_id)
    revoked = revoke_removed(dataspace, settings)
    if removed:
        log.info("removed %d onboarded participant(s): %s", len(removed), ", ".join(e.did for e in removed))
    return [removal(e, revoked) for e in removed]
