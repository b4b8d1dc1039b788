#!/usr/bin/env python
"""Where a cached single-file GET spends its time, without the network: a WSGI call loop.

Usage::

    python benchmarks/profile_file_get.py [--requests 20000] [--storage memory|filesystem]
                                          [--profile] [--top 30]

Builds Spoke's API app in this process (``spoke.api.app.create_app``, the same settings as
``spoke serve``: metrics on, memory cache), pushes the 50-file module of ``bench_core.py``
through the app, warms the cache, then calls the app directly as a WSGI callable for the
single-file GET and for the bare falcon app of ``bare_falcon_app.py`` (same body size),
interleaved, and prints microseconds per request for each. ``--profile`` then runs the Spoke
loop under cProfile and prints the functions with the most own time and the largest
cumulative times.

No sockets and no waitress: this isolates the application's share of a request (falcon
routing, middleware, resource, service, cache, serialization). Add waitress's per-request cost
(measure it with ``bench_core.py``'s bare run) to get the full picture.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import falcon.testing

from spoke.api.app import create_app
from spoke.settings import load_settings

HERE = Path(__file__).resolve().parent


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench_core = _load("bench_core")
bare_falcon_app = _load("bare_falcon_app")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def call_loop(app: WSGIApp, environ: dict[str, Any], count: int) -> float:
    """Seconds per request over ``count`` calls (the body is iterated, as waitress does)."""
    start = time.perf_counter()
    for _ in range(count):
        for _chunk in app(dict(environ), _start_response):
            pass
    return (time.perf_counter() - start) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="calls per timed loop")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--storage", choices=("memory", "filesystem"), default="memory")
    parser.add_argument("--profile", action="store_true", help="also run cProfile on Spoke")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="spoke-profile-") as tmp:
        settings = load_settings(
            {
                "SPOKE_STORAGE_TYPE": args.storage,
                "SPOKE_FILESYSTEM_ROOT": str(Path(tmp) / "data"),
                "SPOKE_LOG_LEVEL": "warning",
            }
        )
        application = create_app(settings)
        try:
            client = falcon.testing.TestClient(application.api)
            module = bench_core.MODULE
            assert client.simulate_post("/api/v1/modules", json={"name": module}).status_code == 201
            files = bench_core.generate_module(50, revision="1.0.0")
            pushed = client.simulate_post(
                f"/api/v1/modules/{module}/versions",
                json={
                    "version": "1.0.0",
                    "files": [{"path": p, "content": c} for p, c in files.items()],
                },
            )
            assert pushed.status_code == 201, pushed.text
            paths = sorted(files)
            path = f"/api/v1/modules/{module}/versions/1.0.0/files/{quote(paths[len(paths) // 2])}"
            spoke_env = falcon.testing.create_environ(path=path, method="GET")
            reply = client.simulate_get(path)
            assert reply.status_code == 200
            bare = bare_falcon_app.create_bare_app(
                bare_falcon_app.constant_json(len(reply.content))
            )
            bare_env = falcon.testing.create_environ(path="/bench", method="GET")

            for app, env in ((application.api, spoke_env), (bare, bare_env)):
                call_loop(app, env, 2000)  # warm up
            spoke_us: list[float] = []
            bare_us: list[float] = []
            for _ in range(args.rounds):
                spoke_us.append(call_loop(application.api, spoke_env, args.requests) * 1e6)
                bare_us.append(call_loop(bare, bare_env, args.requests) * 1e6)
            spoke_med = statistics.median(spoke_us)
            bare_med = statistics.median(bare_us)
            print(f"WSGI call, no server, storage {args.storage}, body {len(reply.content)} bytes")
            print(
                f"  spoke single-file GET: {spoke_med:7.1f} us/request  (rounds: "
                + ", ".join(f"{x:.1f}" for x in spoke_us)
                + ")"
            )
            print(
                f"  bare falcon constant : {bare_med:7.1f} us/request  (rounds: "
                + ", ".join(f"{x:.1f}" for x in bare_us)
                + ")"
            )
            print(
                f"  Spoke's own work     : {spoke_med - bare_med:7.1f} us/request "
                f"({spoke_med / bare_med:.1f}x the bare app)"
            )

            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                call_loop(application.api, spoke_env, args.requests)
                profiler.disable()
                for sort in ("tottime", "cumulative"):
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort)
                    stats.print_stats(args.top)
                    print(f"\n===== cProfile, {args.requests} requests, sorted by {sort} =====")
                    print(out.getvalue())
        finally:
            application.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
