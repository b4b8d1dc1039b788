"""The body-size baseline for ``bench_codegen.py``: a bare falcon app on waitress sending N bytes.

``GET /stream/<N>`` answers N prebuilt bytes the way Spoke sends an archive
(``resp.stream = BytesIO(body)`` with ``Content-Length``, so waitress's ``wsgi.file_wrapper``
sends it without copying it into its buffers); ``GET /data/<N>`` answers them as ``resp.data``
(waitress copies them into its output buffer, and past 1 MiB into a temporary file). Bodies are
built once per size (at most 64 MiB each), ``application/zip``. No middleware, no lookup: what
is left is falcon, waitress and the kernel moving N bytes, i.e. the ceiling of any download of
that size on this server. Same waitress settings as ``bare_falcon_app.py`` and Spoke's API
listener.

Run::

    python benchmarks/bare_blob_app.py --port 8082 [--threads 8]
"""

from __future__ import annotations

import argparse
import io
import sys

import falcon
from bare_falcon_app import serve_bare

MAX_SIZE = 64 * 1024 * 1024


class Bytes:
    def __init__(self, *, stream: bool) -> None:
        self.stream = stream
        self.bodies: dict[int, bytes] = {}

    def on_get(self, req: falcon.Request, resp: falcon.Response, size: int) -> None:
        if size > MAX_SIZE:
            raise falcon.HTTPBadRequest(title=f"at most {MAX_SIZE} bytes")
        body = self.bodies.get(size)
        if body is None:
            body = self.bodies.setdefault(size, (bytes(range(256)) * (size // 256 + 1))[:size])
        resp.content_type = "application/zip"
        if self.stream:
            resp.content_length = len(body)
            resp.stream = io.BytesIO(body)
        else:
            resp.data = body


def create_blob_app() -> falcon.App[falcon.Request, falcon.Response]:
    app = falcon.App()
    app.add_route("/stream/{size:int(min=0)}", Bytes(stream=True))
    app.add_route("/data/{size:int(min=0)}", Bytes(stream=False))
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    return serve_bare(create_blob_app(), host=args.host, port=args.port, threads=args.threads)


if __name__ == "__main__":
    sys.exit(main())
