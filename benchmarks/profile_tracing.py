#!/usr/bin/env python
"""What tracing costs per request, without the network: a WSGI call loop, three configurations.

Usage::

    python benchmarks/profile_tracing.py [--requests 5000] [--rounds 5]

Builds Spoke's API app in this process three times on the memory backends, with access lines at
``info`` written to ``/dev/null``: tracing off (the default), on with every request sampled, and
on with ``SPOKE_OTEL_SAMPLE_RATIO=0``. The exporter points at a closed local port: spans are
batched and dropped in the background, as with an unreachable collector. Each configuration
answers ``GET /api/v1/modules/{name}`` (a server span and storage spans) and a cached
``GET .../files/{path}`` (the server span only); the loops are interleaved and the medians of
the rounds printed in microseconds per request. Needs the ``otel`` extra.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from typing import Any
from urllib.parse import quote

import falcon.testing

from spoke.api.app import create_app
from spoke.logs import configure_logging
from spoke.settings import load_settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import profile_file_get  # benchmarks/ is not a package

CONFIGURATIONS = {
    "off": {},
    "on, every request sampled": {"SPOKE_OTEL_ENABLED": "true"},
    "on, ratio 0": {"SPOKE_OTEL_ENABLED": "true", "SPOKE_OTEL_SAMPLE_RATIO": "0"},
}
OTEL = {"SPOKE_OTEL_ENDPOINT": "http://127.0.0.1:9", "SPOKE_OTEL_INSECURE": "true"}


def _environs(client: falcon.testing.TestClient) -> dict[str, dict[str, Any]]:
    module = profile_file_get.bench_core.MODULE
    assert client.simulate_post("/api/v1/modules", json={"name": module}).status_code == 201
    files = profile_file_get.bench_core.generate_module(10, revision="1.0.0")
    body = {"version": "1.0.0", "files": [{"path": p, "content": c} for p, c in files.items()]}
    pushed = client.simulate_post(f"/api/v1/modules/{module}/versions", json=body)
    assert pushed.status_code == 201, pushed.text
    file_path = f"/api/v1/modules/{module}/versions/1.0.0/files/{quote(sorted(files)[0])}"
    paths = {"GET /modules/{name}": f"/api/v1/modules/{module}", "GET .../files/{path}": file_path}
    for path in paths.values():
        assert client.simulate_get(path).status_code == 200
    return {name: falcon.testing.create_environ(path=p, method="GET") for name, p in paths.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="calls per timed loop")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (the log sink keeps it)
    configure_logging(level="info", fmt="json")
    sys.stdout = stdout

    apps = {}
    for name, extra in CONFIGURATIONS.items():
        settings = load_settings({"SPOKE_STORAGE_TYPE": "memory", **OTEL, **extra})
        application = create_app(settings)
        apps[name] = (application, _environs(falcon.testing.TestClient(application.api)))
    try:
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name, (application, environs) in apps.items():
                for request, environ in environs.items():
                    seconds = profile_file_get.call_loop(application.api, environ, args.requests)
                    results.setdefault((request, name), []).append(seconds * 1e6)
        requests = list(next(iter(apps.values()))[1])
        print("us per request, median of rounds (range)")
        print(f"{'request':24}" + "".join(f"{name:>28}" for name in apps))
        for request in requests:
            cells = []
            for name in apps:
                samples = results[(request, name)]
                cells.append(
                    f"{statistics.median(samples):.1f} ({min(samples):.0f}-{max(samples):.0f})"
                )
            print(f"{request:24}" + "".join(f"{cell:>28}" for cell in cells))
    finally:
        for application, _ in apps.values():
            application.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
