#!/usr/bin/env python
"""Isolation benchmark: what heavy or hostile compiles do to everyone else, with and without the
worker processes, side by side in one run.

Usage::

    python benchmarks/bench_isolation.py [--duration 30] [--messages 200000] [--clients 2]
                                         [--flood-requests 100] [--pushes 30]
                                         [--modes pool,inprocess]
                                         [--json PATH]

For each mode (``pool``: SPOKE_WORKER_PROCESSES=2, the default; ``inprocess``:
SPOKE_WORKER_PROCESSES=0, compiles in the server's own threads, as before the pool existed) it
starts a real ``spoke serve`` on filesystem storage and measures:

1. **small pushes**: ``--pushes`` (30) sequential pushes of a 1-file module and a third as many
   of the 50-file module of ``bench_core.py`` (distinct versions; p50/p99 in ms): what the pool
   costs a normal push;
2. **stall**: ``--clients`` threads each POST ``/api/v1/validate`` with a valid schema of
   ``--messages`` messages (200,000 is about 7 MB) in a loop for ``--duration`` seconds, while a
   prober opens a new connection to ``/health/live`` every 100 ms (as the kubelet does) and a
   reader GETs one stored file every 100 ms on a keep-alive connection; the latencies of both
   (p50, p99, max, and how many took longer than 1 s);
3. **memory**: ``--flood-requests`` POSTs of 300 KB of ``.1e`` (an error-heavy file: protoc
   alone prints about 13 MB of errors for it), then the server's resident memory (VmRSS, and its
   peak VmHWM) and that of its worker processes.

Every load is bounded in time, traffic goes only to 127.0.0.1, servers are stopped at the end.
Not a test: pytest never collects it. Figures are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench_core import (
    HOST,
    ServerProcess,
    free_port,
    generate_module,
    log,
    machine_info,
    percentile,
    request,
    spoke_command,
    spoke_env,
    table,
)

MODES = {"pool": "2", "inprocess": "0"}
PROBE_INTERVAL = 0.1
FLOOD = 'syntax = "proto3";\n' + ".1e" * 100_000  # 300 KB


def big_schema(messages: int) -> str:
    lines = ['syntax = "proto3";', "package big.v1;"]
    lines += [f"message Msg{i:06d} {{ int32 a = 1; }}" for i in range(messages)]
    return "\n".join(lines) + "\n"


def _summary(values_ms: Sequence[float]) -> dict[str, float]:
    if not values_ms:
        return {"n": 0}
    return {
        "n": len(values_ms),
        "p50_ms": round(percentile(values_ms, 50), 2),
        "p99_ms": round(percentile(values_ms, 99), 2),
        "max_ms": round(max(values_ms), 2),
        "over_1s": sum(1 for v in values_ms if v > 1000),
    }


def _rss_kib(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
    return values


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found.extend(int(child) for child in text)
    return found


class Spoke:
    """One server and a keep-alive connection to it."""

    def __init__(self, mode: str, root: Path) -> None:
        self.port, self.health_port = free_port(), free_port()
        env = spoke_env("filesystem", root / mode, self.port, self.health_port)
        env.update(SPOKE_WORKER_PROCESSES=MODES[mode], SPOKE_WORKER_MEMORY="1GiB")
        env["SPOKE_WORKER_TIMEOUT"] = "120s"
        env["SPOKE_MAX_BODY_BYTES"] = "16MiB"
        self.process = ServerProcess(f"spoke-{mode}", spoke_command(), env, root / f"{mode}.log")

    def __enter__(self) -> Spoke:
        self.process.start()
        self.process.wait_ready(self.health_port, "/health/ready")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    def connection(self, timeout: float = 300) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def post(self, path: str, body: Any, conn: http.client.HTTPConnection | None = None) -> int:
        own = conn is None
        conn = conn or self.connection()
        try:
            return request(conn, "POST", path, body).status
        finally:
            if own:
                conn.close()

    def memory(self) -> dict[str, Any]:
        workers = _children(self.process.pid)
        worker_rss = [_rss_kib(p).get("VmRSS", 0) for p in workers]
        server = _rss_kib(self.process.pid)
        return {
            "server_rss_mib": round(server.get("VmRSS", 0) / 1024, 1),
            "server_peak_mib": round(server.get("VmHWM", 0) / 1024, 1),
            "workers": len(workers),
            "workers_rss_mib": round(sum(worker_rss) / 1024, 1),
        }


def small_pushes(spoke: Spoke, count: int) -> dict[str, Any]:
    one = {"path": "tiny/v1/tiny.proto", "content": 'syntax = "proto3";\npackage tiny.v1;\n'}
    fifty = [{"path": p, "content": c} for p, c in generate_module(50, "r1").items()]
    figures: dict[str, Any] = {}
    conn = spoke.connection()
    try:
        for name, files, times_pushed in (
            ("1 file", [one], count),
            ("50 files", fifty, max(1, count // 3)),
        ):
            module = "tiny" if name == "1 file" else "fifty"
            spoke.post("/api/v1/modules", {"name": module}, conn)
            spoke.post(
                f"/api/v1/modules/{module}/versions", {"version": "0.0.1", "files": files}, conn
            )  # warm-up, untimed
            times = []
            for i in range(times_pushed):
                started = time.perf_counter()
                status = spoke.post(
                    f"/api/v1/modules/{module}/versions",
                    {"version": f"1.0.{i}", "files": files},
                    conn,
                )
                times.append((time.perf_counter() - started) * 1000)
                if status != 201:
                    raise RuntimeError(f"push answered {status}")
            figures[name] = _summary(times)
    finally:
        conn.close()
    return figures


def _loop(stop: threading.Event, action: Callable[[], None], interval: float) -> None:
    while not stop.is_set():
        started = time.monotonic()
        action()
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


def stall(spoke: Spoke, messages: int, clients: int, duration: float) -> dict[str, Any]:
    schema = big_schema(messages)
    stop = threading.Event()
    probes: list[float] = []
    reads: list[float] = []
    compiles: list[float] = []
    failures: list[str] = []

    def probe() -> None:
        started = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, spoke.health_port, timeout=30)
        try:
            conn.request("GET", "/health/live")
            conn.getresponse().read()
            probes.append((time.perf_counter() - started) * 1000)
        except OSError as exc:
            failures.append(f"probe: {exc}")
        finally:
            conn.close()

    reader = spoke.connection(timeout=30)
    path = "/api/v1/modules/tiny/versions/1.0.0/files/tiny/v1/tiny.proto"

    def read() -> None:
        started = time.perf_counter()
        try:
            if request(reader, "GET", path).status != 200:
                failures.append("read: not 200")
            reads.append((time.perf_counter() - started) * 1000)
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"read: {exc}")

    def compile_loop() -> None:
        conn = spoke.connection()
        try:
            while not stop.is_set():
                started = time.perf_counter()
                status = spoke.post("/api/v1/validate", {"content": schema}, conn)
                compiles.append(time.perf_counter() - started)
                if status != 200:
                    failures.append(f"compile: {status}")
        finally:
            conn.close()

    threads = [threading.Thread(target=compile_loop) for _ in range(clients)]
    threads += [
        threading.Thread(target=_loop, args=(stop, probe, PROBE_INTERVAL)),
        threading.Thread(target=_loop, args=(stop, read, PROBE_INTERVAL)),
    ]
    for thread in threads:
        thread.start()
    time.sleep(duration)
    stop.set()
    for thread in threads:
        thread.join(timeout=600)
    reader.close()
    return {
        "schema_bytes": len(schema),
        "compiles": len(compiles),
        "compile_s_p50": round(statistics.median(compiles), 2) if compiles else None,
        "health": _summary(probes),
        "reads": _summary(reads),
        "failures": failures[:5],
        "memory_after": spoke.memory(),
    }


def flood(spoke: Spoke, count: int) -> dict[str, Any]:
    before = spoke.memory()
    started = time.perf_counter()
    sizes = []
    conn = spoke.connection()
    try:
        for _ in range(count):
            reply = request(conn, "POST", "/api/v1/validate", {"content": FLOOD})
            sizes.append(len(reply.body))
    finally:
        conn.close()
    return {
        "requests": count,
        "request_kb": len(FLOOD) // 1000,
        "answer_bytes_max": max(sizes),
        "seconds_per_request": round((time.perf_counter() - started) / count, 3),
        "before": before,
        "after": spoke.memory(),
    }


def run_mode(mode: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    log(f"{mode}: starting spoke serve (SPOKE_WORKER_PROCESSES={MODES[mode]})")
    with Spoke(mode, root) as spoke:
        log(f"{mode}: small pushes")
        pushes = small_pushes(spoke, args.pushes)
        log(f"{mode}: {args.clients} clients compiling {args.messages} messages, {args.duration}s")
        stalled = stall(spoke, args.messages, args.clients, args.duration)
        count = args.flood_requests if mode == "pool" else min(args.flood_requests, 20)
        log(f"{mode}: {count} error-heavy validates")
        flooded = flood(spoke, count)
    return {"pushes": pushes, "stall": stalled, "flood": flooded}


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    out = [
        "Spoke isolation benchmark",
        "=========================",
        f"date {m['date']} | {m['cpus_usable']} CPU(s) {m['cpu_model']} | {m['memory']} RAM",
        f"python {m['python']} | spoke {m['spoke']}",
        "",
    ]
    modes = list(result["modes"])
    rows = []
    for label, key in (("push 1 file", "1 file"), ("push 50 files", "50 files")):
        for stat in ("p50_ms", "p99_ms"):
            rows.append(
                [f"{label} {stat}", *(str(result["modes"][m]["pushes"][key][stat]) for m in modes)]
            )
    for label, key in (("health probe", "health"), ("file GET", "reads")):
        for stat in ("n", "p50_ms", "p99_ms", "max_ms", "over_1s"):
            rows.append(
                [f"{label} {stat}", *(str(result["modes"][m]["stall"][key][stat]) for m in modes)]
            )
    for label, path in (
        ("compiles done", ("stall", "compiles")),
        ("compile s p50", ("stall", "compile_s_p50")),
        ("flood requests", ("flood", "requests")),
        ("flood s/request", ("flood", "seconds_per_request")),
        ("flood answer bytes max", ("flood", "answer_bytes_max")),
    ):
        rows.append([label, *(str(result["modes"][m][path[0]][path[1]]) for m in modes)])
    for when in ("before", "after"):
        for key in ("server_rss_mib", "server_peak_mib", "workers", "workers_rss_mib"):
            rows.append(
                [
                    f"flood {when} {key}",
                    *(str(result["modes"][m]["flood"][when][key]) for m in modes),
                ]
            )
    out.append(table(["figure", *modes], rows))
    for mode in modes:
        failures = result["modes"][mode]["stall"]["failures"]
        if failures:
            out.append(f"{mode} failures: {failures}")
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the stall phase")
    parser.add_argument("--messages", type=int, default=200_000, help="messages of the big schema")
    parser.add_argument("--clients", type=int, default=2, help="clients compiling in a loop")
    parser.add_argument("--flood-requests", type=int, default=100, help="error-heavy validates")
    parser.add_argument(
        "--pushes", type=int, default=30, help="timed 1-file pushes (a third as many 50-file ones)"
    )
    parser.add_argument("--modes", default="pool,inprocess", help="pool, inprocess, or both")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    if not args.modes or any(m not in MODES for m in args.modes):
        parser.error(f"--modes takes a comma-separated list of {', '.join(MODES)}")
    return args


@contextlib.contextmanager
def _workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="spoke-bench-isolation-") as tmp:
        yield Path(tmp)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result: dict[str, Any] = {
        "machine": machine_info("python"),
        "config": {k: v for k, v in vars(args).items() if k != "json"},
        "modes": {},
    }
    with _workspace() as root:
        for mode in args.modes:
            result["modes"][mode] = run_mode(mode, args, root)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
