"""The compatibility benchmark's module pair still compiles and still differs.

The benchmark itself never runs in the test suite (it times things); this only guards its input,
so that a change to the generator is noticed here rather than halfway through a benchmark run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from spoke.compat import check
from spoke.protobuf import compile_files

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


Pair = tuple[dict[str, str], dict[str, str]]


def _generator() -> Callable[[int], Pair]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from compat_pair import make_pair
    finally:
        sys.path.remove(str(BENCHMARKS))
    return make_pair


@pytest.fixture(scope="module")
def pair() -> Pair:
    return _generator()(50)


def test_both_sides_have_the_same_fifty_paths(pair: Pair) -> None:
    old, new = pair
    assert len(old) == 50
    assert old.keys() == new.keys()


def test_both_sides_compile_and_differ(pair: Pair) -> None:
    old, new = pair
    changed = [path for path in old if old[path] != new[path]]
    assert len(changed) == 8
    old_set = compile_files(files=old).descriptor_set
    new_set = compile_files(files=new).descriptor_set
    assert old_set != new_set
    found = check(old_set, new_set, category="FILE", targets_old=old, targets_new=new)
    assert {v.file for v in found} <= set(changed)
    assert found, "the pair must give the checker something to report"


def test_too_few_files_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        _generator()(10)
