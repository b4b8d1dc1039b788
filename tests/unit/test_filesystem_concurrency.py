"""Separate processes racing on one data directory: exactly one creation wins, every time."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from spoke.testing import make_module, make_version
from spoke.testing.racing import race
from spoke_plugins.filesystem import FilesystemStorage

PROCESSES = 4
ROUNDS = 12

# Each racer waits for the round's start file, then creates the same module and the same
# version as the others, with its own content; it reports what happened as JSON lines.
RACER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from spoke.errors import ModuleExists
    from spoke.interfaces import VersionAlreadyStored
    from spoke.testing import make_module, make_version
    from spoke_plugins.filesystem import FilesystemStorage

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
        module = make_module(f"race.m{r}", description=f"racer {index}")
        try:
            storage.create_module(module=module)
            outcome = {"round": r, "kind": "module", "won": True}
        except ModuleExists:
            outcome = {"round": r, "kind": "module", "won": False}
        print(json.dumps(outcome), flush=True)
        version = make_version(
            "race.v", f"1.{r}.0", files={"a.proto": f"racer {index}".encode()},
            deps=[f"race.dep@{index}.0.0"],
        )
        try:
            storage.create_version(version=version)
            outcome = {"round": r, "kind": "version", "won": True}
        except VersionAlreadyStored as exc:
            outcome = {"round": r, "kind": "version", "won": False,
                       "existing": exc.existing.to_dict()}
        print(json.dumps(outcome), flush=True)
    """
)


def _candidate(round_: int, index: int) -> dict[str, object]:
    version = make_version(
        "race.v",
        f"1.{round_}.0",
        files={"a.proto": f"racer {index}".encode()},
        deps=[f"race.dep@{index}.0.0"],
    )
    return version.to_dict()


@pytest.mark.slow
def test_processes_racing_to_create_the_same_module_and_version(tmp_path: Path) -> None:
    root = tmp_path / "data"
    signals = tmp_path / "signals"
    storage = FilesystemStorage(root=root)
    storage.create_module(module=make_module("race.v"))

    outputs = race(RACER, root=root, signals=signals, processes=PROCESSES, rounds=ROUNDS)

    outcomes: dict[tuple[int, str], dict[int, dict[str, object]]] = {}
    for index, output in enumerate(outputs):
        for line in output.splitlines():
            outcome = json.loads(line)
            outcomes.setdefault((outcome["round"], outcome["kind"]), {})[index] = outcome

    for r in range(ROUNDS):
        modules = outcomes[(r, "module")]
        assert len(modules) == PROCESSES
        module_winners = [i for i, o in modules.items() if o["won"]]
        assert len(module_winners) == 1, modules
        stored_module = storage.get_module(name=f"race.m{r}")
        assert stored_module.description == f"racer {module_winners[0]}"

        versions = outcomes[(r, "version")]
        assert len(versions) == PROCESSES
        version_winners = [i for i, o in versions.items() if o["won"]]
        assert len(version_winners) == 1, versions
        winner = version_winners[0]
        stored = storage.get_version(module="race.v", version=f"1.{r}.0")
        assert stored.to_dict() == _candidate(r, winner)
        for index, outcome in versions.items():
            if index != winner:
                assert outcome["existing"] == _candidate(r, winner)
        # Only the winner's pin is in the reverse index, whatever markers the losers wrote.
        for index in range(PROCESSES):
            dependents = storage.list_dependents(module="race.dep", version=f"{index}.0.0")
            expected = f"race.v@1.{r}.0" in {str(d) for d in dependents}
            assert expected == (index == winner)

    assert storage.statistics().modules == ROUNDS + 1
    assert storage.statistics().versions == ROUNDS
