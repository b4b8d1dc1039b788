"""README.md is the way into the documentation: every page is reachable from it, every command
of ``spoke`` is in its command list, and every choice of ``spoke check``'s options is named."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from spoke.cli import main
from spoke.cli_check import RULE_CATEGORIES
from spoke.compat import CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# Pages a reader must be able to find: every doc, the Kubernetes guide and the image's recipe.
PAGES = sorted({*(ROOT / "docs").rglob("*.md"), ROOT / "k8s" / "README.md", ROOT / "Containerfile"})
# [text](target) and [text](target#anchor); external links and pure anchors are not followed.
LINK = re.compile(r"\[[^\]]*\]\(([^)#\s]+)(?:#[^)\s]*)?\)")


def _links(page: Path) -> list[Path]:
    found = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        found.append((page.parent / target).resolve())
    return found


def _reachable_from_readme() -> dict[Path, Path]:
    """Every local file linked from README.md or from a Markdown page linked from it (followed
    transitively), mapped to the first page found linking it."""
    seen: dict[Path, Path] = {README.resolve(): README.resolve()}
    queue = [README.resolve()]
    while queue:
        page = queue.pop()
        for target in _links(page):
            if target in seen:
                continue
            seen[target] = page
            if target.suffix == ".md" and target.is_file():
                queue.append(target)
    return seen


def test_every_page_is_reachable_from_the_readme() -> None:
    reachable = _reachable_from_readme()
    missing = [str(page.relative_to(ROOT)) for page in PAGES if page.resolve() not in reachable]
    assert missing == [], f"linked from nowhere that README.md leads to: {missing}"


def test_every_local_link_on_the_way_points_at_a_file_that_exists() -> None:
    broken = [
        f"{source.relative_to(ROOT)} -> {target}"
        for target, source in _reachable_from_readme().items()
        if not target.exists()
    ]
    assert broken == []


def _readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_every_spoke_command_is_in_the_readmes_command_list() -> None:
    listed = set(re.findall(r"`spoke ([a-z][a-z-]*)", _readme_section("Command line")))
    commands = set(main.commands)
    assert commands, "no commands found on the click group"
    assert sorted(commands - listed) == [], "add them to README.md's Command line list"
    assert sorted(listed - commands) == [], "README.md lists commands spoke does not have"


def _choices(option: click.Option) -> list[str]:
    if isinstance(option.type, click.Choice):
        return [str(choice) for choice in option.type.choices]
    return option.metavar.split("|") if option.metavar and "|" in option.metavar else []


def test_the_rules_option_offers_every_category_of_the_checker() -> None:
    assert set(RULE_CATEGORIES) == set(CATEGORIES)


@pytest.mark.parametrize(
    "option",
    [p for p in main.commands["check"].params if isinstance(p, click.Option) and _choices(p)],
    ids=lambda option: option.opts[0],
)
def test_every_choice_of_a_check_option_is_named_in_the_readme(option: click.Option) -> None:
    section = _readme_section("Checking a change in CI")
    flag = option.opts[0]
    written = re.search(rf"`{flag} ([A-Za-z0-9_|]+)`", section)
    assert written is not None, f"README.md does not show {flag}'s choices"
    assert sorted(_choices(option)) == sorted(written.group(1).split("|")), flag
