"""Onboarding: the participants that joined since the last reset, invites and join attempts
(the store every reader shares: the API's join flow, the issuer's member set, the reset)."""

from mvd_core.onboarding.store import Invite, JoinRefused, Onboarded, OnboardingStore, exists, onboarded, open_store

__all__ = ["Invite", "JoinRefused", "Onboarded", "OnboardingStore", "exists", "onboarded", "open_store"]
