"""Settings from SPOKE_* variables: defaults, parsing, and one clear error per bad value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from spoke.settings import SETTINGS, Settings, SettingsError, load_settings


def test_defaults_match_the_documented_defaults() -> None:
    settings = load_settings({})
    assert settings.host == "0.0.0.0"
    assert settings.port == 8080
    assert settings.health_port == 9090
    assert settings.storage_type == "filesystem"
    assert settings.effective_blob_type == "filesystem"
    assert settings.effective_cache_type == "memory"
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert settings.shutdown_timeout == 30.0
    assert settings.filesystem_root == Path("./spoke-data")


def test_dataclass_defaults_equal_the_environment_defaults() -> None:
    # Two sources of defaults must never drift apart.
    assert load_settings({}) == dataclasses.replace(Settings(), environ=load_settings({}).environ)


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("15s", 15.0), ("2m", 120.0), ("45", 45.0), ("500ms", 0.5), ("1h", 3600.0), ("1.5s", 1.5)],
)
def test_durations_accept_units_or_plain_seconds(raw: str, seconds: float) -> None:
    assert load_settings({"SPOKE_SHUTDOWN_TIMEOUT": raw}).shutdown_timeout == seconds


@pytest.mark.parametrize(
    ("raw", "size"), [("1024", 1024), ("10MiB", 10 * 1024**2), ("2k", 2048), ("1G", 1024**3)]
)
def test_sizes_accept_binary_suffixes(raw: str, size: int) -> None:
    assert load_settings({"SPOKE_MAX_BODY_BYTES": raw}).max_body_bytes == size


@pytest.mark.parametrize("raw", ["true", "TRUE", "1", "yes", "On"])
def test_booleans_accept_true_spellings(raw: str) -> None:
    assert load_settings({"SPOKE_METRICS_ENABLED": raw}).metrics_enabled is True


@pytest.mark.parametrize("raw", ["false", "False", "0", "no", "OFF"])
def test_booleans_accept_false_spellings(raw: str) -> None:
    assert load_settings({"SPOKE_METRICS_ENABLED": raw}).metrics_enabled is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SPOKE_PORT", "http"),
        ("SPOKE_PORT", "70000"),
        ("SPOKE_PORT", "0"),
        ("SPOKE_PORT", "-1"),
        ("SPOKE_HEALTH_PORT", "9o90"),
        ("SPOKE_THREADS", "0"),
        ("SPOKE_THREADS", "many"),
        ("SPOKE_SHUTDOWN_TIMEOUT", "soon"),
        ("SPOKE_SHUTDOWN_TIMEOUT", "-5s"),
        ("SPOKE_MAX_BODY_BYTES", "ten megabytes"),
        ("SPOKE_METRICS_ENABLED", "maybe"),
        ("SPOKE_LOG_LEVEL", "verbose"),
        ("SPOKE_LOG_FORMAT", "xml"),
        ("SPOKE_STORAGE_TYPE", "File System"),
        ("SPOKE_STORAGE_TYPE", "../etc"),
        ("SPOKE_HOST", "local host"),
        ("SPOKE_FILESYSTEM_ROOT", "   "),
    ],
)
def test_a_bad_value_is_an_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert "\n" not in str(caught.value)


def test_equal_ports_are_refused() -> None:
    with pytest.raises(SettingsError, match="SPOKE_HEALTH_PORT: must differ from SPOKE_PORT"):
        load_settings({"SPOKE_PORT": "9000", "SPOKE_HEALTH_PORT": "9000"})


def test_blob_type_follows_storage_type_unless_set() -> None:
    assert load_settings({"SPOKE_STORAGE_TYPE": "memory"}).effective_blob_type == "memory"
    settings = load_settings({"SPOKE_STORAGE_TYPE": "memory", "SPOKE_BLOB_TYPE": "filesystem"})
    assert settings.effective_blob_type == "filesystem"


def test_disabling_the_cache_selects_none() -> None:
    assert load_settings({"SPOKE_CACHE_ENABLED": "false"}).effective_cache_type == "none"


def test_empty_value_means_default() -> None:
    assert load_settings({"SPOKE_PORT": ""}).port == 8080


def test_plugins_can_read_their_own_spoke_variables() -> None:
    settings = load_settings({"SPOKE_MYPLUGIN_URL": "x://y", "HOME": "/root"})
    assert settings.environ["SPOKE_MYPLUGIN_URL"] == "x://y"
    assert "HOME" not in settings.environ
    assert "SPOKE_MYPLUGIN_URL" not in repr(settings)


def test_every_setting_is_documented_in_the_configuration_guide() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    for spec in SETTINGS:
        assert f"`{spec.env}`" in guide, f"{spec.env} is missing from docs/configuration.md"


def test_the_configuration_guide_names_no_setting_the_code_does_not_read() -> None:
    import re

    guide = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    known = {spec.env for spec in SETTINGS} | {spec.file_env for spec in SETTINGS if spec.file_env}
    mentioned = set(re.findall(r"`(SPOKE_[A-Z0-9_]+)`", guide))
    assert mentioned <= known, f"documented but not read: {sorted(mentioned - known)}"


def test_s3_bucket_selects_the_s3_blob_backend_unless_blob_type_is_set() -> None:
    assert load_settings({"SPOKE_S3_BUCKET": "spoke-blobs"}).effective_blob_type == "s3"
    settings = load_settings({"SPOKE_S3_BUCKET": "spoke-blobs", "SPOKE_BLOB_TYPE": "filesystem"})
    assert settings.effective_blob_type == "filesystem"


def test_redis_url_selects_the_redis_cache_unless_cache_type_is_set() -> None:
    assert load_settings({"SPOKE_REDIS_URL": "redis://r:6379/0"}).effective_cache_type == "redis"
    settings = load_settings({"SPOKE_REDIS_URL": "redis://r:6379/0", "SPOKE_CACHE_TYPE": "memory"})
    assert settings.effective_cache_type == "memory"
    assert load_settings({}).effective_cache_type == "memory"


def test_replica_urls_are_a_comma_separated_list() -> None:
    settings = load_settings(
        {"SPOKE_POSTGRES_REPLICA_URLS": "postgresql://a/db, postgresql://b/db,"}
    )
    assert settings.postgres_replica_urls == ("postgresql://a/db", "postgresql://b/db")


def test_secrets_never_appear_in_repr() -> None:
    settings = load_settings(
        {
            "SPOKE_POSTGRES_URL": "postgresql://spoke:hunter2@db/spoke",
            "SPOKE_S3_SECRET_KEY": "s3cr3t-key",
            "SPOKE_REDIS_PASSWORD": "r3d1s-pass",
        }
    )
    text = repr(settings)
    for secret in ("hunter2", "s3cr3t-key", "r3d1s-pass"):
        assert secret not in text


def test_a_bad_url_is_reported_without_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"SPOKE_POSTGRES_URL": "mysql://spoke:hunter2@db/spoke"})
    assert caught.value.variable == "SPOKE_POSTGRES_URL"
    assert "hunter2" not in str(caught.value)


def test_min_connections_above_max_is_refused() -> None:
    with pytest.raises(SettingsError, match="SPOKE_POSTGRES_MIN_CONNS"):
        load_settings({"SPOKE_POSTGRES_MIN_CONNS": "20", "SPOKE_POSTGRES_MAX_CONNS": "5"})


@pytest.mark.parametrize("bucket", ["A", "has_underscore", "-leading", "x" * 64])
def test_a_bad_bucket_name_is_refused(bucket: str) -> None:
    with pytest.raises(SettingsError, match="SPOKE_S3_BUCKET"):
        load_settings({"SPOKE_S3_BUCKET": bucket})
