"""Secrets from ``<NAME>_FILE``, the settings the plugins and tracing read, and their checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import spoke
from spoke.settings import (
    MAX_SECRET_FILE_BYTES,
    SETTINGS,
    Settings,
    SettingsError,
    load_settings,
)

SECRETS = {
    "SPOKE_POSTGRES_URL": ("postgres_url", "postgresql://spoke:hunter2@db/spoke"),
    "SPOKE_POSTGRES_REPLICA_URLS": (
        "postgres_replica_urls",
        "postgresql://spoke:hunter2@r1/spoke,postgresql://spoke:hunter2@r2/spoke",
    ),
    "SPOKE_REDIS_URL": ("redis_url", "redis://:hunter2@redis:6379/0"),
    "SPOKE_REDIS_PASSWORD": ("redis_password", "hunter2"),
    "SPOKE_S3_ACCESS_KEY": ("s3_access_key", "AKIAHUNTER2"),
    "SPOKE_S3_SECRET_KEY": ("s3_secret_key", "hunter2/secret+key"),
    "SPOKE_ADMIN_TOKEN": ("admin_token", "hunter2-token-9f4c1e7b2a6d8305abc4"),
}


def test_the_secret_settings_are_exactly_the_documented_seven() -> None:
    assert {spec.env for spec in SETTINGS if spec.secret} == set(SECRETS)
    assert {spec.file_env for spec in SETTINGS if spec.file_env} == {
        f"{name}_FILE" for name in SECRETS
    }
    assert all(spec.file_env is None for spec in SETTINGS if not spec.secret)


@pytest.mark.parametrize("variable", sorted(SECRETS))
def test_a_secret_file_gives_the_same_value_as_the_variable(tmp_path: Path, variable: str) -> None:
    attribute, value = SECRETS[variable]
    secret = tmp_path / "secret"
    secret.write_text(value + "\n")
    from_file = load_settings({f"{variable}_FILE": str(secret)})
    from_variable = load_settings({variable: value})
    assert getattr(from_file, attribute) == getattr(from_variable, attribute)
    assert getattr(from_file, attribute)


@pytest.mark.parametrize("ending", ["", "\n", "\r\n", "\n\n"])
def test_trailing_newlines_are_removed(tmp_path: Path, ending: str) -> None:
    secret = tmp_path / "token"
    secret.write_bytes(b"s3cr3t-token-9f4c1e7b2a6d8305abc4 " + ending.encode())
    token = load_settings({"SPOKE_ADMIN_TOKEN_FILE": str(secret)}).admin_token
    assert token == "s3cr3t-token-9f4c1e7b2a6d8305abc4"


def test_setting_both_forms_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-file")
    with pytest.raises(SettingsError) as caught:
        load_settings({"SPOKE_ADMIN_TOKEN": "from-env", "SPOKE_ADMIN_TOKEN_FILE": str(secret)})
    assert caught.value.variable == "SPOKE_ADMIN_TOKEN_FILE"
    assert "SPOKE_ADMIN_TOKEN or SPOKE_ADMIN_TOKEN_FILE, not both" in str(caught.value)
    assert "from-env" not in str(caught.value) and "from-file" not in str(caught.value)


def test_an_empty_file_variable_counts_as_unset() -> None:
    token = "t0ken-9f4c1e7b2a6d8305abc4d1e2f3a4b5c6"
    settings = load_settings({"SPOKE_ADMIN_TOKEN": token, "SPOKE_ADMIN_TOKEN_FILE": ""})
    assert settings.admin_token == token


def _refusal(tmp_path: Path, setup: str) -> Path:
    path = tmp_path / "secret"
    if setup == "missing":
        return path
    if setup == "empty":
        path.write_text("")
    elif setup == "only newline":
        path.write_text("\n")
    elif setup == "too large":
        path.write_bytes(b"x" * (MAX_SECRET_FILE_BYTES + 1))
    elif setup == "directory":
        path.mkdir()
    elif setup == "not utf-8":
        path.write_bytes(b"\xff\xfehunter2")
    elif setup == "unreadable":
        path.write_text("hunter2")
        path.chmod(0)
    elif setup == "fifo":
        os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        ("missing", "No such file or directory"),
        ("empty", "is empty"),
        ("only newline", "is empty"),
        ("too large", "larger than 64 KiB"),
        ("directory", "not a regular file"),
        ("not utf-8", "not UTF-8"),
        ("unreadable", "Permission denied"),
        ("fifo", "not a regular file"),
    ],
)
def test_an_unusable_file_is_an_error_naming_the_variable_never_the_value(
    tmp_path: Path, setup: str, problem: str
) -> None:
    if setup == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = _refusal(tmp_path, setup)
    with pytest.raises(SettingsError) as caught:
        load_settings({"SPOKE_REDIS_PASSWORD_FILE": str(path)})
    message = str(caught.value)
    assert caught.value.variable == "SPOKE_REDIS_PASSWORD_FILE"
    assert message.startswith("SPOKE_REDIS_PASSWORD_FILE: ")
    assert problem in message
    assert str(path) in message
    assert "hunter2" not in message and "xxxx" not in message
    assert "\n" not in message


def test_a_file_of_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"k" * MAX_SECRET_FILE_BYTES)
    assert load_settings({"SPOKE_S3_SECRET_KEY_FILE": str(secret)}).s3_secret_key is not None


def test_a_bad_url_in_a_file_names_the_file_variable_not_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("mysql://spoke:hunter2@db/spoke\n")
    with pytest.raises(SettingsError) as caught:
        load_settings({"SPOKE_POSTGRES_URL_FILE": str(secret)})
    assert caught.value.variable == "SPOKE_POSTGRES_URL_FILE"
    assert "hunter2" not in str(caught.value)


def test_non_secrets_take_no_file_form(tmp_path: Path) -> None:
    port = tmp_path / "port"
    port.write_text("9999")
    assert load_settings({"SPOKE_PORT_FILE": str(port)}).port == 8080


def test_secrets_read_from_files_stay_out_of_repr(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("hunter2-token-9f4c1e7b2a6d8305abc4")
    settings = load_settings({"SPOKE_ADMIN_TOKEN_FILE": str(secret)})
    assert "hunter2" not in repr(settings)


# The plugins' options and tracing ------------------------------------------------------------


def test_plugin_options_have_the_defaults_the_plugins_used() -> None:
    settings = load_settings({})
    assert settings.redis_l1_ttl is None
    assert settings.redis_timeout == 0.25
    assert (settings.s3_connect_timeout, settings.s3_read_timeout) == (5.0, 30.0)
    assert settings.s3_max_attempts == 4


def test_tracing_defaults() -> None:
    settings = load_settings({})
    assert settings.otel_enabled is False
    assert settings.otel_endpoint is None
    assert settings.otel_service_name == "spoke"
    assert settings.otel_service_version == spoke.__version__
    assert settings.otel_sample_ratio == 1.0
    assert settings.admin_token is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SPOKE_REDIS_L1_TTL", "0"),
        ("SPOKE_REDIS_TIMEOUT", "soon"),
        ("SPOKE_S3_CONNECT_TIMEOUT", "0s"),
        ("SPOKE_S3_READ_TIMEOUT", "forever"),
        ("SPOKE_S3_MAX_ATTEMPTS", "21"),
        ("SPOKE_OTEL_ENABLED", "perhaps"),
        ("SPOKE_OTEL_ENDPOINT", "grpc://collector:4317"),
        ("SPOKE_OTEL_SAMPLE_RATIO", "1.5"),
        ("SPOKE_OTEL_SAMPLE_RATIO", "-0.1"),
        ("SPOKE_OTEL_SAMPLE_RATIO", "nan"),
        ("SPOKE_OTEL_SAMPLE_RATIO", "half"),
        ("SPOKE_OTEL_SERVICE_NAME", "   "),
    ],
)
def test_a_bad_new_value_is_an_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable


def test_tracing_needs_an_endpoint_whose_scheme_agrees_with_insecure() -> None:
    with pytest.raises(SettingsError, match="SPOKE_OTEL_ENDPOINT: must be set"):
        load_settings({"SPOKE_OTEL_ENABLED": "true"})
    with pytest.raises(SettingsError, match="SPOKE_OTEL_INSECURE: must be true"):
        load_settings({"SPOKE_OTEL_ENABLED": "1", "SPOKE_OTEL_ENDPOINT": "http://c:4317"})
    with pytest.raises(SettingsError, match="SPOKE_OTEL_INSECURE: is true"):
        load_settings(
            {
                "SPOKE_OTEL_ENABLED": "1",
                "SPOKE_OTEL_ENDPOINT": "https://c:4317",
                "SPOKE_OTEL_INSECURE": "true",
            }
        )
    plain = load_settings(
        {
            "SPOKE_OTEL_ENABLED": "1",
            "SPOKE_OTEL_ENDPOINT": "http://otel-collector:4317",
            "SPOKE_OTEL_INSECURE": "true",
            "SPOKE_OTEL_SAMPLE_RATIO": "0.25",
        }
    )
    assert (plain.otel_endpoint, plain.otel_insecure) == ("http://otel-collector:4317", True)
    assert plain.otel_sample_ratio == 0.25
    tls = load_settings({"SPOKE_OTEL_ENABLED": "1", "SPOKE_OTEL_ENDPOINT": "https://c:4317"})
    assert tls.otel_insecure is False
    # Disabled, nothing about the endpoint is checked.
    assert load_settings({"SPOKE_OTEL_ENDPOINT": "http://c:4317"}).otel_enabled is False


def test_the_dataclass_checks_apply_to_direct_construction() -> None:
    with pytest.raises(SettingsError, match="SPOKE_OTEL_ENDPOINT"):
        Settings(otel_enabled=True)
