#!/usr/bin/env python
"""Spoke's breaking-change checker against ``buf breaking``, side by side, on one module pair.

Usage::

    python benchmarks/bench_compat.py [--iterations 200] [--runs 20] [--rounds 5] [--json PATH]

What it does, in one run:

1. builds the 50-file old/new pair of ``compat_pair.py`` (the push benchmark's module, with
   deleted fields, a type change, a rename, a removed reserved range, a renamed enum value and
   an added message), writes both to source directories with a minimal ``buf.yaml`` each, and
   compiles both sides once to descriptor sets (and to buf images: the same sets with the
   well-known types marked as imports);
2. checks that every way of running the check reports the same (rule, file) set: Spoke's
   ``check``, ``buf breaking`` on the images, ``spoke check`` and ``buf breaking`` on the
   directories. It stops with exit code 1 when they differ: timing two tools that disagree
   would compare different work;
3. times, in interleaved rounds (the order rotating from round to round):
   (a) ``spoke.compat.check`` in process on the serialized sets (FILE rules),
   (b) ``spoke.compat.compare`` in process, as a push calls it (BACKWARD, FILE),
   (c) ``buf breaking new.binpb --against old.binpb --exclude-imports`` as a subprocess,
   (d) ``spoke check NEW_DIR --against OLD_DIR`` as a subprocess (both sides compiled),
   (e) ``buf breaking NEW_DIR --against OLD_DIR`` as a subprocess (both sides compiled),
   (f) ``buf --version`` and (g) ``spoke --version``: each tool's process start-up alone;
4. measures the peak RSS of each subprocess target in a few extra runs under GNU time (a child's
   own ``ru_maxrss`` would include this Python process's: Linux carries the parent's high-water
   mark across fork and exec) and this Python process's (``getrusage``);
5. prints p50 / p99 / mean wall time, CPU time (the child's own, from ``wait4``), peak RSS, the
   ratios, and the machine.

Nothing is sent over a network. This file is not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import log, percentile, table
from compat_pair import CHANGES, make_pair

from spoke.compat import Schema, check, compare
from spoke.protobuf import compile_files
from spoke.testing.buf import buf_executable, buf_image, parse_findings

BUF_CONFIG = '{"version":"v2","breaking":{"use":["FILE"]}}'
BUF_YAML = "version: v2\nbreaking:\n  use:\n    - FILE\n"
BUF_BREAKING = 100  # buf's exit code when it found breaking changes
LABELS = {
    "a": "(a) Spoke check(), in process, descriptor sets",
    "b": "(b) Spoke compare(), in process, as a push",
    "c": "(c) buf breaking, descriptor sets (images)",
    "d": "(d) spoke check NEW_DIR --against OLD_DIR",
    "e": "(e) buf breaking NEW_DIR --against OLD_DIR",
    "f": "(f) buf --version (start-up only)",
    "g": "(g) spoke --version (start-up only)",
}


def find_buf() -> str:
    found = buf_executable()
    if found is None:
        sys.exit("bench_compat: buf is not installed (pip install buf-bin)")
    return found


def spoke_argv() -> list[str]:
    beside = Path(sys.executable).with_name("spoke")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("spoke")
    return [found] if found else [sys.executable, "-m", "spoke"]


# --------------------------------------------------------------------------------------------
# Inputs


# --------------------------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    cpu_ms: float


def run_process(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[Sample, int, str]:
    """Run ``argv`` to completion: its wall time, its own CPU time (wait4), status, stdout."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    cpu = (usage.ru_utime + usage.ru_stime) * 1000
    return Sample(wall * 1000, cpu), proc.returncode, text


def peak_rss_kib(argv: list[str], cwd: Path, env: dict[str, str], runs: int = 3) -> int | None:
    """Largest peak RSS of ``runs`` runs under GNU time, or None without it.

    GNU time forks the child from its own small process, so the figure is the child's.
    """
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    if gnu_time is None:
        return None
    peaks = []
    with tempfile.NamedTemporaryFile("r") as out:
        for _ in range(runs):
            subprocess.run(
                [gnu_time, "-f", "%M", "-o", out.name, *argv],
                cwd=cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            out.seek(0)
            peaks.append(int(out.read().split()[-1]))
    return max(peaks)


def in_process(fn: Callable[[], object]) -> Sample:
    cpu, start = time.process_time(), time.perf_counter()
    fn()
    return Sample((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000)


def summary(samples: list[Sample], rss_kib: int | None) -> dict[str, Any]:
    walls = [s.wall_ms for s in samples]
    return {
        "runs": len(samples),
        "p50_ms": percentile(walls, 50),
        "p99_ms": percentile(walls, 99),
        "mean_ms": statistics.fmean(walls),
        "cpu_mean_ms": statistics.fmean(s.cpu_ms for s in samples),
        "peak_rss_mib": None if rss_kib is None else rss_kib / 1024,
    }


# --------------------------------------------------------------------------------------------
# Machine and report


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    buf = subprocess.run([find_buf(), "--version"], capture_output=True, text=True, check=False)
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": model,
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "buf": buf.stdout.strip(),
        "spoke": importlib.metadata.version("spoke"),
        "protobuf": importlib.metadata.version("protobuf"),
        "grpcio-tools": importlib.metadata.version("grpcio-tools"),
        "load_average": os.getloadavg(),
    }


def report(result: dict[str, Any]) -> str:
    m, figures = result["machine"], result["figures"]
    rows = []
    for key, label in LABELS.items():
        f = figures[key]
        rss = "-" if f["peak_rss_mib"] is None else f"{f['peak_rss_mib']:.1f}"
        rows.append(
            [
                label,
                str(f["runs"]),
                f"{f['p50_ms']:.2f}",
                f"{f['p99_ms']:.2f}",
                f"{f['mean_ms']:.2f}",
                f"{f['cpu_mean_ms']:.2f}",
                rss,
            ]
        )

    def ratio(top: str, bottom: str) -> str:
        return f"{figures[top]['p50_ms'] / figures[bottom]['p50_ms']:.1f}x"

    def minus(top: str, floor: str) -> float:
        return float(figures[top]["p50_ms"] - figures[floor]["p50_ms"])

    headers = ["target", "runs", "p50 ms", "p99 ms", "mean ms", "CPU ms", "peak RSS MiB"]
    return "\n".join(
        [
            "Spoke vs buf breaking: 50-file module pair, FILE rules",
            f"{m['date']} | {m['nproc']} CPU(s) {m['cpu_model']} | Python {m['python']} | "
            f"buf {m['buf']} | spoke {m['spoke']} | load {m['load_average'][0]:.2f}",
            f"violations: {result['violations']} (the same (rule, file) set from all four checks)",
            "",
            table(headers, rows),
            "",
            f"descriptor sets: buf (c) / Spoke in process (a), p50: {ratio('c', 'a')}; "
            f"buf less its start-up (c - f): {minus('c', 'f'):.2f} ms vs (a) "
            f"{figures['a']['p50_ms']:.2f} ms",
            f"source directories: buf (e) / spoke check (d), p50: {ratio('e', 'd')}; "
            f"less each start-up: buf {minus('e', 'f'):.2f} ms, spoke {minus('d', 'g'):.2f} ms",
            f"peak RSS of this Python process (both compiles, (a), (b)): "
            f"{result['python_peak_rss_mib']:.1f} MiB; CPU ms of (c)-(g) is the child's own; "
            "their RSS is from GNU time (- when it is missing)",
        ]
    )


# --------------------------------------------------------------------------------------------
# The run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200, help="in-process runs of (a), (b)")
    parser.add_argument("--runs", type=int, default=20, help="subprocess runs of (c) to (g)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--files", type=int, default=50, help="files per side")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    return parser.parse_args(argv)


def write_tree(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "buf.yaml").write_text(BUF_YAML)


def agree(found: dict[str, set[tuple[str, str]]]) -> int:
    """The common size of the four (rule, file) sets; exit 1 showing the difference if any."""
    first_name, first = next(iter(found.items()))
    for name, value in found.items():
        log(f"{name}: {len(value)} violations")
    differ = {name: value for name, value in found.items() if value != first}
    if differ:
        for name, value in differ.items():
            log(f"{name} differs from {first_name}:")
            for item in sorted(value - first):
                log(f"  only {name}: {item}")
            for item in sorted(first - value):
                log(f"  only {first_name}: {item}")
        sys.exit(1)
    return len(first)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    buf, spoke = find_buf(), spoke_argv()
    info = machine()
    old, new = make_pair(args.files)
    log(f"pair: {len(old)} files per side; changes: {', '.join(c.what for c in CHANGES)}")
    with tempfile.TemporaryDirectory(prefix="spoke-bench-compat-") as tmp_name:
        tmp = Path(tmp_name)
        write_tree(tmp / "old", old)
        write_tree(tmp / "new", new)
        env = {**os.environ, "BUF_CACHE_DIR": str(tmp / "buf-cache")}
        old_set = compile_files(files=old).descriptor_set
        new_set = compile_files(files=new).descriptor_set
        (tmp / "old.binpb").write_bytes(buf_image(old_set, set(old)))
        (tmp / "new.binpb").write_bytes(buf_image(new_set, set(new)))
        old_schema = Schema("old", old_set, frozenset(old))
        new_schema = Schema("new", new_set, frozenset(new))

        buf_images = [buf, "breaking", "new.binpb", "--against", "old.binpb", "--exclude-imports"]
        buf_images += ["--error-format=json", "--config", BUF_CONFIG]
        buf_dirs = [buf, "breaking", "new", "--against", "old", "--error-format=json"]
        spoke_dirs = [*spoke, "check", "new", "--against", "old"]

        def once(argv: list[str], expected: int) -> str:
            _, code, out = run_process(argv, tmp, env)
            if code != expected:
                sys.exit(f"bench_compat: {' '.join(argv)} exited {code}, expected {expected}")
            return out

        ours = {
            (v.rule, v.file)
            for v in check(old_set, new_set, targets_old=old, targets_new=new, category="FILE")
        }
        spoke_json = json.loads(once([*spoke_dirs, "--format", "json"], 1))["violations"]
        count = agree(
            {
                "spoke check() in process": ours,
                "buf breaking on images": parse_findings(once(buf_images, BUF_BREAKING)),
                "spoke check on directories": {(v["rule"], v["file"]) for v in spoke_json},
                "buf breaking on directories": parse_findings(
                    once(buf_dirs, BUF_BREAKING), prefix="new/"
                ),
            }
        )

        def check_a() -> object:
            return check(old_set, new_set, category="FILE", targets_old=old, targets_new=new)

        def compare_b() -> object:
            return compare(new_schema, [old_schema], mode="BACKWARD", rules="FILE")

        def subprocess_target(argv: list[str], expected: int) -> Callable[[], Sample]:
            def run() -> Sample:
                sample, code, _ = run_process(argv, tmp, env)
                if code != expected:
                    sys.exit(f"bench_compat: {' '.join(argv)} exited {code}, expected {expected}")
                return sample

            return run

        commands = {
            "c": (buf_images, BUF_BREAKING),
            "d": (spoke_dirs, 1),
            "e": (buf_dirs, BUF_BREAKING),
            "f": ([buf, "--version"], 0),
            "g": ([*spoke, "--version"], 0),
        }
        targets: dict[str, tuple[Callable[[], Sample], int]] = {
            "a": (lambda: in_process(check_a), args.iterations),
            "b": (lambda: in_process(compare_b), args.iterations),
        }
        for key, (command, expected) in commands.items():
            targets[key] = (subprocess_target(command, expected), args.runs)
        for measure, _ in targets.values():  # warm-up: caches, page cache, imports
            for _ in range(3):
                measure()
        samples: dict[str, list[Sample]] = {key: [] for key in targets}
        keys = list(targets)
        for round_index in range(args.rounds):
            order = keys[round_index % len(keys) :] + keys[: round_index % len(keys)]
            log(f"round {round_index + 1}/{args.rounds}: {' '.join(order)}")
            for key in order:
                measure, total = targets[key]
                share = total // args.rounds + (round_index < total % args.rounds)
                samples[key].extend(measure() for _ in range(share))
        log("peak RSS of the subprocess targets (GNU time)")
        rss = {key: peak_rss_kib(command, tmp, env) for key, (command, _) in commands.items()}

    result = {
        "machine": info,
        "config": vars(args) | {"json": str(args.json) if args.json else None},
        "violations": count,
        "figures": {key: summary(values, rss.get(key)) for key, values in samples.items()},
        "samples": {key: [asdict(s) for s in values] for key, values in samples.items()},
        "python_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
