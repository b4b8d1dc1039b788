"""``SPOKE_REDIS_URL`` parsing and the ``redis`` plugin's registration (no server needed)."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from spoke.plugins import PluginRegistry
from spoke.settings import SettingsError, load_settings
from spoke_plugins import redis_cache
from spoke_plugins.redis_url import RedisTarget, parse_redis_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://cache:6379/0", RedisTarget("standalone", (("cache", 6379),), 0)),
        ("redis://cache", RedisTarget("standalone", (("cache", 6379),), 0)),
        ("redis://cache:6380/3/", RedisTarget("standalone", (("cache", 6380),), 3)),
        ("rediss://cache:6380/1", RedisTarget("standalone", (("cache", 6380),), 1, ssl=True)),
        ("redis://[::1]:7000/2", RedisTarget("standalone", (("::1", 7000),), 2)),
        (
            "redis+sentinel://h1:26379,h2:26380/mymaster/0",
            RedisTarget("sentinel", (("h1", 26379), ("h2", 26380)), 0, "mymaster"),
        ),
        (
            "redis+sentinel://h1,h2/mymaster",
            RedisTarget("sentinel", (("h1", 26379), ("h2", 26379)), 0, "mymaster"),
        ),
    ],
)
def test_url_forms(url: str, expected: RedisTarget) -> None:
    assert parse_redis_url(url) == expected


def test_credentials_come_from_the_url_first() -> None:
    target = parse_redis_url("redis://app:s%40cret@cache:6379/4", password="other", db=9)
    assert (target.username, target.password, target.db) == ("app", "s@cret", 4)
    sentinel = parse_redis_url("redis+sentinel://:pw@h1:26379/m/2")
    assert (sentinel.username, sentinel.password, sentinel.db) == (None, "pw", 2)


def test_password_and_db_settings_apply_when_the_url_has_none() -> None:
    target = parse_redis_url("redis://cache:6379", password="fromenv", db=5)
    assert (target.password, target.db) == ("fromenv", 5)
    sentinel = parse_redis_url("redis+sentinel://h1:26379/m", password="fromenv", db=7)
    assert (sentinel.password, sentinel.db) == ("fromenv", 7)


def test_redacted_url_and_repr_hold_no_password() -> None:
    target = parse_redis_url("redis+sentinel://user:hunter2@h1:26379,h2:26379/m/1")
    assert target.redacted() == "redis+sentinel://h1:26379,h2:26379/m/1"
    assert "hunter2" not in repr(target) and "user" not in repr(target)
    assert parse_redis_url("rediss://:hunter2@c:1/0").redacted() == "rediss://c:1/0"


@pytest.mark.parametrize(
    "url",
    [
        "http://:hunter2@cache:6379/0",
        "redis://:hunter2@",
        "redis://:hunter2@cache:notaport/0",
        "redis://:hunter2@cache:70000/0",
        "redis://:hunter2@cache:6379/db0",
        "redis://:hunter2@cache:6379/0/extra",
        "redis://:hunter2@cache:6379/5000",
        "redis://:hunter2@h1:6379,h2:6379/0",
        "redis://:hunter2@cache:6379/0?ssl=true",
        "redis+sentinel://:hunter2@h1:26379",
        "redis+sentinel://:hunter2@h1:26379//0",
        "redis+sentinel://:hunter2@h1:26379/m/0/1",
        "redis+sentinel://:hunter2@h1:26379,/m/0",
        "redis://:hunter2@::1:6379/0",
    ],
)
def test_malformed_urls_are_settings_errors_without_the_password(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_redis_url(url)
    assert caught.value.variable == "SPOKE_REDIS_URL"
    assert "hunter2" not in str(caught.value)


def _registry() -> PluginRegistry:
    registry = PluginRegistry()
    registry.register(redis_cache, name="redis")
    return registry


def test_the_plugin_provides_the_redis_cache_backend() -> None:
    catalog = _registry().catalog()
    assert catalog.names("cache") == ["redis"]
    assert not catalog.failures


def test_the_factory_rejects_a_bad_url_without_echoing_the_password() -> None:
    backend = _registry().catalog().cache_backend("redis")
    settings = load_settings({"SPOKE_REDIS_URL": "redis://:hunter2@cache:6379/zero"})
    with pytest.raises(SettingsError) as caught:
        backend.factory(settings)
    assert "hunter2" not in str(caught.value)


def test_the_factory_needs_a_url() -> None:
    backend = _registry().catalog().cache_backend("redis")
    with pytest.raises(SettingsError, match="SPOKE_REDIS_URL"):
        backend.factory(load_settings({"SPOKE_CACHE_TYPE": "redis"}))


def test_the_plugin_duration_options_are_checked_with_the_settings() -> None:
    with pytest.raises(SettingsError, match="SPOKE_REDIS_L1_TTL"):
        load_settings({"SPOKE_REDIS_URL": "redis://127.0.0.1:1/0", "SPOKE_REDIS_L1_TTL": "soon"})
    with pytest.raises(SettingsError, match="SPOKE_REDIS_TIMEOUT"):
        load_settings({"SPOKE_REDIS_URL": "redis://127.0.0.1:1/0", "SPOKE_REDIS_TIMEOUT": "0"})
    backend = _registry().catalog().cache_backend("redis")
    cache = backend.factory(
        load_settings(
            {
                "SPOKE_REDIS_URL": "redis://127.0.0.1:1/0",
                "SPOKE_REDIS_L1_TTL": "2s",
                "SPOKE_REDIS_TIMEOUT": "100ms",
            }
        )
    )
    try:
        assert cache.l1_ttl == 2.0
    finally:
        cache.close()


def test_without_the_redis_package_the_plugin_is_listed_and_fails_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_redis(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "redis" or name.startswith("redis."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redis)
    catalog = _registry().catalog()
    assert catalog.names("cache") == ["redis"]
    settings = load_settings({"SPOKE_REDIS_URL": "redis://cache:6379/0"})
    with pytest.raises(SettingsError, match=r"pip install 'spoke\[redis\]'"):
        catalog.cache_backend("redis").factory(settings)
