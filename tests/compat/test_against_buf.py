"""Spoke's breaking-change checker agrees with ``buf breaking`` (the oracle) on a corpus of
hand-written pairs and on random mutations, in every rule category."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from spoke.compat import CATEGORIES, IMPLEMENTED_RULES, RULES_BY_CATEGORY, check
from spoke.protobuf import compile_files
from spoke.testing.buf import buf_image as image

from .buf_oracle import BUF, breaking
from .cases import CASES as FILE_CASES
from .cases import F
from .cases_categories import CASES as CATEGORY_CASES
from .mutations import random_pairs

CASES = FILE_CASES + CATEGORY_CASES

if BUF is None:
    if os.environ.get("CI") == "true":
        pytest.fail("buf (PyPI buf-bin) is required under CI", pytrace=False)
    pytest.skip("buf is not on PATH (pip install buf-bin)", allow_module_level=True)

# Rules where Spoke intentionally differs from buf 1.75, and why (docs/compatibility.md).
# They are left out of the comparison; tests/compat/test_checker.py pins Spoke's behaviour.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _compare(old: dict[str, str], new: dict[str, str], tmp: Path) -> None:
    old_set = compile_files(files=old).descriptor_set
    new_set = compile_files(files=new).descriptor_set
    theirs_all = {
        found
        for found in breaking(image(old_set, set(old)), image(new_set, set(new)), tmp)
        if found[0] not in KNOWN_DIFFERENCES
    }
    for category in CATEGORIES:
        ours = {
            (v.rule, v.file)
            for v in check(
                old_set, new_set, category=category, targets_old=list(old), targets_new=list(new)
            )
            if v.rule not in KNOWN_DIFFERENCES
        }
        theirs = {found for found in theirs_all if found[0] in RULES_BY_CATEGORY[category]}
        assert ours == theirs, f"category {category}"


@pytest.mark.parametrize(("old", "new"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_agrees_with_buf(old: dict[str, str], new: dict[str, str], tmp_path: Path) -> None:
    _compare(old, new, tmp_path)


@pytest.mark.parametrize(("old", "new"), random_pairs(300, seed=4))
def test_random_mutation_agrees_with_buf(old: str, new: str, tmp_path: Path) -> None:
    try:
        _compare({F: old}, {F: new}, tmp_path)
    except AssertionError as failed:
        raise AssertionError(f"{failed}\nold:\n{old}\nnew:\n{new}") from None


def test_corpus_covers_every_implemented_rule() -> None:
    seen: set[str] = set()
    for _, old, new in CASES:
        old_set = compile_files(files=old).descriptor_set
        new_set = compile_files(files=new).descriptor_set
        for category in CATEGORIES:
            seen |= {
                v.rule
                for v in check(
                    old_set,
                    new_set,
                    category=category,
                    targets_old=list(old),
                    targets_new=list(new),
                )
            }
    assert set(IMPLEMENTED_RULES) - seen == set()


def test_categories_match_buf() -> None:
    """Spoke's category table is buf's own (``buf config ls-breaking-rules``), CSR aside."""
    assert BUF is not None
    listed = subprocess.run(
        [BUF, "config", "ls-breaking-rules", "--version", "v2", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    theirs: dict[str, set[str]] = {}
    for line in listed.splitlines():
        rule = json.loads(line)
        for category in rule["categories"]:
            if category in CATEGORIES:
                theirs.setdefault(category, set()).add(rule["id"])
    assert {c: set(r) for c, r in RULES_BY_CATEGORY.items()} == theirs
    assert set(IMPLEMENTED_RULES) == set().union(*theirs.values())
