"""The in-process LRU cache: byte budget, eviction order, ttl with a controlled clock, threads."""

from __future__ import annotations

import random
import threading

import pytest

import spoke.lru as lru_module
from spoke.lru import LRUCache, ObjectLRU


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(lru_module, "monotonic", fake)
    return fake


def _present(cache: LRUCache, keys: list[str]) -> list[str]:
    return [k for k in keys if cache.get(key=k) is not None]


def test_byte_budget_is_respected() -> None:
    cache = LRUCache(max_bytes=100)
    keys = [f"k{i}" for i in range(10)]
    for key in keys:
        cache.set(key=key, value=b"x" * 30)
        assert cache.size_bytes <= 100
    assert cache.size_bytes == 90
    assert _present(cache, keys) == ["k7", "k8", "k9"]


def test_a_value_of_exactly_the_budget_is_kept_alone() -> None:
    cache = LRUCache(max_bytes=64)
    cache.set(key="small", value=b"s")
    cache.set(key="full", value=b"f" * 64)
    assert cache.get(key="full") == b"f" * 64
    assert cache.get(key="small") is None
    assert cache.size_bytes == 64


def test_least_recently_used_goes_first_and_get_refreshes() -> None:
    cache = LRUCache(max_bytes=90)
    for key in ("a", "b", "c"):
        cache.set(key=key, value=key.encode() * 30)
    assert cache.get(key="a") == b"a" * 30  # a is now the most recently used
    cache.set(key="d", value=b"d" * 30)  # evicts b
    cache.set(key="e", value=b"e" * 30)  # evicts c: order was c, a, d
    assert cache.size_bytes == 90
    assert _present(cache, ["a", "b", "c", "d", "e"]) == ["a", "d", "e"]


def test_set_refreshes_recency_too() -> None:
    cache = LRUCache(max_bytes=60)
    cache.set(key="a", value=b"1" * 30)
    cache.set(key="b", value=b"2" * 30)
    cache.set(key="a", value=b"3" * 30)
    cache.set(key="c", value=b"4" * 30)
    assert _present(cache, ["a", "b", "c"]) == ["a", "c"]


def test_one_big_value_evicts_several_small_ones() -> None:
    cache = LRUCache(max_bytes=100)
    for i in range(10):
        cache.set(key=f"s{i}", value=b"x" * 10)
    cache.set(key="big", value=b"y" * 75)
    assert cache.size_bytes == 95
    assert _present(cache, [f"s{i}" for i in range(10)]) == ["s8", "s9"]


def test_a_value_bigger_than_the_budget_is_not_stored() -> None:
    cache = LRUCache(max_bytes=10)
    cache.set(key="keep", value=b"12345")
    cache.set(key="huge", value=b"x" * 11)
    assert cache.get(key="huge") is None
    assert cache.get(key="keep") == b"12345"
    assert cache.size_bytes == 5


def test_overwriting_with_a_value_bigger_than_the_budget_forgets_the_old_one() -> None:
    cache = LRUCache(max_bytes=10)
    cache.set(key="k", value=b"old")
    cache.set(key="k", value=b"x" * 11)
    assert cache.get(key="k") is None  # never serve the stale value
    assert cache.size_bytes == 0


def test_overwrite_adjusts_the_size() -> None:
    cache = LRUCache(max_bytes=100)
    cache.set(key="k", value=b"x" * 50)
    assert cache.size_bytes == 50
    cache.set(key="k", value=b"y" * 10)
    assert cache.size_bytes == 10
    cache.set(key="k", value=b"z" * 80)
    assert cache.size_bytes == 80
    assert cache.get(key="k") == b"z" * 80


def test_delete_and_close_release_bytes() -> None:
    cache = LRUCache(max_bytes=100)
    cache.set(key="a", value=b"x" * 40)
    cache.set(key="b", value=b"y" * 40)
    cache.delete(key="a")
    assert cache.size_bytes == 40
    cache.delete(key="a")
    assert cache.size_bytes == 40
    cache.close()
    assert cache.size_bytes == 0
    assert cache.get(key="b") is None


def test_zero_budget_keeps_only_empty_values() -> None:
    cache = LRUCache(max_bytes=0)
    cache.set(key="a", value=b"x")
    assert cache.get(key="a") is None
    cache.set(key="e", value=b"")
    assert cache.get(key="e") == b""
    assert cache.size_bytes == 0


def test_ttl_expires_on_read_and_frees_bytes(clock: FakeClock) -> None:
    cache = LRUCache(max_bytes=100)
    cache.set(key="short", value=b"x" * 10, ttl=5)
    cache.set(key="forever", value=b"y" * 10)
    clock.now += 4.999
    assert cache.get(key="short") == b"x" * 10
    clock.now += 0.001
    assert cache.get(key="short") is None
    assert cache.size_bytes == 10
    clock.now += 10**6
    assert cache.get(key="forever") == b"y" * 10


def test_overwrite_replaces_the_ttl(clock: FakeClock) -> None:
    cache = LRUCache(max_bytes=100)
    cache.set(key="k", value=b"1", ttl=1)
    cache.set(key="k", value=b"2")
    clock.now += 2
    assert cache.get(key="k") == b"2"
    cache.set(key="k", value=b"3", ttl=1)
    clock.now += 2
    assert cache.get(key="k") is None


def test_thread_safety_smoke() -> None:
    cache = LRUCache(max_bytes=4096)
    keys = [f"key{i}" for i in range(64)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        try:
            for _ in range(3000):
                key = rng.choice(keys)
                action = rng.random()
                if action < 0.5:
                    cache.set(key=key, value=bytes([seed]) * rng.randint(0, 300))
                elif action < 0.9:
                    value = cache.get(key=key)
                    assert value is None or len(set(value)) <= 1
                else:
                    cache.delete(key=key)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    held = [cache.get(key=k) for k in keys]
    assert sum(len(v) for v in held if v is not None) == cache.size_bytes
    assert cache.size_bytes <= 4096


def test_object_lru_keeps_at_most_max_items_and_evicts_the_least_recent() -> None:
    cache: ObjectLRU[str, int] = ObjectLRU(max_items=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)
