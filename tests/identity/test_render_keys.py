"""`mvd render` puts each participant's real public key into its did.json, and no rendered
file carries private key material."""

from __future__ import annotations

import json

import pydid
from typer.testing import CliRunner

from mvd_core.cli import app
from mvd_core.dataspace import load
from mvd_core.dataspace.targets import apply_targets
from mvd_core.identity import keys
from mvd_core.identity.document import verification_keys
from mvd_core.platforms.secrets import open_secret_store
from mvd_core.settings import get_settings


def test_render_uses_the_vault_keys_and_leaks_nothing(tmp_path):
    out = tmp_path / "out"
    first = CliRunner().invoke(app, ["render", "--targets", "embedded", "--out", str(out)])
    assert first.exit_code == 0, first.output
    settings = get_settings()
    dataspace = apply_targets(load(), "embedded")
    private_values = []
    for participant in dataspace.participants:
        store = open_secret_store(participant.vault, participant.id, settings)
        public = keys.public_key(store, participant.id)
        assert public is not None, f"{participant.id}: render created no key"
        private_values.append(json.loads(store.get(keys.secret_name(participant.id)))["d"])
        document = json.loads((out / participant.id / "did.json").read_text())
        assert verification_keys(document) == [public]
        assert str(pydid.deserialize_document(document).id) == document["id"]

    # rendering again: the same keys, the same files
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = CliRunner().invoke(app, ["render", "--targets", "embedded", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before

    rendered = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file()) + first.output + again.output
    assert all(value not in rendered for value in private_values)
    assert '"d":' not in rendered and '"d" :' not in rendered
