"""The image writes nothing outside /tmp and /var/cache/spoke, checked on a real ``spoke serve``.

No container engine runs here, so the image cannot be started with a read-only root filesystem.
Instead the server runs as the image runs it (its ENTRYPOINT and CMD, the ENV of the Containerfile's
final stage) with each writable path pointed at a temporary directory and an unwritable working
directory, under ``strace -f``: every system call of the server and of its children that names a
file is recorded, and each one that could change the filesystem (an open for writing or creating,
mkdir, rename, link, unlink, chmod, utime...) must name a path inside those two directories,
whether it succeeded or not. A read-only root filesystem would turn any other such call into an
error; the trace shows none is even attempted. (Running as root here, file permissions alone
would prove nothing, hence the trace.)

The server is exercised the way the pods are: a module and a version pushed, files, descriptor
and generated code downloaded (a code generator child process and its temporary files), health
and metrics, then SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from deploy_support import WRITABLE_PATHS, containerfile_stages, tool_missing

pytestmark = pytest.mark.slow

FINAL = containerfile_stages()[-1]
# Calls that change the filesystem. Reads, stat, access(W_OK) and exec are not writes.
WRITING_CALLS = {
    "creat",
    "mkdir",
    "mkdirat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "unlink",
    "unlinkat",
    "rmdir",
    "truncate",
    "chmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "mknod",
    "mknodat",
    "setxattr",
    "lsetxattr",
    "removexattr",
    "lremovexattr",
}
OPENING_CALLS = {"open", "openat", "openat2"}
WRITE_FLAGS = re.compile(r"\bO_(WRONLY|RDWR|CREAT|TRUNC|APPEND)\b")
CALL = re.compile(r"^(\d+)\s+(?:<\.\.\. )?(\w+)\((.*)$")
# A path argument, with the directory file descriptor before it when there is one (-y decodes
# it: AT_FDCWD</cwd> or 5</some/dir>).
PATH_ARG = re.compile(r'(?:(?:AT_FDCWD|\d+)<([^>]*)>, )?"((?:[^"\\]|\\.)*)"')
# Devices any process may write; the container runtime provides them on a read-only rootfs too.
DEVICES = ("/dev/null", "/dev/tty", "/dev/urandom", "/dev/random", "/dev/shm/")
MODULE = {"name": "payments", "description": "Payment events"}
PROTO = (
    'syntax = "proto3";\npackage payments.v1;\nimport "google/protobuf/timestamp.proto";\n'
    "message Payment {\n  string id = 1;\n  int64 amount_cents = 2;\n"
    "  google.protobuf.Timestamp created_at = 3;\n}\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(url: str, body: Any = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _tracee(strace: subprocess.Popen[bytes]) -> int:
    """The pid of the process strace started (its only child)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{strace.pid}/task/{strace.pid}/children")
        pids = children.read_text().split() if children.exists() else []
        if pids:
            return int(pids[0])
        time.sleep(0.05)
    raise AssertionError("strace started no process")


def _image_environment(roots: dict[str, Path], api_port: int, health_port: int) -> dict[str, str]:
    """The final stage's ENV with each writable path moved under ``roots``, on free ports."""

    def moved(value: str) -> str:
        for image_path, root in roots.items():
            if value == image_path or value.startswith(image_path + "/"):
                return str(root) + value[len(image_path) :]
        return value

    environment = {key: moved(value) for key, value in FINAL.env().items() if key != "PATH"}
    environment.update(
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        SPOKE_HOST="127.0.0.1",
        SPOKE_PORT=str(api_port),
        SPOKE_HEALTH_PORT=str(health_port),
        SPOKE_SHUTDOWN_TIMEOUT="10s",
    )
    return environment


def _violations(log: str, allowed: tuple[Path, ...]) -> tuple[list[str], set[str]]:
    """(lines writing outside ``allowed``, every path written inside it)."""
    outside: list[str] = []
    inside: set[str] = set()
    for line in log.splitlines():
        match = CALL.match(line)
        if match is None or "resumed>" in line:
            continue
        call, args = match.group(2), match.group(3)
        if call in OPENING_CALLS:
            if not WRITE_FLAGS.search(args):
                continue
        elif call not in WRITING_CALLS:
            continue
        paths = PATH_ARG.findall(args)
        if call in ("symlink", "symlinkat"):
            paths = paths[1:]  # the link's target is not written
        for directory, raw in paths:
            path = raw.encode().decode("unicode_escape")
            if not os.path.isabs(path):
                path = os.path.join(directory or "/", path)
            path = os.path.normpath(path)
            if path == "/dev/null" or path.startswith(DEVICES):
                continue
            if any(path == str(root) or path.startswith(f"{root}/") for root in allowed):
                inside.add(path)
            else:
                outside.append(line)
    return outside, inside


def test_spoke_serve_writes_only_to_the_images_writable_paths(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        tool_missing("strace is not installed (apt-get install strace)")
    assert strace is not None
    roots = {
        image_path: tmp_path / image_path.strip("/").replace("/", "-")
        for image_path in WRITABLE_PATHS
    }
    for root in roots.values():
        root.mkdir()  # the emptyDirs, empty
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    workdir.chmod(0o555)
    api_port, health_port = _free_port(), _free_port()
    environment = _image_environment(roots, api_port, health_port)
    entrypoint = FINAL.exec_form("ENTRYPOINT")
    argv = [str(Path(sys.executable).parent / entrypoint[0]), *FINAL.exec_form("CMD")]
    trace = tmp_path / "strace.log"
    server_log = (tmp_path / "server.log").open("wb")
    tracing = ["-f", "-qq", "-y", "-s", "4096", "-e", "trace=%file", "-e", "signal=none"]
    process = subprocess.Popen(
        [strace, *tracing, "-o", str(trace), "--", *argv],
        cwd=workdir,
        env=environment,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    api, health = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{health_port}"
    try:
        server = _tracee(process)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if _request(f"{health}/health/live")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

        assert _request(f"{api}/api/v1/modules", MODULE)[0] == 201
        version = {
            "version": "1.0.0",
            "files": [{"path": "payments/v1/payment.proto", "content": PROTO}],
        }
        assert _request(f"{api}/api/v1/modules/payments/versions", version)[0] == 201
        base = f"{api}/api/v1/modules/payments/versions/1.0.0"
        status, body = _request(f"{base}/files/payments/v1/payment.proto?raw=true")
        assert (status, body.decode()) == (200, PROTO)
        assert _request(f"{base}/descriptor")[0] == 200
        status, archive = _request(f"{base}/download/python")
        assert status == 200 and archive[:2] == b"PK"
        assert _request(f"{health}/health/ready")[0] == 200
        status, metrics = _request(f"{health}/metrics")
        assert status == 200 and b"spoke_http_requests_total" in metrics

        os.kill(server, signal.SIGTERM)
        assert process.wait(timeout=60) == 0, (tmp_path / "server.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        server_log.close()
        workdir.chmod(0o755)

    log = trace.read_text(errors="replace")
    outside, inside = _violations(log, tuple(roots.values()))
    assert outside == [], "writes outside /tmp and /var/cache/spoke:\n" + "\n".join(outside[:40])
    # The trace is live: the filesystem backend's data and the generator's temporary files were
    # seen where the image puts them, from more than one process.
    cache_root, tmp_root = roots["/var/cache/spoke"], roots["/tmp"]
    assert any(path.startswith(f"{cache_root}/data/") for path in inside), sorted(inside)[:20]
    assert any(path.startswith(f"{tmp_root}/") for path in inside), sorted(inside)[:20]
    assert len({line.split()[0] for line in log.splitlines() if line[:1].isdigit()}) > 1
    assert list(workdir.iterdir()) == []


def test_the_trace_reader_flags_writes_outside_and_ignores_reads() -> None:
    """The check above is live: what it would report for a few calls as strace prints them."""
    log = "\n".join(
        [
            '7 openat(AT_FDCWD</srv/work>, "/opt/spoke/lib/x.pyc", O_WRONLY|O_CREAT|O_CLOEXEC, 0644) = -1 EROFS',
            '7 openat(AT_FDCWD</srv/work>, "spoke-data/x", O_RDWR|O_CREAT, 0666) = 3</srv/work/spoke-data/x>',
            '8 mkdir("/root/.cache/pip", 0777) = 0',
            '8 renameat2(AT_FDCWD</a>, "/ok/tmp/a", AT_FDCWD</a>, "/elsewhere/b", RENAME_NOREPLACE) = 0',
            '7 openat(AT_FDCWD</srv/work>, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3</etc/passwd>',
            '7 stat("/srv/work/x", 0x7ffd) = -1 ENOENT',
            '7 openat(5</ok/tmp>, "file", O_WRONLY|O_CREAT|O_EXCL, 0600) = 6</ok/tmp/file>',
            '7 symlink("/etc/target", "/ok/cache/link") = 0',
            '7 openat(AT_FDCWD</srv/work>, "/dev/null", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</dev/null>',
        ]
    )
    outside, inside = _violations(log, (Path("/ok/tmp"), Path("/ok/cache")))
    assert [line.split("(")[0] for line in outside] == [
        "7 openat",
        "7 openat",
        "8 mkdir",
        "8 renameat2",
    ]
    assert "/elsewhere/b" in outside[-1]
    assert inside == {"/ok/tmp/a", "/ok/tmp/file", "/ok/cache/link"}
