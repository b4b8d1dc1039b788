"""A reader who follows k8s/README.md finds every file, variable, command, port and path it names,
and so does a reader of the pages it links (tracing, PostgreSQL and Redis high availability).

Commands are checked for what can be checked offline: every ``kubectl`` verb is a real one and
names objects, containers and labels the manifests create; every ``spoke`` command is a command
of the CLI with the options used; every ``kubectl apply -f`` file exists; the quick start applies
them in a working order.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from deploy_support import K8S, ROOT, config_map, load_manifests, pod_spec

from spoke import __version__
from spoke.cli import main
from spoke.settings import FILE_SUFFIX, SETTINGS

README = K8S / "README.md"
GUIDES = [
    README,
    ROOT / "docs" / "observability" / "otel-setup.md",
    ROOT / "docs" / "ha" / "postgresql-replication.md",
    ROOT / "docs" / "ha" / "redis-sentinel.md",
]
MANIFESTS = load_manifests()
SETTING_NAMES = {spec.env for spec in SETTINGS}
KNOWN_VARIABLES = SETTING_NAMES | {spec.env + FILE_SUFFIX for spec in SETTINGS if spec.secret}
KUBECTL_VERBS = {
    "apply",
    "create",
    "delete",
    "describe",
    "exec",
    "get",
    "logs",
    "patch",
    "port-forward",
    "rollout",
    "scale",
    "top",
    "wait",
}
KINDS = {
    "deploy": "Deployment",
    "deployment": "Deployment",
    "job": "Job",
    "cronjob": "CronJob",
    "svc": "Service",
    "service": "Service",
    "hpa": "HorizontalPodAutoscaler",
    "ingress": "Ingress",
}
CODE_BLOCK = re.compile(r"^ *```[a-z]*\n(.*?)^ *```", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _code_blocks(path: Path) -> list[str]:
    return CODE_BLOCK.findall(path.read_text())


def _commands(path: Path, program: str) -> list[str]:
    """Every command line of ``program`` in the code blocks and inline code, continuation lines
    joined, comments and pipes cut off."""
    found = []
    pieces = [*_code_blocks(path), *INLINE_CODE.findall(path.read_text())]
    for piece in pieces:
        for line in piece.replace("\\\n", " ").splitlines():
            for part in line.split("|"):
                words = part.split(" #", 1)[0].strip()
                if words.startswith(program + " "):
                    found.append(words)
    return found


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


# ---------------------------------------------------------------------------------------------
# Files and links


def test_every_kubectl_apply_file_exists() -> None:
    files = []
    for command in _commands(README, "kubectl"):
        words = shlex.split(command)
        if "apply" in words or "delete" in words:
            files += [words[i + 1] for i, word in enumerate(words[:-1]) if word == "-f"]
    assert files
    missing = [name for name in files if name != "-" and not (K8S / name).is_file()]
    assert missing == []


def test_the_quick_start_applies_in_a_working_order() -> None:
    text = README.read_text()
    steps = [
        "kubectl apply -f spoke-namespace.yaml",
        "kubectl apply -f spoke-config.yaml",
        "kubectl -n spoke create secret generic spoke-secrets",
        "kubectl apply -f spoke-migrate-job.yaml",
        "kubectl apply -f spoke-deployment.yaml",
        "kubectl apply -f spoke-hpa.yaml",
        "kubectl apply -f spoke-ingress.yaml",
    ]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    every_manifest = {path.name for path in K8S.glob("*.yaml")}
    named = set(re.findall(r"spoke-[a-z-]+\.yaml", text))
    assert every_manifest <= named, f"the guide never mentions {sorted(every_manifest - named)}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_link_leads_somewhere(guide: Path) -> None:
    for target in LINK.findall(guide.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (guide.parent / path).resolve() if path else guide
        assert resolved.exists(), f"{guide.name}: {target}"
        if anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", resolved.read_text(), re.M)
            assert anchor in {_slug(h) for h in headings}, f"{guide.name}: {target}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_repository_path_named_exists(guide: Path) -> None:
    top_level = {p.name for p in ROOT.iterdir()} | {p.name for p in (ROOT / "src").iterdir()}
    text = guide.read_text()
    candidates = set(INLINE_CODE.findall(text))
    for block in _code_blocks(guide):
        candidates.update(word for word in re.split(r"[\s\"'=]+", block) if word)
    missing = []
    for token in candidates:
        if any(ch in token for ch in " :=$<>*{}|@") or token.startswith(("/", "-")):
            continue
        path = token.removeprefix("./")
        first = path.removeprefix("../").split("/", 1)[0]
        file_like = guide == README and re.fullmatch(r"[\w.-]+\.(yaml|md|sh|py)", path)
        if "/" not in path and not file_like:
            continue
        if not file_like and first not in top_level:
            continue
        places = (guide.parent / path, ROOT / path, ROOT / "src" / path, K8S / path)
        if not any(place.exists() for place in places):
            missing.append(token)
    assert missing == [], f"{guide.name} names paths that do not exist: {sorted(missing)}"


# ---------------------------------------------------------------------------------------------
# Settings


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_spoke_variable_named_is_a_setting(guide: Path) -> None:
    named = set(re.findall(r"\bSPOKE_[A-Z0-9_]+\b", guide.read_text()))
    named.discard("SPOKE_")  # from SPOKE_<NAME>_FILE, the guides' name for the pattern
    assert sorted(named - KNOWN_VARIABLES) == []


def _default(spec_default: str | None) -> str:
    if spec_default in (None, ""):
        return "unset"
    if spec_default == __version__:
        return "the version of Spoke"
    return f"`{spec_default}`"


def _expected_table() -> list[str]:
    data = config_map(MANIFESTS)
    rows = [
        "| Variable | Default | In the manifests | Meaning |",
        "|---|---|---|---|",
    ]
    for spec in SETTINGS:
        if spec.secret:
            where = "Secret (file)"
        else:
            where = f"`{data[spec.env]}`" if data[spec.env] else "empty (unset)"
        rows.append(f"| `{spec.env}` | {_default(spec.default)} | {where} | {spec.doc} |")
    return rows


def test_the_configuration_table_is_the_settings_table() -> None:
    lines = README.read_text().splitlines()
    expected = _expected_table()
    start = lines.index(expected[0])
    table = lines[start : start + len(expected) + 1]
    assert table[: len(expected)] == expected, "regenerate the table:\n" + "\n".join(expected)
    assert not table[-1].startswith("|"), "the table has rows for settings that do not exist"


def test_the_tracing_page_lists_the_otel_settings_with_their_defaults() -> None:
    text = (ROOT / "docs" / "observability" / "otel-setup.md").read_text()
    rows = dict(re.findall(r"^\| `(SPOKE_OTEL_\w+)` \| ([^|]+) \|", text, re.M))
    otel = [spec for spec in SETTINGS if spec.env.startswith("SPOKE_OTEL_")]
    assert set(rows) == {spec.env for spec in otel}
    for spec in otel:
        assert rows[spec.env].strip() == _default(spec.default), spec.env


# ---------------------------------------------------------------------------------------------
# Commands


def _spoke_commands() -> list[tuple[str, list[str]]]:
    found = []
    for guide in GUIDES:
        pieces = [*_code_blocks(guide), *INLINE_CODE.findall(guide.read_text())]
        for piece in pieces:
            for line in piece.replace("\\\n", " ").splitlines():
                # `kubectl -n spoke get` names the namespace, not the command
                for match in re.finditer(
                    r"(?<!-n )(?<![\w./-])spoke ([a-z][\w-]*)([^|;&#]*)", line
                ):
                    options = re.findall(r"(?<!\S)(--[a-z][\w-]*)", match.group(2))
                    found.append((guide.name, [match.group(1), *options]))
    return found


@pytest.mark.parametrize(("guide", "words"), _spoke_commands(), ids=lambda v: str(v)[:60])
def test_every_spoke_command_named_exists(guide: str, words: list[str]) -> None:
    command, *options = words
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, f"{guide}: `spoke {command}` is not a command"
    for option in options:
        assert option in result.output, f"{guide}: `spoke {command}` has no {option}"


def _objects_the_guides_create() -> set[tuple[str, str]]:
    """The manifests' objects, and the Jobs the guides create by hand (``create job NAME``)."""
    objects = {(m.kind, m.name) for m in MANIFESTS}
    for guide in GUIDES:
        for command in _commands(guide, "kubectl"):
            words = shlex.split(command)
            if "create" in words and "job" in words:
                objects.add(("Job", words[-1]))
    return objects


KNOWN_OBJECTS = _objects_the_guides_create()


def _workload_containers(kind: str, name: str) -> set[str]:
    for manifest in MANIFESTS:
        if manifest.kind == kind and manifest.name == name:
            spec = pod_spec(manifest)
            if spec is None:
                return set()
            return {c["name"] for c in [*spec.get("initContainers", []), *spec["containers"]]}
    raise AssertionError(f"no {kind}/{name} in the manifests")


@pytest.mark.parametrize(
    "command",
    [c for guide in GUIDES for c in _commands(guide, "kubectl")],
    ids=lambda c: c[:60],
)
def test_every_kubectl_command_is_real_and_names_our_objects(command: str) -> None:
    words = shlex.split(command)[1:]
    namespace = None
    rest: list[str] = []
    index = 0
    while index < len(words):
        if words[index] in ("-n", "--namespace"):
            namespace = words[index + 1]
            index += 2
            continue
        rest.append(words[index])
        index += 1
    verb = rest[0]
    assert verb in KUBECTL_VERBS, command
    if len(words) == 1:
        return  # the verb alone, named in a sentence
    if verb in ("apply", "delete") and "-f" in rest:
        assert namespace is None  # the files carry their namespace
    elif not (verb == "delete" and rest[1:2] == ["namespace"]):
        assert namespace == "spoke", f"{command}: no -n spoke"
    workload: tuple[str, str] | None = None
    for word in rest[1:]:
        kind, sep, name = word.removeprefix("--from=").partition("/")
        if sep and kind in KINDS:
            workload = (KINDS[kind], name)
            assert workload in KNOWN_OBJECTS, f"{command}: no {KINDS[kind]} {name}"
    if "-c" in rest and workload is not None:
        container = rest[rest.index("-c") + 1]
        assert container in _workload_containers(*workload), f"{command}: no container {container}"
    if "-l" in rest:
        key, _, value = rest[rest.index("-l") + 1].partition("=")
        assert any(m.doc["metadata"].get("labels", {}).get(key) == value for m in MANIFESTS), (
            f"{command}: no object is labelled {key}={value}"
        )


# ---------------------------------------------------------------------------------------------
# Metrics and ports


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_metric_named_is_documented(guide: Path) -> None:
    documented = (ROOT / "docs" / "architecture.md").read_text() + "".join(
        path.read_text() for path in (ROOT / "docs" / "backends").glob("*.md")
    )
    names = set(re.findall(r"\bspoke_[a-z0-9_]+\b", guide.read_text()))
    names -= {"spoke_alembic_version", "spoke_replica_1", "spoke_test", "spoke_plugins"}
    missing = []
    for name in names:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        candidates = {base, base.removesuffix("_total")}
        if not any(re.search(rf"\b{re.escape(c)}", documented) for c in candidates):
            missing.append(name)
    assert missing == [], f"{guide.name}: undocumented metrics {sorted(missing)}"


def test_the_ports_and_paths_the_guide_gives_are_the_servers() -> None:
    text = README.read_text()
    data = config_map(MANIFESTS)
    assert f"port-forward deploy/spoke-server {data['SPOKE_HEALTH_PORT']}:" in text
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert path in text
