"""Empty or short credentials are refused when the control plane starts, with one line that
names the setting or file and never shows the secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import SecretStr, ValidationError

from mvd_core.errors import MvdError
from mvd_core.host import token
from mvd_core.settings import Settings, describe_invalid
from tests.fixtures.emulators import free_port

WEAK_TOKENS = ["", " ", "\xa0" * 20, "short-token", "x" * 15, " " + "y" * 20, "with a space-0123456789",
               "tab\tseparated-0123456789", "ünïcödé-token-0123456789"]


@pytest.mark.parametrize("value", WEAK_TOKENS)
def test_a_weak_api_token_setting_is_refused(value):
    with pytest.raises(ValidationError) as info:
        Settings(api_token=SecretStr(value))
    line = describe_invalid(info.value)
    assert line.startswith("invalid settings: MVD_API_TOKEN (") and "at least 16 characters" in line
    assert "\n" not in line
    if value.strip():
        assert value not in line and value not in str(info.value)


def test_a_long_enough_token_is_taken_as_it_is():
    assert Settings(api_token=SecretStr("abcdefghij-_.~+/0123==")).api_token.get_secret_value() == "abcdefghij-_.~+/0123=="


@pytest.mark.parametrize("content", ["", "\n", "   \n", "hunter2\n", "q" * 15, "a token with spaces in it\n"])
def test_an_empty_or_short_token_file_is_refused_and_kept(tmp_path, content):
    settings = Settings(home=tmp_path)
    path = tmp_path / token.TOKEN_FILE
    path.write_text(content)
    for read in (token.load_or_create, token.read):
        with pytest.raises(MvdError, match="at least 16 characters") as info:
            read(settings)
        assert str(path) in info.value.message and "delete the file" in info.value.message
        if content.strip():
            assert content.strip() not in info.value.message.replace(str(path), "")
    assert path.read_text() == content  # nothing is replaced without being asked


def test_a_token_file_with_its_line_break_is_the_token(tmp_path):
    (tmp_path / token.TOKEN_FILE).write_text("a-good-token-0123456789\n")
    assert token.load_or_create(Settings(home=tmp_path)) == ("a-good-token-0123456789", False)


def _serve(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MVD_")}
    environment.update(MVD_HOME=str(tmp_path / "home"), MVD_PORT=str(free_port()), **env)
    return subprocess.run([sys.executable, "-m", "mvd_core", "serve"], env=environment, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize(("env", "words"), [
    ({"MVD_API_TOKEN": ""}, "MVD_API_TOKEN (Value error, the API token must be at least 16 characters"),
    ({"MVD_API_TOKEN": "hunter2"}, "MVD_API_TOKEN (Value error, the API token must be at least 16 characters"),
    ({"MVD_WEBHOOK_SECRETS": '{"ci": ""}'}, "MVD_WEBHOOK_SECRETS (Value error, the secret of source 'ci' is empty"),
    ({"MVD_WEBHOOK_SECRETS": '{"ci": "hunter2"}'}, "the secret of source 'ci' is empty or shorter than 16"),
])
def test_mvd_serve_refuses_to_start_with_a_weak_secret(tmp_path, env, words):
    done = _serve(tmp_path, **env)
    assert done.returncode == 2, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], lines
    assert "hunter2" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_mvd_serve_refuses_an_empty_token_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / token.TOKEN_FILE).write_text("")
    done = _serve(tmp_path)
    assert done.returncode == 1, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and f"{home / token.TOKEN_FILE}: the API token must be at least 16" in lines[0], lines
    assert (home / token.TOKEN_FILE).read_text() == ""
