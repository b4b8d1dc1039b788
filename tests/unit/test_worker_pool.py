"""The worker pool with real worker processes: limits, failures, queueing and recycling."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import worker_tasks
from spoke.errors import LimitExceeded, Overloaded
from spoke.workers import OutputWatch, WorkerPool
from spoke.workers.process import NICENESS

pytestmark = pytest.mark.slow

TESTS_DIR = str(Path(worker_tasks.__file__).resolve().parent)


class Events:
    """What the pool reported through its callbacks."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, str]] = []
        self.restarts: list[str] = []

    def task(self, task: str, outcome: str, seconds: float) -> None:
        self.tasks.append((task, outcome))


@pytest.fixture
def events() -> Events:
    return Events()


def make_pool(events: Events, **options: object) -> WorkerPool:
    settings: dict[str, object] = {
        "processes": 1,
        "queue": 4,
        "timeout": 30.0,
        "memory_limit": 512 * 1024 * 1024,
        "on_task": events.task,
        "on_restart": events.restarts.append,
        "python_path": (TESTS_DIR,),
    }
    settings.update(options)
    return WorkerPool(**settings)  # type: ignore[arg-type]


@pytest.fixture
def pool(events: Events) -> Iterator[WorkerPool]:
    pool = make_pool(events)
    yield pool
    pool.close()


def test_a_task_runs_in_another_process_and_its_result_comes_back(pool: WorkerPool) -> None:
    assert pool.run("echo", worker_tasks.echo, ({"a": [1, 2]},)) == {"a": [1, 2]}
    assert pool.run("pid", worker_tasks.pid, ()) != os.getpid()


def test_the_same_worker_serves_task_after_task(pool: WorkerPool) -> None:
    first = pool.run("pid", worker_tasks.pid, ())
    assert [pool.run("pid", worker_tasks.pid, ()) for _ in range(5)] == [first] * 5


def test_an_exception_in_the_task_is_raised_in_the_caller(pool: WorkerPool, events: Events) -> None:
    with pytest.raises(ValueError, match="bad input"):
        pool.run("fail", worker_tasks.fail, ("bad input",))
    assert events.tasks == [("fail", "error")]
    assert events.restarts == []  # a task's own failure does not cost the worker


def test_a_result_that_cannot_cross_the_pipe_is_an_error_not_a_hang(pool: WorkerPool) -> None:
    with pytest.raises(RuntimeError, match="function"):
        pool.run("unpicklable", worker_tasks.unpicklable, ())
    assert pool.run("echo", worker_tasks.echo, (1,)) == 1


def test_a_task_over_the_time_limit_is_killed_and_the_worker_replaced(events: Events) -> None:
    pool = make_pool(events, timeout=0.5)
    try:
        before = pool.run("pid", worker_tasks.pid, ())
        with pytest.raises(LimitExceeded) as raised:
            pool.run("sleep", worker_tasks.sleep, (60,))
        assert raised.value.details["limit"] == "time"
        assert raised.value.status == 422
        with pytest.raises(ProcessLookupError):
            os.kill(before, 0)  # killed, not left running
        assert pool.run("pid", worker_tasks.pid, ()) != before
        assert events.restarts == ["timeout"]
        assert ("sleep", "time") in events.tasks
    finally:
        pool.close()


def test_a_task_over_the_memory_limit_fails_alone(events: Events) -> None:
    pool = make_pool(events, memory_limit=256 * 1024 * 1024)
    try:
        with pytest.raises(LimitExceeded) as raised:
            pool.run("allocate", worker_tasks.allocate, (1024,))
        assert raised.value.details["limit"] == "memory"
        assert raised.value.details["bytes"] == 256 * 1024 * 1024
        # Within the limit, the next task works.
        assert pool.run("allocate", worker_tasks.allocate, (16,)) == 16 * 1024 * 1024
        assert events.restarts == ["memory"]
    finally:
        pool.close()


def test_a_worker_that_dies_during_a_task_is_reported_and_replaced(
    pool: WorkerPool, events: Events
) -> None:
    with pytest.raises(LimitExceeded) as raised:
        pool.run("crash", worker_tasks.crash, ())
    assert raised.value.details["signal"] == "SIGSEGV"
    assert "SIGSEGV" in raised.value.message
    assert pool.run("echo", worker_tasks.echo, ("alive",)) == "alive"
    assert events.restarts == ["crashed"]


def test_a_worker_killed_while_idle_is_replaced_without_failing_the_next_task(
    pool: WorkerPool,
) -> None:
    first = pool.run("pid", worker_tasks.pid, ())
    os.kill(first, 9)
    _wait_until(lambda: not _running(first))
    assert pool.run("echo", worker_tasks.echo, ("still served",)) == "still served"
    assert pool.run("pid", worker_tasks.pid, ()) != first


def test_a_watched_file_over_its_limit_stops_the_task(pool: WorkerPool, events: Events) -> None:
    seen: list[str] = []

    def stopped(workdir: str) -> BaseException:
        seen.append((Path(workdir) / "out.log").read_text()[:3])
        return ValueError("output limit")

    watch = OutputWatch("out.log", 1000, stopped)
    with pytest.raises(ValueError, match="output limit"):
        pool.run("write", worker_tasks.write_output, ("out.log", 5000, 60), watch=watch)
    assert seen == ["xxx"]  # read before the worker's directory was removed
    assert events.restarts == ["output_limit"]
    # Under the limit, the task runs to its end.
    assert pool.run("write", worker_tasks.write_output, ("out.log", 10, 0), watch=watch) == (
        "finished"
    )


def test_workers_get_none_of_the_servers_environment(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPOKE_POSTGRES_URL", "postgresql://user:secret@db/spoke")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    environment = pool.run("environment", worker_tasks.environment, ())
    assert not any(name.startswith(("SPOKE_", "AWS_")) for name in environment)
    assert "secret" not in repr(environment)


def test_workers_run_below_the_servers_cpu_priority(pool: WorkerPool) -> None:
    assert pool.run("niceness", worker_tasks.niceness, ()) == os.nice(0) + NICENESS


def test_when_every_worker_is_busy_and_the_queue_is_full_requests_are_refused_at_once(
    events: Events,
) -> None:
    pool = make_pool(events, processes=1, queue=1)
    results: list[object] = []

    def occupy(seconds: float) -> None:
        try:
            results.append(pool.run("sleep", worker_tasks.sleep, (seconds,)))
        except Exception as exc:  # recorded for the assertions below
            results.append(exc)

    try:
        running = threading.Thread(target=occupy, args=(1.5,))
        running.start()
        _wait_until(lambda: pool.busy == 1)
        waiting = threading.Thread(target=occupy, args=(0,))
        waiting.start()
        _wait_until(lambda: pool.waiting == 1)
        with pytest.raises(Overloaded) as raised:
            pool.run("echo", worker_tasks.echo, (1,))
        assert raised.value.status == 503
        assert raised.value.code == "server_busy"
        assert raised.value.retry_after >= 1
        running.join()
        waiting.join()
        assert results == ["slept", "slept"]  # the queued one was served once a worker freed
        assert ("echo", "busy") in events.tasks
    finally:
        pool.close()


def test_a_request_waits_no_longer_than_the_timeout_for_a_worker(events: Events) -> None:
    pool = make_pool(events, processes=1, queue=8, timeout=0.5)
    try:

        def block() -> None:
            with pytest.raises(LimitExceeded):
                pool.run("sleep", worker_tasks.sleep, (5,))

        blocker = threading.Thread(target=block)
        blocker.start()
        _wait_until(lambda: pool.busy == 1)
        with pytest.raises(Overloaded):
            pool.run("echo", worker_tasks.echo, (1,))
        blocker.join()
    finally:
        pool.close()


def test_a_worker_that_keeps_too_much_memory_is_recycled(events: Events) -> None:
    pool = make_pool(events, memory_limit=512 * 1024 * 1024, recycle_bytes=128 * 1024 * 1024)
    try:
        first = pool.run("hold", worker_tasks.hold, (200,))
        assert events.restarts == ["recycled"]
        assert pool.run("pid", worker_tasks.pid, ()) != first
        # A task that leaves little behind keeps its worker.
        second = pool.run("pid", worker_tasks.pid, ())
        assert pool.run("pid", worker_tasks.pid, ()) == second
    finally:
        pool.close()


def test_started_pool_starts_its_workers_and_close_stops_them(events: Events) -> None:
    pool = make_pool(events, processes=2)
    pool.start()
    assert pool.busy == 0
    pid = pool.run("pid", worker_tasks.pid, ())
    workdir = Path(pool.run("where", worker_tasks.where, ()))
    assert workdir.is_dir()
    pool.close()
    _wait_until(lambda: not _running(pid))
    assert not workdir.exists()
    with pytest.raises(Overloaded):
        pool.run("echo", worker_tasks.echo, (1,))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers: look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def _wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_workers_of_a_server_killed_outright_exit_and_clean_up(tmp_path: Path) -> None:
    # A server killed with SIGKILL cannot stop its workers: they see their socket close.
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {TESTS_DIR!r})\n"
        "from spoke.workers import WorkerPool\n"
        "import worker_tasks\n"
        f"pool = WorkerPool(processes=1, queue=1, timeout=30, memory_limit=None,"
        f" python_path=({TESTS_DIR!r},))\n"
        "print(pool.run('pid', worker_tasks.pid, ()), pool.run('where', worker_tasks.where, ()),"
        " flush=True)\n"
        "time.sleep(60)\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert server.stdout is not None
        worker_pid, workdir = server.stdout.readline().split()
        assert Path(workdir).is_dir()
        server.kill()
        server.wait(timeout=10)
        _wait_until(lambda: not _running(int(worker_pid)))
        _wait_until(lambda: not Path(workdir).exists())
    finally:
        if server.poll() is None:
            server.kill()
