"""Semantic Versioning 2.0.0: what parses, and that ``sort_key`` order is semver precedence."""

from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spoke.semver import SemVer, parse_semver
from spoke.testing import SEMVER_PRECEDENCE

# -- parsing ----------------------------------------------------------------------------------

VALID = [
    ("0.0.0", SemVer(0, 0, 0)),
    ("1.2.3", SemVer(1, 2, 3)),
    ("10.20.30", SemVer(10, 20, 30)),
    ("1.1.2-prerelease+meta", SemVer(1, 1, 2, ("prerelease",), "meta")),
    ("1.1.2+meta", SemVer(1, 1, 2, (), "meta")),
    ("1.1.2+meta-valid", SemVer(1, 1, 2, (), "meta-valid")),
    ("1.0.0-alpha", SemVer(1, 0, 0, ("alpha",))),
    ("1.0.0-alpha.1", SemVer(1, 0, 0, ("alpha", "1"))),
    ("1.0.0-0.3.7", SemVer(1, 0, 0, ("0", "3", "7"))),
    ("1.0.0-x.7.z.92", SemVer(1, 0, 0, ("x", "7", "z", "92"))),
    ("1.0.0-x-y-z.--", SemVer(1, 0, 0, ("x-y-z", "--"))),
    ("1.0.0-0A.is.legal", SemVer(1, 0, 0, ("0A", "is", "legal"))),
    ("1.0.0-00a", SemVer(1, 0, 0, ("00a",))),
    ("1.0.0-alpha+001", SemVer(1, 0, 0, ("alpha",), "001")),
    ("1.0.0+20130313144700", SemVer(1, 0, 0, (), "20130313144700")),
    ("1.0.0-beta+exp.sha.5114f85", SemVer(1, 0, 0, ("beta",), "exp.sha.5114f85")),
    ("1.0.0+21AF26D3----117B344092BD", SemVer(1, 0, 0, (), "21AF26D3----117B344092BD")),
    ("2.0.0-rc.1+build.123", SemVer(2, 0, 0, ("rc", "1"), "build.123")),
    ("999999999999999999.0.0", SemVer(999999999999999999, 0, 0)),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_versions_parse(text: str, expected: SemVer) -> None:
    parsed = parse_semver(text)
    assert parsed == expected
    assert str(parsed) == text
    assert parsed.is_prerelease == bool(expected.prerelease)


@pytest.mark.parametrize("text", ["v1.2.3", "v1.0.0-rc.1+b"])
def test_a_leading_v_is_accepted_and_dropped(text: str) -> None:
    assert str(parse_semver(text)) == text[1:]
    assert parse_semver(text).sort_key == parse_semver(text[1:]).sort_key


INVALID = [
    "",
    "1",
    "1.2",
    "1.2.3.4",
    "1.2.3.DEV",
    "1.2-SNAPSHOT",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "00.0.0",
    "1.2.3-01",
    "1.2.3-alpha.01",
    "1.2.3-",
    "1.2.3-alpha.",
    "1.2.3-.alpha",
    "1.2.3-alpha..1",
    "1.2.3+",
    "1.2.3+a..b",
    "1.2.3+.a",
    "1.2.3-+",
    "1.2.3-+meta",
    "1.2.3+meta+meta",
    "1.2.3-alpha_beta",
    "1.2.3-alpha beta",
    "1.2.3+ümlaut",
    " 1.2.3",
    "1.2.3 ",
    "V1.2.3",
    "vv1.2.3",
    "v",
    "-1.2.3",
    "+1.2.3",
    "1.-2.3",
    "a.b.c",
    "1.2.3/4",
    "1.0.0-" + "a" * 123,  # 129 characters
    "1000000000000000000.0.0",  # 19 digits
    "0.0.1000000000000000000",
    "1.0.0-" + "1" * 100,  # numeric prerelease identifier of 100 digits
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_versions_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_semver(text)


def test_limits_are_inclusive() -> None:
    assert len(str(parse_semver("1.0.0-" + "a" * 122))) == 128
    assert parse_semver("1.0.0-" + "1" * 99).prerelease == ("1" * 99,)


@pytest.mark.parametrize("text", [None, 1, b"1.0.0"])
def test_non_strings_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_semver(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["1.0.0\n", "1.0.0+b\n", "1.1\u0661.0", "1.0.0-1\u0661"])
def test_newline_and_non_ascii_digits_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_semver(text)


# -- precedence -------------------------------------------------------------------------------


def _key(text: str) -> str:
    return parse_semver(text).sort_key


def test_semver_org_precedence_list() -> None:
    chain = [*SEMVER_PRECEDENCE, "2.1.0", "2.1.1"]
    keys = [_key(v) for v in chain]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_builders_precedence_list_is_ascending() -> None:
    keys = [_key(v) for v in SEMVER_PRECEDENCE]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0.0-rc.1", "1.0.0"),  # a release outranks its prereleases
        ("1.0.0-zzz", "1.0.0"),
        ("1.0.0-99999", "1.0.0"),
        ("1.0.0", "1.0.1-alpha"),  # ... but not the next patch's prereleases
        ("0.99.99", "1.0.0-0"),
        ("1.9.0", "1.10.0"),
        ("9.0.0", "10.0.0"),
        ("1.0.9", "1.0.10"),
        ("1.0.0-1", "1.0.0-a"),  # numeric identifiers rank below alphanumeric ones
        ("1.0.0-999", "1.0.0-0a"),
        ("1.0.0-9", "1.0.0-10"),
        ("1.0.0-2.9", "1.0.0-2.10"),
        ("1.0.0-a", "1.0.0-a.0"),  # a shorter list of equal identifiers ranks lower
        ("1.0.0-a.b", "1.0.0-a-"),
        ("1.0.0-a.z", "1.0.0-a0"),
        ("1.0.0-A", "1.0.0-a"),  # ASCII order
        ("1.0.0--", "1.0.0-0a"),
        ("1.0.0-alpha.9", "1.0.0-alpha.a"),
        ("1.0.0-x.1", "1.0.0-x.1.0"),
    ],
)
def test_precedence_pairs(lower: str, higher: str) -> None:
    assert _key(lower) < _key(higher)


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.0.0", "1.0.0+build"), ("1.0.0-rc.1+a", "1.0.0-rc.1+b"), ("v2.0.0", "2.0.0+x.y")],
)
def test_build_metadata_is_ignored_for_precedence(a: str, b: str) -> None:
    assert _key(a) == _key(b)


def test_release_and_prerelease_keys_are_told_apart() -> None:
    assert "-" not in _key("1.2.3")
    assert "-" in _key("1.2.3-alpha")
    assert "-" in _key("1.2.3-0")


# -- property: sort_key order equals a straightforward reading of the specification ----------


def reference_compare(a: str, b: str) -> int:
    """semver.org section 11, written out directly: -1, 0 or 1."""

    def split(text: str) -> tuple[list[int], list[str]]:
        text = text.removeprefix("v").split("+", 1)[0]
        core, _, pre = text.partition("-")
        return [int(n) for n in core.split(".")], pre.split(".") if pre else []

    (core_a, pre_a), (core_b, pre_b) = split(a), split(b)
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    if not pre_a or not pre_b:
        return (not pre_a) - (not pre_b)  # a release outranks a prerelease
    for x, y in zip(pre_a, pre_b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    return (len(pre_a) > len(pre_b)) - (len(pre_a) < len(pre_b))


_ALNUM = string.ascii_letters + string.digits + "-"
numbers = st.one_of(st.integers(0, 3), st.integers(0, 10**18 - 1))
numeric_ids = st.one_of(st.integers(0, 12), st.integers(0, 10**40)).map(str)
alphanumeric_ids = st.one_of(
    st.sampled_from(["alpha", "beta", "rc", "a", "A", "Z", "z", "-", "--", "a-", "0a", "1-"]),
    st.text(_ALNUM, min_size=1, max_size=6).filter(lambda s: not s.isdigit()),
)
identifiers = st.one_of(numeric_ids, alphanumeric_ids)
builds = st.lists(st.text(_ALNUM, min_size=1, max_size=4), max_size=2)


@st.composite
def versions(draw: st.DrawFn) -> str:
    text = ".".join(str(draw(numbers)) for _ in range(3))
    prerelease = draw(st.lists(identifiers, max_size=4))
    if prerelease:
        text += "-" + ".".join(prerelease)
    build = draw(builds)
    if build:
        text += "+" + ".".join(build)
    if draw(st.booleans()) and draw(st.booleans()):
        text = "v" + text
    assume(len(text) <= 128)
    return text


def _sign(a: str, b: str) -> int:
    return (a > b) - (a < b)


@settings(max_examples=400, deadline=None)
@given(versions(), versions())
def test_sort_key_order_is_reference_precedence(a: str, b: str) -> None:
    assert _sign(_key(a), _key(b)) == reference_compare(a, b)


@settings(max_examples=150, deadline=None)
@given(st.lists(versions(), min_size=2, max_size=12))
def test_sorting_by_sort_key_matches_the_reference(texts: list[str]) -> None:
    ordered = sorted(texts, key=_key)
    for lower, higher in itertools.pairwise(ordered):
        assert reference_compare(lower, higher) <= 0


@settings(max_examples=200, deadline=None)
@given(versions())
def test_generated_versions_round_trip(text: str) -> None:
    parsed = parse_semver(text)
    assert str(parsed) == text.removeprefix("v")
    assert parse_semver(str(parsed)) == parsed
