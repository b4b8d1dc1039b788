#!/usr/bin/env python
"""Where a warm (stored) archive download spends its time: the app, and waitress's body path.

Usage::

    python benchmarks/profile_download.py [--requests 5000] [--languages python,java]
                                          [--profile] [--top 25]

Part 1, the application alone (no sockets, no waitress): builds Spoke's API app in this process
(``create_app``, the settings of ``spoke serve``), pushes the 50-file module of
``bench_codegen.py``, downloads each archive once (generation), then calls the app as a WSGI
callable in a loop, interleaved, for the cached single-file GET and for each warm download, and
prints microseconds per request. The environ carries waitress's ``wsgi.file_wrapper``
(``ReadOnlyFileBasedBuffer``), so a streamed body is handed back as waitress would get it;
iterating the body is part of the timing, as in ``profile_file_get.py``. ``--profile`` adds a
cProfile of each download loop.

Part 2, waitress's handling of the body (no app, no network): for each archive size, the time
waitress's channel takes to accept the response body into its output buffers the way it does
for a ``resp.data`` body (``bytes`` appended to an ``OverflowableBuffer``: copied into a
``BytesIO`` and, past ``outbuf_overflow`` = 1 MiB, copied again into a temporary file) and for a
``wsgi.file_wrapper`` body (the buffer object appended as is), then read back in
``SO_SNDBUF``-sized chunks (16 KiB here) as ``_flush_some`` does before each ``send``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import falcon.testing
from waitress.adjustments import Adjustments
from waitress.buffers import OverflowableBuffer, ReadOnlyFileBasedBuffer

from spoke.api.app import create_app
from spoke.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_codegen import MODULE, codegen_module, download_url
from profile_file_get import call_loop


def _environ(path: str) -> dict[str, object]:
    env = falcon.testing.create_environ(path=path, method="GET")
    env["wsgi.file_wrapper"] = ReadOnlyFileBasedBuffer
    return env


def app_part(args: argparse.Namespace) -> dict[str, int]:
    """Part 1; returns the body size of each download."""
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="spoke-profile-") as tmp:
        settings = load_settings(
            {
                "SPOKE_STORAGE_TYPE": "filesystem",
                "SPOKE_FILESYSTEM_ROOT": str(Path(tmp) / "data"),
                "SPOKE_LOG_LEVEL": "warning",
            }
        )
        application = create_app(settings)
        try:
            client = falcon.testing.TestClient(application.api)
            created = client.simulate_post("/api/v1/modules", json={"name": MODULE})
            assert created.status_code == 201, created.text
            files = codegen_module(50, schema="p", comment="1.0.0")
            pushed = client.simulate_post(
                f"/api/v1/modules/{MODULE}/versions",
                json={
                    "version": "1.0.0",
                    "files": [{"path": p, "content": c} for p, c in files.items()],
                },
            )
            assert pushed.status_code == 201, pushed.text
            paths = sorted(files)
            targets = {
                "file": f"/api/v1/modules/{MODULE}/versions/1.0.0/files/"
                + quote(paths[len(paths) // 2])
            }
            for language in args.languages:
                targets[language] = download_url("1.0.0", language)
            for key, path in targets.items():
                reply = client.simulate_get(path)
                assert reply.status_code == 200, reply.text
                sizes[key] = len(reply.content)
            envs = {key: _environ(path) for key, path in targets.items()}
            for env in envs.values():
                call_loop(application.api, env, 200)  # warm up
            timings: dict[str, list[float]] = {key: [] for key in envs}
            for _ in range(args.rounds):
                for key, env in envs.items():
                    timings[key].append(call_loop(application.api, env, args.requests) * 1e6)
            print("Part 1: the app as a WSGI callable (wsgi.file_wrapper in the environ)")
            for key, values in timings.items():
                rounds = ", ".join(f"{x:.1f}" for x in values)
                median = statistics.median(values)
                print(f"  {key:8} {sizes[key]:>10,} bytes  {median:7.1f} us/request  ({rounds})")
            if args.profile:
                for key in args.languages:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    call_loop(application.api, envs[key], args.requests)
                    profiler.disable()
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
                    stats.print_stats(args.top)
                    print(f"\n===== cProfile, {key} download, {args.requests} requests =====")
                    print(out.getvalue())
        finally:
            application.close()
    return sizes


def _drain(buffer: object, total: int, chunk: int) -> None:
    """What ``_flush_some`` does around ``send``: get a chunk, then skip what was sent."""
    remaining = total
    while remaining > 0:
        data = buffer.get(chunk)  # type: ignore[attr-defined]
        buffer.skip(len(data), True)  # type: ignore[attr-defined]
        remaining -= len(data)


def as_bytes(body: bytes, overflow: int, chunk: int) -> None:
    buffer = OverflowableBuffer(overflow)
    buffer.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
    buffer.append(body)
    _drain(buffer, len(buffer), chunk)
    buffer.close()


def as_file_wrapper(body: bytes, overflow: int, chunk: int) -> None:
    headers = OverflowableBuffer(overflow)
    headers.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
    _drain(headers, len(headers), chunk)
    wrapped = ReadOnlyFileBasedBuffer(io.BytesIO(body))
    size = wrapped.prepare(len(body))
    _drain(wrapped, size, chunk)
    wrapped.close()


def buffer_part(sizes: dict[str, int], repeats: int) -> None:
    overflow = Adjustments().outbuf_overflow
    with socket.socket() as sock:
        chunk = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    print(
        f"\nPart 2: waitress's output buffers, body only (outbuf_overflow {overflow:,} bytes, "
        f"send chunk {chunk:,} bytes = SO_SNDBUF)"
    )
    for key, size in sizes.items():
        body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        for name, fn in (("resp.data (bytes)", as_bytes), ("wsgi.file_wrapper", as_file_wrapper)):
            fn(body, overflow, chunk)
            values = []
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(repeats):
                    fn(body, overflow, chunk)
                values.append((time.perf_counter() - start) / repeats * 1e6)
            print(f"  {key:8} {size:>10,} bytes  {name:18} {statistics.median(values):8.1f} us")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="calls per timed loop")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--languages", default="python,java")
    parser.add_argument("--profile", action="store_true", help="cProfile each download loop")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--buffer-repeats", type=int, default=200)
    args = parser.parse_args(argv)
    args.languages = [x for x in args.languages.split(",") if x]
    sizes = app_part(args)
    buffer_part(sizes, args.buffer_repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
