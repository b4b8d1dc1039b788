#!/usr/bin/env python
"""Spoke on its production backends (PostgreSQL + Redis) against the memory backends.

Usage::

    python benchmarks/bench_backends.py [--duration 10] [--connections 16] [--rounds 3]
                                        [--files 50] [--cold 200] [--json PATH]

What it does, in one run:

1. starts PostgreSQL (primary + streaming replica) and Redis with ``scripts/services start
   postgres redis`` when they do not answer, and reads their URLs from ``.services/*.env``;
2. creates a fresh database on the primary (``CREATE DATABASE spoke_bench_<pid>_<time>``), waits
   for the replica to see it, and runs ``spoke migrate`` on it;
3. starts two ``spoke serve`` subprocesses side by side (SPOKE_THREADS=8, log level warning):
   **memory** (memory storage, blobs and cache: the reference) and **pg+redis** (postgres storage
   on the primary with the replica as SPOKE_POSTGRES_REPLICA_URLS, postgres blobs, redis cache);
4. pushes the same generated 50-file module, two versions (1.0.0, 2.0.0), to both;
5. load-tests with wrk, interleaved (memory then pg+redis for each target, ``--rounds`` times):
   (a) GET one file of the exact version 1.0.0 (the in-process hit path),
   (b) GET one file of ``latest`` (resolves the latest version in storage on every request),
   (c) GET the module (module + first page of versions from storage on every request);
   reports req/s, p50, p99, server CPU per request (medians of the rounds), the ratio
   pg+redis / memory for (a) against the 10 % requirement, and the peak RSS of both servers;
6. cold reads: pushes up to four more versions to pg+redis (never read, so not in Redis),
   enough for ``--cold`` distinct files (200 by default: 4 x 50), restarts it, GETs each of
   those files once, sequentially on one keep-alive connection (Redis misses: PostgreSQL, then
   the value is written to Redis); restarts it again and repeats (Redis hits, in-process caches
   empty);
7. stops both servers, drops the database and deletes the Redis keys of the run.

The load helpers, the module generator and the process readers come from ``bench_core.py``.
Traffic goes to 127.0.0.1 only. This file is not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import (
    API,
    HOST,
    SPOKE_THREADS,
    LoadResult,
    ServerProcess,
    free_port,
    generate_module,
    log,
    machine_info,
    median_of,
    percentile,
    request,
    spoke_command,
    spoke_env,
    table,
    wrk_load,
)

ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = ROOT / ".services"
MODULE = "bench.backends"
TARGET_PERCENT = 90.0  # "the L1 hit path stays within 10% of the memory backend's"
VERSIONS = ("1.0.0", "2.0.0")
COLD_VERSIONS = ("3.0.0", "4.0.0", "5.0.0", "6.0.0")
SERVERS = ("memory", "pg+redis")
TARGETS = {
    "a": "(a) GET file, exact version (in-process hit)",
    "b": "(b) GET file, latest (storage every request)",
    "c": "(c) GET module (storage every request)",
}


# --------------------------------------------------------------------------------------------
# Services and the database
# --------------------------------------------------------------------------------------------


def read_service_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for name in ("postgres", "redis"):
        path = SERVICES_DIR / f"{name}.env"
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    values[key.strip()] = value.strip()
    return values


def services_up(env: dict[str, str]) -> bool:
    needed = ("SPOKE_TEST_POSTGRES_URL", "SPOKE_TEST_POSTGRES_REPLICA_URL", "SPOKE_TEST_REDIS_URL")
    if not all(env.get(k) for k in needed):
        return False
    import psycopg2
    import redis

    try:
        for key in needed[:2]:
            psycopg2.connect(env[key], connect_timeout=3).close()
        redis.Redis.from_url(env["SPOKE_TEST_REDIS_URL"], socket_timeout=3).ping()
    except Exception:
        return False
    return True


def ensure_services() -> dict[str, str]:
    env = read_service_env()
    if services_up(env):
        return env
    log("starting services: scripts/services start postgres redis")
    subprocess.run([str(ROOT / "scripts" / "services"), "start", "postgres", "redis"], check=True)
    env = read_service_env()
    if not services_up(env):
        raise RuntimeError("PostgreSQL or Redis does not answer after scripts/services start")
    return env


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


@contextlib.contextmanager
def fresh_database(primary_url: str, replica_url: str) -> Iterator[tuple[str, str]]:
    import psycopg2

    dbname = f"spoke_bench_{os.getpid()}_{int(time.time())}"
    admin = psycopg2.connect(with_database(primary_url, "postgres"), connect_timeout=5)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{dbname}"')
        log(f"created database {dbname}")
        primary, replica = with_database(primary_url, dbname), with_database(replica_url, dbname)
        deadline = time.monotonic() + 30
        while True:  # the replica replays CREATE DATABASE from the WAL
            try:
                psycopg2.connect(replica, connect_timeout=3).close()
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield primary, replica
    finally:
        with contextlib.suppress(Exception), admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            log(f"dropped database {dbname}")
        admin.close()


def migrate(primary: str) -> str:
    spoke = spoke_command()[:-1]  # the same executable as `spoke serve`, without "serve"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")}
    env["SPOKE_POSTGRES_URL"] = primary
    done = subprocess.run(
        [*spoke, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"spoke migrate failed: {done.stdout}{done.stderr}")
    return (done.stdout + done.stderr).strip()


# --------------------------------------------------------------------------------------------
# Servers, pushes, reads
# --------------------------------------------------------------------------------------------


class Spoke:
    """One `spoke serve` with its ports; restartable (same ports, same environment)."""

    def __init__(self, name: str, extra_env: dict[str, str], tmp: Path) -> None:
        self.name = name
        self.port, self.health_port = free_port(), free_port()
        while self.health_port == self.port:
            self.health_port = free_port()
        env = spoke_env("memory", tmp / f"{name}-data", self.port, self.health_port)
        env.update(extra_env)
        self.tmp = tmp
        self.env = env
        self.starts = 0
        self.peak_rss_kib: list[int] = []
        self.server = self._new()

    def _new(self) -> ServerProcess:
        safe = self.name.replace("+", "_")
        return ServerProcess(
            self.name, spoke_command(), self.env, self.tmp / f"{safe}-{self.starts}.log"
        )

    def start(self) -> None:
        self.server.start()
        self.starts += 1
        self.server.wait_ready(self.health_port, "/health/ready")
        log(f"{self.name} ready (pid {self.server.pid}, port {self.port})")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.server.proc is not None and self.server.proc.poll() is None:
                self.peak_rss_kib.append(self.server.memory_kib()["VmHWM"])
        self.server.stop()

    def restart(self) -> None:
        self.stop()
        self.server = self._new()
        self.start()


def module_files(files: int, version: str, run_id: str) -> dict[str, str]:
    # The run id in every file's header comment makes each run's blobs (and Redis keys) new.
    return generate_module(files, revision=f"{version} run {run_id}")


def push(port: int, version: str, files: dict[str, str]) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        body = {
            "version": version,
            "files": [{"path": p, "content": t} for p, t in files.items()],
            "source_info": {"repository": "example.com/acme/protos", "branch": "main"},
        }
        reply = request(conn, "POST", f"{API}/modules/{MODULE}/versions", body)
        if reply.status != 201:
            raise RuntimeError(f"push {version} answered {reply.status}: {reply.body[:300]!r}")
    finally:
        conn.close()


def create_module(port: int) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        reply = request(conn, "POST", f"{API}/modules", {"name": MODULE})
        if reply.status != 201:
            raise RuntimeError(f"creating the module answered {reply.status}: {reply.body!r}")
    finally:
        conn.close()


def get_ok(port: int, path: str, attempts: int = 1) -> bytes:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        for attempt in range(attempts):
            reply = request(conn, "GET", path)
            if reply.status == 200:
                return reply.body
            if attempt + 1 < attempts:
                time.sleep(0.1)
        raise RuntimeError(f"GET {path} answered {reply.status}: {reply.body[:300]!r}")
    finally:
        conn.close()


def file_url(version: str, path: str) -> str:
    return f"{API}/modules/{MODULE}/versions/{version}/files/{quote(path)}"


def cold_reads(spoke: Spoke, urls: list[str]) -> dict[str, Any]:
    """GET every URL once, sequentially, on one keep-alive connection."""
    conn = http.client.HTTPConnection(HOST, spoke.port, timeout=30)
    try:
        # One untimed request first (connection set-up, first routing), through storage but
        # touching none of the files' caches.
        reply = request(conn, "GET", f"{API}/modules/{MODULE}")
        if reply.status != 200:
            raise RuntimeError(f"GET module answered {reply.status}")
        cpu_before = spoke.server.cpu_seconds()
        latencies = []
        for url in urls:
            start = time.perf_counter()
            reply = request(conn, "GET", url)
            latencies.append((time.perf_counter() - start) * 1000)
            if reply.status != 200:
                raise RuntimeError(f"cold GET {url} answered {reply.status}: {reply.body[:200]!r}")
        cpu = spoke.server.cpu_seconds() - cpu_before
    finally:
        conn.close()
    return {
        "requests": len(urls),
        "mean_ms": statistics.fmean(latencies),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "total_s": sum(latencies) / 1000,
        "server_cpu_ms_per_request": cpu * 1000 / len(urls),
    }


def delete_redis_keys(redis_url: str, files: list[dict[str, str]], versions: Sequence[str]) -> int:
    import redis

    keys = [f"spoke:v1:version:{MODULE}:{v}" for v in versions]
    for version_files in files:
        keys += [
            f"spoke:v1:blob:{hashlib.sha256(t.encode()).hexdigest()}"
            for t in version_files.values()
        ]
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    return int(cast(int, client.delete(*keys))) if keys else 0


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def report(doc: dict[str, Any]) -> str:
    m, cfg = doc["machine"], doc["config"]
    out = [
        "Spoke backends benchmark: memory vs PostgreSQL + Redis",
        "======================================================",
        f"date {m['date']} | {m['cpus_usable']} CPU(s) {m['cpu_model']} | {m['memory']} RAM",
        f"Python {m['python']} | falcon {m['falcon']} | waitress {m['waitress']} | "
        f"spoke {m['spoke']} | PostgreSQL {cfg['postgres_version']} | Redis {cfg['redis_version']}",
        f"wrk ({m['wrk']}, 1 thread) | {cfg['connections']} connections | "
        f"{cfg['duration_s']:g}s per run | {cfg['rounds']} interleaved rounds | "
        f"SPOKE_THREADS={SPOKE_THREADS} | {cfg['files']}-file module, versions "
        f"{', '.join(VERSIONS)}",
        f"load average before/after: {cfg['loadavg_before']} / {cfg['loadavg_after']}",
        "",
        f"GET load (median of {cfg['rounds']} rounds)",
    ]
    rows = []
    for key in TARGETS:
        for server in SERVERS:
            med = doc["load"]["median"][server][key]
            rows.append(
                [
                    f"{TARGETS[key]} {server}",
                    f"{med['rps']:.0f}",
                    f"{med['p50_ms']:.2f}",
                    f"{med['p99_ms']:.2f}",
                    f"{med['server_cpu_us_per_request']:.0f}",
                    f"{med['bytes_per_response']:.0f}",
                    str(med["errors"] + med["non_2xx"]),
                ]
            )
    out.append(
        table(
            ["target / server", "req/s", "p50 ms", "p99 ms", "CPU us/req", "bytes", "errors"], rows
        )
    )
    out.append("")
    out.append("pg+redis / memory, req/s per round:")
    per_round = []
    for r, ratios in enumerate(doc["ratios"]["per_round"]):
        per_round.append([f"round {r + 1}", *(f"{ratios[k]:.1f}%" for k in TARGETS)])
    out.append(table(["", "(a)", "(b)", "(c)"], per_round))
    out.append("")
    ra = doc["ratios"]["a"]
    verdict = "MET" if ra["met"] else "NOT MET"
    out.append(
        f"(a) L1 hit path, pg+redis / memory: {ra['rps_percent']:.1f}% of the req/s (median of "
        f"per-round ratios {ra['per_round_median_percent']:.1f}%, range "
        f"{ra['per_round_min_percent']:.1f}-{ra['per_round_max_percent']:.1f}%); CPU per "
        f"request {ra['cpu_factor']:.2f}x"
    )
    out.append(f"Requirement: within 10% of memory (>= {TARGET_PERCENT:.0f}%): {verdict}")
    rss = doc["peak_rss_kib"]
    out.append(
        f"Peak RSS (VmHWM): memory {rss['memory'] / 1024:.1f} MiB, pg+redis "
        f"{rss['pg+redis'] / 1024:.1f} MiB (before the cold-read restarts)"
    )
    out.append("")
    out.append(
        f"Cold reads on pg+redis: {cfg['cold']} distinct exact-version files, once each, right "
        "after a restart, sequential, one keep-alive connection"
    )
    rows = []
    for label, key in (
        ("Redis miss -> PostgreSQL (replica/primary)", "postgres"),
        ("Redis hit (in-process caches empty)", "redis"),
    ):
        c = doc["cold"][key]
        rows.append(
            [
                label,
                f"{c['mean_ms']:.2f}",
                f"{c['p50_ms']:.2f}",
                f"{c['p99_ms']:.2f}",
                f"{c['max_ms']:.2f}",
                f"{c['server_cpu_ms_per_request']:.2f}",
            ]
        )
    out.append(
        table(
            ["first GET of each file", "mean ms", "p50 ms", "p99 ms", "max ms", "CPU ms/req"], rows
        )
    )
    if doc["warnings"]:
        out.append("")
        out.extend(f"WARNING: {w}" for w in doc["warnings"])
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target")
    parser.add_argument("--files", type=int, default=50, help="files in the pushed module")
    parser.add_argument("--cold", type=int, default=200, help="distinct files of the cold reads")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.rounds < 1 or args.files < 2:
        parser.error("--duration, --connections, --rounds must be positive, --files >= 2")
    if not 1 <= args.cold <= args.files * len(COLD_VERSIONS):
        parser.error(f"--cold must be between 1 and {args.files * len(COLD_VERSIONS)}")
    return args


def measure(
    spoke: Spoke, path: str, connections: int, duration: float, key: str, rnd: int, load: Any
) -> LoadResult:
    server = spoke.server
    user0, sys0 = server.cpu_split()
    switches0 = server.context_switches()
    data = load(spoke.port, path, connections, duration)
    user1, sys1 = server.cpu_split()
    switches = server.context_switches() - switches0
    user, system = user1 - user0, sys1 - sys0
    n = data["requests"]
    per = 1 / n if n else float("nan")
    return LoadResult(
        target=key,
        round=rnd,
        rps=n / data["duration_s"] if data["duration_s"] else 0.0,
        server_cpu_s=user + system,
        server_cpu_us_per_request=(user + system) * 1e6 * per,
        server_user_us_per_request=user * 1e6 * per,
        server_sys_us_per_request=system * 1e6 * per,
        server_ctx_switches_per_request=switches * per,
        **data,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        log("wrk is not installed (apt-get install -y wrk)")
        return 2
    load = wrk_load(1)
    service_env = ensure_services()
    pg_url = service_env["SPOKE_TEST_POSTGRES_URL"]
    replica_url = service_env["SPOKE_TEST_POSTGRES_REPLICA_URL"]
    redis_url = service_env["SPOKE_TEST_REDIS_URL"]
    run_id = f"{os.getpid()}-{int(time.time())}"
    warnings: list[str] = []
    loadavg_before = " ".join(f"{x:.2f}" for x in os.getloadavg())

    import psycopg2
    import redis

    with contextlib.closing(psycopg2.connect(pg_url, connect_timeout=5)) as conn:
        pg_version = conn.server_version
    pg_version_text = f"{pg_version // 10000}.{pg_version % 10000}"
    info = cast(dict[str, Any], redis.Redis.from_url(redis_url).info("server"))
    redis_version = str(info["redis_version"])

    pushed: list[dict[str, str]] = []
    pushed_versions: list[str] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="spoke-bench-backends-") as tmp,
            fresh_database(pg_url, replica_url) as (primary, replica),
        ):
            tmpdir = Path(tmp)
            log(migrate(primary))
            servers = {
                "memory": Spoke(
                    "memory",
                    {
                        "SPOKE_STORAGE_TYPE": "memory",
                        "SPOKE_BLOB_TYPE": "memory",
                        "SPOKE_CACHE_TYPE": "memory",
                    },
                    tmpdir,
                ),
                "pg+redis": Spoke(
                    "pg+redis",
                    {
                        "SPOKE_STORAGE_TYPE": "postgres",
                        "SPOKE_BLOB_TYPE": "postgres",
                        "SPOKE_CACHE_TYPE": "redis",
                        "SPOKE_POSTGRES_URL": primary,
                        "SPOKE_POSTGRES_REPLICA_URLS": replica,
                        "SPOKE_REDIS_URL": redis_url,
                    },
                    tmpdir,
                ),
            }
            try:
                for spoke in servers.values():
                    spoke.start()
                paths = sorted(module_files(args.files, "x", run_id))
                one_path = paths[len(paths) // 2]
                for spoke in servers.values():
                    create_module(spoke.port)
                for version in VERSIONS:
                    files = module_files(args.files, version, run_id)
                    pushed.append(files)
                    pushed_versions.append(version)
                    for spoke in servers.values():
                        push(spoke.port, version, files)
                log(f"pushed {len(VERSIONS)} versions of {args.files} files to both servers")
                urls = {
                    "a": file_url(VERSIONS[0], one_path),
                    "b": file_url("latest", one_path),
                    "c": f"{API}/modules/{MODULE}",
                }
                bodies: dict[str, dict[str, bytes]] = {}
                latest_url = f"{API}/modules/{MODULE}/versions/latest"
                for name, spoke in servers.items():
                    # latest reads the replica: wait until it has replayed the last push
                    for _ in range(50):
                        latest = json.loads(get_ok(spoke.port, latest_url, attempts=20))
                        if latest.get("version") == VERSIONS[-1]:
                            break
                        time.sleep(0.1)
                    else:
                        warnings.append(f"{name}: latest answered {latest.get('version')!r}")
                    bodies[name] = {k: get_ok(spoke.port, u) for k, u in urls.items()}
                for key in ("a", "b"):
                    if bodies["memory"][key] != bodies["pg+redis"][key]:
                        warnings.append(f"({key}) bodies differ between the two servers")

                if args.warmup > 0:
                    for url in urls.values():
                        for spoke in servers.values():
                            load(spoke.port, url, args.connections, args.warmup)
                    log("warm-up done")

                runs: dict[str, list[LoadResult]] = {s: [] for s in SERVERS}
                for rnd in range(args.rounds):
                    for key, url in urls.items():
                        # alternate which server goes first, so neither always follows the other
                        order = SERVERS if rnd % 2 == 0 else SERVERS[::-1]
                        for name in order:
                            result = measure(
                                servers[name], url, args.connections, args.duration, key, rnd, load
                            )
                            runs[name].append(result)
                            log(
                                f"round {rnd + 1}/{args.rounds} {TARGETS[key]} {name}: "
                                f"{result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, "
                                f"p99 {result.p99_ms:.2f} ms, "
                                f"{result.server_cpu_us_per_request:.0f} us CPU/req"
                            )
                            if result.errors or result.non_2xx:
                                warnings.append(
                                    f"round {rnd + 1} {key} {name}: {result.errors} socket "
                                    f"errors, {result.non_2xx} non-2xx/3xx"
                                )
                rss = {name: spoke.server.memory_kib()["VmHWM"] for name, spoke in servers.items()}
                servers["memory"].stop()

                # Cold reads: versions never read before, so Redis has none of their keys.
                pg = servers["pg+redis"]
                cold_urls: list[str] = []
                for version in COLD_VERSIONS:
                    if len(cold_urls) >= args.cold:
                        break
                    files = module_files(args.files, version, run_id)
                    pushed.append(files)
                    pushed_versions.append(version)
                    push(pg.port, version, files)
                    cold_urls += [file_url(version, p) for p in sorted(files)]
                cold_urls = cold_urls[: args.cold]
                # interleave versions so consecutive requests do not share a version record
                cold_urls.sort(key=lambda u: (u.split("/files/")[1], u))
                cold: dict[str, Any] = {}
                pg.restart()
                cold["postgres"] = cold_reads(pg, cold_urls)
                log(f"cold reads, Redis misses: mean {cold['postgres']['mean_ms']:.2f} ms")
                pg.restart()
                cold["redis"] = cold_reads(pg, cold_urls)
                log(f"cold reads, Redis hits: mean {cold['redis']['mean_ms']:.2f} ms")
            finally:
                for spoke in servers.values():
                    spoke.stop()
    finally:
        with contextlib.suppress(Exception):
            deleted = delete_redis_keys(redis_url, pushed, pushed_versions)
            log(f"deleted {deleted} Redis keys of this run")
    loadavg_after = " ".join(f"{x:.2f}" for x in os.getloadavg())

    medians = {
        name: {k: median_of([r for r in runs[name] if r.target == k]) for k in TARGETS}
        for name in SERVERS
    }
    per_round = []
    for rnd in range(args.rounds):
        ratios = {}
        for key in TARGETS:
            mem = next(r.rps for r in runs["memory"] if r.round == rnd and r.target == key)
            pgr = next(r.rps for r in runs["pg+redis"] if r.round == rnd and r.target == key)
            ratios[key] = 100 * pgr / mem
        per_round.append(ratios)
    a_percent = 100 * medians["pg+redis"]["a"]["rps"] / medians["memory"]["a"]["rps"]
    doc: dict[str, Any] = {
        "machine": machine_info("wrk"),
        "config": {
            "duration_s": args.duration,
            "connections": args.connections,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "files": args.files,
            "cold": len(cold_urls),
            "urls": urls,
            "postgres_version": pg_version_text,
            "redis_version": redis_version,
            "loadavg_before": loadavg_before,
            "loadavg_after": loadavg_after,
        },
        "load": {
            "median": medians,
            "runs": {name: [asdict(r) for r in runs[name]] for name in SERVERS},
        },
        "ratios": {
            "per_round": per_round,
            "a": {
                "rps_percent": a_percent,
                "per_round_median_percent": statistics.median(r["a"] for r in per_round),
                "per_round_min_percent": min(r["a"] for r in per_round),
                "per_round_max_percent": max(r["a"] for r in per_round),
                "cpu_factor": medians["pg+redis"]["a"]["server_cpu_us_per_request"]
                / medians["memory"]["a"]["server_cpu_us_per_request"],
                "target_percent": TARGET_PERCENT,
                "met": a_percent >= TARGET_PERCENT,
            },
        },
        "peak_rss_kib": rss,
        "cold": cold,
        "warnings": warnings,
    }
    print(report(doc))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
