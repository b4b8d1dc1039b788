"""The Containerfile: hadolint finds nothing at all (every level, no inline ignores), and the image
it describes is the one the manifests expect (multi-stage, slim Python 3.11, every extra, uid
1000, writes only under /tmp and /var/cache/spoke, no HEALTHCHECK)."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
from pathlib import Path

from deploy_support import CONTAINERFILE, ROOT, WRITABLE_PATHS, containerfile_stages, find_tool

STAGES = containerfile_stages()
FINAL = STAGES[-1]
REQUIRED_LABELS = (
    "org.opencontainers.image.title:text",
    "org.opencontainers.image.description:text",
    "org.opencontainers.image.version:text",
    "org.opencontainers.image.licenses:spdx",
)


def test_hadolint_reports_nothing(tmp_path: Path) -> None:
    hadolint = find_tool("hadolint")
    command = [
        hadolint,
        "--format",
        "json",
        "--failure-threshold",
        "style",  # info and style findings count too
        "--disable-ignore-pragma",  # no `# hadolint ignore=` may hide one
        "--strict-labels",
        *[arg for label in REQUIRED_LABELS for arg in ("--require-label", label)],
        str(CONTAINERFILE),
    ]
    # An empty HOME and working directory: no user or project hadolint config can relax it.
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = json.loads(result.stdout or "[]")
    shown = [f"{f['line']}: {f['code']} ({f['level']}) {f['message']}" for f in findings]
    assert findings == [], "hadolint:\n" + "\n".join(shown)
    assert result.returncode == 0, result.stderr


def test_hadolint_would_catch_a_problem(tmp_path: Path) -> None:
    """The check above is live: the same invocation flags an unpinned pip install."""
    bad = tmp_path / "Containerfile"
    bad.write_text(CONTAINERFILE.read_text().replace('CMD ["serve"]', "RUN pip install foo\n"))
    result = subprocess.run(
        [find_tool("hadolint"), "--format", "json", str(bad)], capture_output=True, text=True
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert "DL3013" in codes


def test_two_stages_on_slim_python_3_11() -> None:
    assert len(STAGES) >= 2
    assert {stage.base for stage in STAGES} == {"python:3.11-slim"}
    assert FINAL.values("USER") == ["1000:1000"]
    assert not FINAL.values("HEALTHCHECK"), "Kubernetes probes do the health checking"
    assert not any(key == "HEALTHCHECK" for stage in STAGES for key, _ in stage.instructions)


def test_the_wheel_is_installed_with_every_extra_the_deployment_needs() -> None:
    build = " ".join(STAGES[0].values("RUN"))
    assert "pip wheel" in build
    extras = re.search(r"\[([a-z0-9,]+)\]", build)
    assert extras is not None
    wanted = {"postgres", "s3", "redis", "otel", "codegen"}
    assert set(extras.group(1).split(",")) == wanted
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert wanted <= set(setup["options.extras_require"])
    assert "COPY --from=build /opt/spoke /opt/spoke" in [f"COPY {r}" for r in FINAL.values("COPY")]


def test_every_writable_path_is_under_tmp_or_the_cache_directory() -> None:
    env = FINAL.env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["TMPDIR"] == "/tmp"
    for name in ("HOME", "XDG_CACHE_HOME", "SPOKE_FILESYSTEM_ROOT"):
        assert env[name].startswith("/var/cache/spoke"), name
    (workdir,) = FINAL.values("WORKDIR")
    assert not any(workdir == p or workdir.startswith(p + "/") for p in WRITABLE_PATHS)
    assert "/var/cache/spoke" in " ".join(FINAL.values("RUN"))  # created, owned by 1000


def test_the_build_context_holds_what_the_containerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: nothing enters the context unless listed"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = {
        word.rstrip("/")
        for stage in STAGES
        for rest in stage.values("COPY")
        if not rest.startswith("--from")
        for word in rest.split()[:-1]
    }
    assert copied <= allowed, f"copied but ignored: {sorted(copied - allowed)}"
    for path in copied:
        assert (ROOT / path).exists(), path
