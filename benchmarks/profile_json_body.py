#!/usr/bin/env python
"""What reading a request body as strict JSON costs: ``parse_json`` against a bare ``json.loads``.

Usage::

    python benchmarks/profile_json_body.py [--rounds 5]

``parse_json`` (what ``read_json`` parses a body with) refuses ``NaN``, ``Infinity``,
out-of-range numbers and repeated keys through ``json.loads`` hooks, one Python call per object.
This times it on push bodies of a few sizes and on a hostile body made of nothing but empty
objects (the most hook calls per byte a 10 MiB body can hold), interleaved with a bare
``json.loads`` of the same bytes, and the whole ``read_json`` (stream read, content type, the
lone-surrogate scan) beside them; the best of the rounds is printed in milliseconds. No server,
no network.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable

import falcon.testing

from spoke.api.http import parse_json, read_json
from spoke.errors import InvalidRequest

MAX_BYTES = 64 * 1024 * 1024
CONTENT = (
    'syntax = "proto3";\npackage acme.v1;\n\nmessage Person {\n'
    + "".join(f"  string field_{i} = {i + 1};\n" for i in range(30))
    + "}\n"
)


def _push(files: int, content: str = CONTENT) -> bytes:
    return json.dumps(
        {
            "version": "1.0.0",
            "files": [{"path": f"acme/v{i}/f.proto", "content": content} for i in range(files)],
            "dependencies": [f"dep{i}@1.0.0" for i in range(10)],
        }
    ).encode()


BODIES: dict[str, Callable[[], bytes]] = {
    "push of 100 files": lambda: _push(100),
    "push of 10,000 files": lambda: _push(10_000),
    "push of one large file": lambda: _push(1, CONTENT * 9000),
    "10 MiB of empty objects (hostile)": lambda: (
        b'{"files": [' + b",".join([b"{}"] * 3_300_000) + b"]}"
    ),
}


def _strict(raw: bytes) -> None:
    parse_json(raw)


def _read(raw: bytes) -> None:
    req = falcon.testing.create_req(
        method="POST", body=raw, headers={"Content-Type": "application/json"}
    )
    # The hostile body is refused after parsing, as a request would be.
    with contextlib.suppress(InvalidRequest):
        read_json(req, max_bytes=MAX_BYTES)


def _bare(raw: bytes) -> None:
    json.loads(raw)


def _best(function: Callable[[bytes], None], raw: bytes, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function(raw)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(
        f"{'body':34} {'size':>8} {'json.loads':>11} {'parse_json':>11} {'extra':>6}"
        f" {'read_json':>10}"
    )
    for label, build in BODIES.items():
        raw = build()
        repeat = 3 if len(raw) > 1_000_000 else 100
        bare = strict = read = float("inf")
        for _ in range(args.rounds):  # interleaved, so drift hits all alike
            bare = min(bare, _best(_bare, raw, repeat))
            strict = min(strict, _best(_strict, raw, repeat))
            read = min(read, _best(_read, raw, repeat))
        print(
            f"{label:34} {len(raw) / 1e6:6.2f}MB {bare * 1000:9.2f}ms {strict * 1000:9.2f}ms"
            f" {(strict / bare - 1) * 100:+5.0f}% {read * 1000:8.2f}ms"
        )


if __name__ == "__main__":
    main()
