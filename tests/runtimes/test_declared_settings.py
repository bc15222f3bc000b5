"""Every setting a RuntimeSpec renders is declared by a module on that runtime's assembled classpath.

What a runtime declares is read from its class files (EDC 0.15.1 publishes no settings
manifest): the ``@Setting`` annotations, with their ``context`` prefixes and ``@SettingContext``
configuration objects resolved.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mvd_core.dataspace.loader import load
from mvd_core.runtimes.assembly import classpath_of
from mvd_core.runtimes.declared import DeclaredSetting, declared_settings, is_declared
from mvd_core.runtimes.kinds import RUNTIME_KINDS, RuntimeKind
from mvd_core.runtimes.participant import participant_runtimes

OWN_JARS = ("mvd-",)


@pytest.fixture(scope="module")
def declared(edc_runtimes: dict[RuntimeKind, Path]) -> dict[RuntimeKind, dict[str, list[DeclaredSetting]]]:
    return {kind: declared_settings(classpath_of(edc_runtimes[kind])) for kind in RUNTIME_KINDS}


def test_every_rendered_key_is_declared_by_an_assembled_module(declared):
    counter = itertools.count(20000)
    undeclared = []
    for participant in load().participants:
        specs = participant_runtimes(
            participant, did=f"did:web:localhost%3A7080:dids:{participant.id}",
            issuer_did="did:web:localhost%3A7080:dids:issuer",
            participant_list_url="http://localhost:7080/api/participants.json",
            vault_path=Path("/vault"), ports=lambda runtime, api: next(counter),
        )
        for spec in specs:
            undeclared += [f"{spec.participant}/{spec.name}: {key}" for key in spec.settings
                           if not is_declared(key, declared[spec.kind])]
    assert not undeclared, "keys no module on the runtime's classpath declares:\n" + "\n".join(undeclared)


def test_the_reader_finds_what_edc_declares_and_what_it_does_not(declared):
    connector = declared["connector"]
    # a plain key on an extension field, with its default and the jar that declares it
    [management_port] = connector["web.http.management.port"]
    assert management_port.default == "8181" and management_port.jar == "management-api-configuration-0.15.1.jar"
    # a key prefixed by the annotation's context, with a placeholder segment
    assert is_declared("edc.iam.trusted-issuer.dataspace.id", connector)
    assert not is_declared("edc.iam.trusted-issuer.dataspace.id.extra", connector)
    # keys of a configuration object injected under @SettingContext
    assert "edc.negotiation.consumer.state-machine.batch-size" in connector
    # what the lab and the old Kubernetes render set but nothing reads
    for key in ("web.http.version.port", "edc.storage.type", "edc.ih.mode", "edc.vault.type", "edc.ui.enabled"):
        assert not is_declared(key, connector), key
    assert "web.http.management.port" not in declared["catalog"]  # the standalone catalog has no management API


def test_our_extension_keys_do_not_collide_with_edc_keys(declared):
    """Our own modules declare new keys only where EDC has none, except the stand-in STS client
    (same keys as EDC's unpublished module) and the public API context."""
    shared_on_purpose = {
        "edc.iam.sts.oauth.token.url", "edc.iam.sts.oauth.client.id", "edc.iam.sts.oauth.client.secret.alias",
        "web.http.public.port", "web.http.public.path", "edc.dataplane.api.public.baseurl",
    }
    ours = {}
    for kind in RUNTIME_KINDS:
        for key, where in declared[kind].items():
            owners = {d.jar.startswith(OWN_JARS) for d in where}
            if True in owners:
                ours[key] = owners
    assert {"edc.vault.file.path", "edc.catalog.nodes.url", "edc.membership.issuers", "edc.dcp.default.scopes",
            "edc.ih.superuser.key.alias"} <= set(ours)
    colliding = sorted(k for k, owners in ours.items() if False in owners and k not in shared_on_purpose)
    assert not colliding
    assert not any(".lab." in key for kind in RUNTIME_KINDS for key in declared[kind])
