"""The filesystem artifact index beyond the contract: processes racing for one key, crashes,
leftover temporary files, corrupt files, and what survives reopening the directory."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from spoke.errors import BackendUnavailable
from spoke.testing.contract import make_artifact
from spoke.testing.racing import race
from spoke_plugins.fs_blob import STALE_TEMP_SECONDS, TEMP_PREFIX
from spoke_plugins.fs_storage import FilesystemStorage

PROCESSES = 4
ROUNDS = 10


def _artifact_file(root: Path, key: str) -> Path:
    hashed = hashlib.sha256(key.encode()).hexdigest()
    return root / "meta" / "artifacts" / hashed[:2] / f"{hashed}.json"


# Each racer waits for the round's start file, then puts the same key as the others with its own
# archive; it prints the digest it was given back.
RACER = textwrap.dedent(
    """
    import hashlib, json, sys, time
    from pathlib import Path
    from spoke.testing.contract import make_artifact
    from spoke_plugins.fs_storage import FilesystemStorage

    root, signals = sys.argv[1], Path(sys.argv[4])
    index, rounds = int(sys.argv[2]), int(sys.argv[3])
    storage = FilesystemStorage(root=root)
    for r in range(rounds):
        (signals / f"ready-{r}-{index}").touch()
        go = signals / f"go-{r}"
        deadline = time.monotonic() + 60
        while not go.exists():
            if time.monotonic() > deadline:
                sys.exit("no start signal")
            time.sleep(0.0002)
        mine = make_artifact(f"codegen:round-{r}", data=f"racer {index}".encode(),
                             metadata={"racer": str(index)})
        got = storage.put_artifact(artifact=mine)
        print(json.dumps({"round": r, "digest": got.digest, "racer": got.metadata["racer"]}),
              flush=True)
    """
)


@pytest.mark.slow
def test_processes_racing_for_one_key_have_one_winner(tmp_path: Path) -> None:
    root = tmp_path / "data"
    signals = tmp_path / "signals"
    storage = FilesystemStorage(root=root)
    outputs = race(RACER, root=root, signals=signals, processes=PROCESSES, rounds=ROUNDS)

    answers: dict[int, list[dict[str, object]]] = {}
    for output in outputs:
        for line in output.splitlines():
            answer = json.loads(line)
            answers.setdefault(answer["round"], []).append(answer)
    for r in range(ROUNDS):
        assert len(answers[r]) == PROCESSES
        # Every racer got the same entry back: the one stored, which is one racer's own.
        assert len({(a["digest"], a["racer"]) for a in answers[r]}) == 1, answers[r]
        winner = int(str(answers[r][0]["racer"]))
        stored = storage.get_artifact(key=f"codegen:round-{r}")
        assert stored == make_artifact(
            f"codegen:round-{r}", data=f"racer {winner}".encode(), metadata={"racer": str(winner)}
        )
    leftovers = [
        name
        for _dir, _subdirs, files in os.walk(root / "meta" / "artifacts")
        for name in files
        if name.startswith(".")
    ]
    assert leftovers == []  # the losers removed their temporary files


# Puts artifacts forever and says which ones returned; killed at a random moment.
WRITER = textwrap.dedent(
    """
    import os, sys
    from spoke.testing.contract import make_artifact
    from spoke_plugins.fs_storage import FilesystemStorage

    storage = FilesystemStorage(root=sys.argv[1])
    run = sys.argv[2]
    print("ready", flush=True)
    number = 0
    while True:
        storage.put_artifact(artifact=make_artifact(
            f"codegen:{run}-{number}", data=os.urandom(64), metadata={"n": str(number) * 500}))
        print(number, flush=True)
        number += 1
    """
)


@pytest.mark.slow
def test_a_writer_killed_at_any_moment_leaves_complete_entries_or_none(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for run, delay in enumerate((0.05, 0.13, 0.21)):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(run)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        done = [int(line) for line in writer.communicate(timeout=30)[0].split()]
        storage = FilesystemStorage(root=root)
        assert done, "the writer stored nothing before it was killed"
        for number in done:
            got = storage.get_artifact(key=f"codegen:{run}-{number}")
            assert got is not None and got.metadata == {"n": str(number) * 500}
        # The one being written when the process died: all of it, or nothing.
        following = storage.get_artifact(key=f"codegen:{run}-{len(done)}")
        assert following is None or following.metadata == {"n": str(len(done)) * 500}
        # Putting it again works whatever the crash left behind.
        again = make_artifact(f"codegen:{run}-{len(done)}", metadata={"n": "again"})
        assert storage.put_artifact(artifact=again) in (again, following)


def test_a_leftover_temporary_file_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "data"
    storage = FilesystemStorage(root=root)
    artifact = make_artifact()
    path = _artifact_file(root, artifact.key)
    path.parent.mkdir(parents=True)
    # What a writer killed between writing its temporary file and linking it leaves: a
    # half-written record, and a whole one, under temporary names next to the final one.
    half = path.parent / f"{TEMP_PREFIX}4242-0123456789abcdef"
    half.write_bytes(json.dumps(artifact.to_dict()).encode()[:40])
    whole = path.parent / f"{TEMP_PREFIX}4243-fedcba9876543210"
    whole.write_text(json.dumps(make_artifact(data=b"other").to_dict()))

    assert storage.get_artifact(key=artifact.key) is None
    assert storage.put_artifact(artifact=artifact) == artifact
    assert storage.get_artifact(key=artifact.key) == artifact
    assert half.exists() and whole.exists()  # young: they may belong to a live writer

    # Once stale, the next process to write (or to probe readiness) removes them; merely
    # opening the directory does not. The entry stays.
    old = time.time() - STALE_TEMP_SECONDS - 60
    for leftover in (half, whole):
        os.utime(leftover, (old, old))
    reopened = FilesystemStorage(root=root)
    assert half.exists() and whole.exists()
    reopened.check()
    assert not half.exists() and not whole.exists()
    assert reopened.get_artifact(key=artifact.key) == artifact


def test_a_key_shaped_like_a_temporary_file_survives_the_cleanup(tmp_path: Path) -> None:
    root = tmp_path / "data"
    artifact = make_artifact(f"{TEMP_PREFIX}1-abc")
    FilesystemStorage(root=root).put_artifact(artifact=artifact)
    path = _artifact_file(root, artifact.key)
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(path, (old, old))
    reopened = FilesystemStorage(root=root)
    reopened.check()  # what runs the cleanup
    assert reopened.get_artifact(key=artifact.key) == artifact


def test_entries_survive_reopening_and_are_one_json_file_each(tmp_path: Path) -> None:
    root = tmp_path / "data"
    artifacts = [make_artifact(f"codegen:{i}", data=bytes([i])) for i in range(5)]
    storage = FilesystemStorage(root=root)
    for artifact in artifacts:
        storage.put_artifact(artifact=artifact)
    storage.delete_artifact(key="codegen:4")
    reopened = FilesystemStorage(root=root)
    for artifact in artifacts[:4]:
        assert reopened.get_artifact(key=artifact.key) == artifact
        record = json.loads(_artifact_file(root, artifact.key).read_text())
        assert record == artifact.to_dict()
    assert reopened.get_artifact(key="codegen:4") is None
    assert not _artifact_file(root, "codegen:4").exists()
    files = [f for _d, _s, names in os.walk(root / "meta" / "artifacts") for f in names]
    assert len(files) == 4
    assert reopened.statistics().modules == 0


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"key": "codegen:x"}',
        json.dumps(make_artifact("codegen:someone-else").to_dict()).encode(),
        json.dumps({**make_artifact().to_dict(), "digest": "nope"}).encode(),
    ],
    ids=["not-json", "not-an-object", "fields-missing", "another-key", "bad-digest"],
)
def test_a_corrupt_entry_is_backend_unavailable_without_the_path(
    tmp_path: Path, content: bytes
) -> None:
    root = tmp_path / "data"
    storage = FilesystemStorage(root=root)
    artifact = make_artifact()
    path = _artifact_file(root, artifact.key)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    for call in (
        lambda: storage.get_artifact(key=artifact.key),
        lambda: storage.put_artifact(artifact=artifact),
    ):
        with pytest.raises(BackendUnavailable) as caught:
            call()
        assert caught.value.message.startswith("filesystem storage: corrupt")
        assert str(tmp_path) not in caught.value.message
    # A repair deletes it; then the put stores the new entry.
    assert storage.delete_artifact(key=artifact.key) is True
    assert storage.put_artifact(artifact=artifact) == artifact


def test_a_broken_directory_is_backend_unavailable_without_the_path(tmp_path: Path) -> None:
    root = tmp_path / "data"
    storage = FilesystemStorage(root=root)
    storage.check()  # the layout exists, as in a serving registry
    artifacts = root / "meta" / "artifacts"
    artifacts.rmdir()
    artifacts.write_bytes(b"a file where the directory was")
    for call in (
        lambda: storage.get_artifact(key="codegen:x"),
        lambda: storage.put_artifact(artifact=make_artifact()),
        lambda: storage.delete_artifact(key="codegen:x"),
    ):
        with pytest.raises(BackendUnavailable) as caught:
            call()
        assert caught.value.message == "filesystem storage: Not a directory"
