"""README.md's walk-through works as written: its ``curl`` commands, in order, against a real
``spoke serve`` on a fresh data directory.

The commands are read from the README's ``sh`` blocks and sent with urllib (the test needs no
curl); only the curl options the walk-through uses are understood, so a new one fails the test
until it is taught here rather than being silently skipped.
"""

from __future__ import annotations

import json
import shlex
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from spoke_process import RunningServer

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass
class Curl:
    """One ``curl`` command of the walk-through, and the ``| grep PATTERN`` after it, if any."""

    line: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None
    output: str | None = None
    grep: str | None = None


def _walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## A short walk-through\n")
    return text[start : text.index("\n## ", start + 1)]


def _commands(section: str) -> list[str]:
    """The shell commands of the section's ``sh`` blocks: continuation lines joined, a quoted
    argument spanning lines kept whole, comments dropped."""
    commands: list[str] = []
    for block in section.split("```sh\n")[1:]:
        pending = ""
        for line in block.split("```", 1)[0].splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line + "\n"
            if pending.endswith("\\\n"):
                pending = pending[:-2] + " "
                continue
            try:
                shlex.split(pending)
            except ValueError:  # a quotation still open: the argument goes on
                continue
            commands.append(pending.strip())
            pending = ""
        assert not pending, f"unfinished command in README.md: {pending}"
    return commands


def _parse(command: str) -> Curl:
    words = shlex.split(command)
    grep = None
    if "|" in words:
        pipe = words.index("|")
        assert words[pipe + 1 : pipe + 2] == ["grep"] and len(words) == pipe + 3, command
        words, grep = words[:pipe], words[pipe + 2]
    assert words[0] == "curl", command
    curl = Curl(line=command, url="")
    arguments = iter(words[1:])
    for word in arguments:
        if word == "-s":
            continue
        if word == "-X":
            curl.method = next(arguments)
        elif word == "-H":
            name, _, value = next(arguments).partition(":")
            curl.headers[name.strip()] = value.strip()
        elif word == "-d":
            curl.data = next(arguments).encode()
            if curl.method == "GET":
                curl.method = "POST"
        elif word == "-o":
            curl.output = next(arguments)
        else:
            assert not word.startswith("-"), f"teach this test curl's {word}: {command}"
            assert not curl.url, command
            curl.url = word
    curl.grep = grep
    return curl


def _send(curl: Curl, server: RunningServer) -> tuple[int, bytes]:
    url = curl.url.replace("localhost:8080", server.api.removeprefix("http://"))
    url = url.replace("localhost:9090", server.health.removeprefix("http://"))
    request = urllib.request.Request(
        f"http://{url}", data=curl.data, method=curl.method, headers=curl.headers
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_walkthrough_runs_as_written_and_its_diff_shows_a_change(
    spoke_server: RunningServer, tmp_path: Path
) -> None:
    commands = [_parse(command) for command in _commands(_walkthrough())]
    assert len(commands) >= 10
    answers: list[tuple[Curl, bytes]] = []
    for curl in commands:
        status, body = _send(curl, spoke_server)
        assert 200 <= status < 300, f"{curl.line}\n-> {status} {body[:500]!r}"
        if curl.output is not None:
            (tmp_path / curl.output).write_bytes(body)
            assert body, curl.line
            if curl.output.endswith(".zip"):
                assert zipfile.ZipFile(tmp_path / curl.output).namelist(), curl.line
        if curl.grep is not None:
            assert curl.grep in body.decode(), curl.line
        answers.append((curl, body))

    (diff,) = [json.loads(body) for curl, body in answers if curl.url.endswith("/diff")]
    assert diff["from_version"] != diff["to_version"], diff
    assert diff["changes"], "the walk-through's diff compares a version with itself"
    pushes = [
        json.loads(body)["version"] for curl, body in answers if curl.url.endswith("/versions")
    ]
    assert pushes == ["1.0.0", "1.1.0"]
