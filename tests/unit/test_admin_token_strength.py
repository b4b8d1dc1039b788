"""SPOKE_ADMIN_TOKEN must resist guessing: placeholders, short and repetitive tokens are refused
by the settings parser, so every command stops on them with one line naming the variable."""

from __future__ import annotations

import random
import secrets
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from spoke.cli import main
from spoke.settings import SettingsError, load_settings
from spoke.settings_parsers import MIN_ADMIN_TOKEN_LENGTH

HINT = "generate one with `openssl rand -hex 32`"
URLSAFE = string.ascii_letters + string.digits + "-_"

REFUSED = {
    # well-known placeholders, in any case
    "CHANGEME": "is a well-known placeholder",
    "changeme": "is a well-known placeholder",
    "Secret": "is a well-known placeholder",
    "password": "is a well-known placeholder",
    "token": "is a well-known placeholder",
    "ADMIN": "is a well-known placeholder",
    "example": "is a well-known placeholder",
    "test": "is a well-known placeholder",
    "xxx": "is a well-known placeholder",
    "X" * 40: "is a well-known placeholder",
    # long values that say they are placeholders
    "CHANGEME-generate-with-openssl-rand-hex-32": "contains 'changeme'",
    "please-Change_Me-before-deploying-this-one": "contains 'change_me'",
    "REPLACE-WITH-A-LONG-RANDOM-TOKEN-0123456789": "contains 'replace'",
    "my-example-admin-token-0123456789abcdef": "contains 'example'",
    "the-admin-password-is-0123456789abcdef": "contains 'password'",
    # short ones
    "a": "is 1 characters long; it needs at least 32",
    "0123456789abcdef0123456789abcde": "is 31 characters long; it needs at least 32",
    "   ": "is blank",
    # repetitive ones
    "abcd" * 10: "is one short string repeated",
    "Sp0ke!42" * 5: "is one short string repeated",
}


@pytest.mark.parametrize("token", sorted(REFUSED))
def test_a_weak_admin_token_is_refused_naming_the_variable_never_the_token(token: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"SPOKE_ADMIN_TOKEN": token})
    message = str(caught.value)
    assert caught.value.variable == "SPOKE_ADMIN_TOKEN"
    assert message.startswith("SPOKE_ADMIN_TOKEN: the admin token ")
    assert REFUSED[token] in message
    assert message.endswith(HINT)
    if len(token.strip()) > 8:
        assert token not in message


def test_a_weak_token_in_the_file_is_refused_naming_the_file_variable(tmp_path: Path) -> None:
    secret = tmp_path / "admin-token"
    secret.write_text("changeme\n")
    with pytest.raises(SettingsError) as caught:
        load_settings({"SPOKE_ADMIN_TOKEN_FILE": str(secret)})
    assert caught.value.variable == "SPOKE_ADMIN_TOKEN_FILE"
    assert "well-known placeholder" in str(caught.value)


@pytest.mark.parametrize(
    "token",
    [secrets.token_hex(16), secrets.token_hex(32), secrets.token_urlsafe(32)],
    ids=["hex-16", "hex-32", "urlsafe-32"],
)
def test_the_documented_generators_make_accepted_tokens(token: str) -> None:
    assert len(token) >= MIN_ADMIN_TOKEN_LENGTH
    assert load_settings({"SPOKE_ADMIN_TOKEN": token}).admin_token == token


def test_random_tokens_are_never_mistaken_for_placeholders() -> None:
    # Seeded, so the run is the same every time: 2,000 tokens of the two documented shapes.
    rng = random.Random(20260110)
    for _ in range(1000):
        hex_token = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        urlsafe = "".join(rng.choice(URLSAFE) for _ in range(43))
        assert load_settings({"SPOKE_ADMIN_TOKEN": hex_token}).admin_token == hex_token
        assert load_settings({"SPOKE_ADMIN_TOKEN": urlsafe}).admin_token == urlsafe


@pytest.mark.parametrize("command", [["settings"], ["serve"], ["backup", "--output", "x.tar"]])
def test_every_command_stops_on_a_placeholder_token_with_exit_2(
    command: list[str], tmp_path: Path
) -> None:
    env = {
        "SPOKE_ADMIN_TOKEN": "CHANGEME",
        "SPOKE_STORAGE_TYPE": "memory",
        "SPOKE_FILESYSTEM_ROOT": str(tmp_path / "data"),
    }
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 2, result.output
    assert result.output == (
        "spoke: configuration error: SPOKE_ADMIN_TOKEN: the admin token is a well-known "
        f"placeholder, not a secret; {HINT}\n"
    )
