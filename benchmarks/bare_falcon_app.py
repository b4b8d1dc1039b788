"""The baseline for ``bench_core.py``: a bare falcon app on waitress answering a constant body.

It does the least a falcon + waitress server can do for a GET: route the request to one
resource that hands back prebuilt bytes (no serialization, no middleware, no storage, no cache),
with ``Content-Type: application/json``. Whatever Spoke's cached single-file GET costs above this
is Spoke's own work.

The waitress settings mirror :class:`spoke.server.SpokeServer`'s API listener (host, threads,
``clear_untrusted_proxy_headers``, select(), the default connection limit and idle timeout), so the
two servers differ mainly in the application they run. (Spoke's process also has its health
listener, on a loop thread of its own, idle during the benchmark.)

Run::

    python benchmarks/bare_falcon_app.py --port 8081 --body-size 3000

(``--host`` defaults to 127.0.0.1 and ``--threads`` to 8.)

Every path answers ``GET`` with the same body of exactly ``--body-size`` bytes (valid JSON).
SIGTERM and SIGINT stop it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType

import falcon
from waitress.server import create_server

__all__ = ["ConstantBody", "constant_json", "create_bare_app", "main"]


def constant_json(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes, shaped a little like a Spoke file body."""
    head = {"path": "bench/constant.proto", "sha256": "0" * 64, "size": size, "content": ""}
    empty = json.dumps(head).encode()
    if size < len(empty):
        raise ValueError(f"body size must be at least {len(empty)} bytes, got {size}")
    head["content"] = "x" * (size - len(empty))
    body = json.dumps(head).encode()
    assert len(body) == size
    return body


class ConstantBody:
    """Answers every GET with the same bytes."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def on_get(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self.body


def create_bare_app(body: bytes) -> falcon.App[falcon.Request, falcon.Response]:
    """A falcon app with no middleware whose every path answers ``body``."""
    app = falcon.App()
    resource = ConstantBody(body)
    app.add_route("/", resource)
    app.add_route("/{rest:path}", resource)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--body-size", type=int, required=True)
    args = parser.parse_args(argv)

    app = create_bare_app(constant_json(args.body_size))
    return serve_bare(app, host=args.host, port=args.port, threads=args.threads)


def serve_bare(app: object, *, host: str, port: int, threads: int) -> int:
    """Serve ``app`` with waitress until SIGTERM or SIGINT."""
    # Same keyword arguments as SpokeServer's API listener (apart from the ident).
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="bare",
        clear_untrusted_proxy_headers=True,
        connection_limit=100,
        channel_timeout=60,
        cleanup_interval=30,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        server.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    finally:
        server.task_dispatcher.shutdown(timeout=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
