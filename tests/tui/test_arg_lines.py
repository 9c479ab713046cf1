"""The rows of a request's arguments (`console/arg_lines.py`): a command as the argv the
engine will run, a write as its numbered content, short arguments first."""

from __future__ import annotations

from daena_tui.console.arg_lines import CHUNK, CONTINUED, arg_blocks


def test_a_command_string_is_shown_as_its_argv() -> None:
    blocks = arg_blocks({"command": "git log -n 3 --oneline"})
    assert [b.kind for b in blocks] == ["json", "argv"]
    assert blocks[1].rows == ["[0] git", "[1] log", "[2] -n", "[3] 3", "[4] --oneline"]


def test_a_command_the_engine_would_refuse_says_so() -> None:
    (_, block) = arg_blocks({"command": "ls; rm -rf /"})
    assert block.title.startswith("command (refused:") and block.rows == ["ls; rm -rf /"]


def test_a_write_is_its_content_with_line_numbers() -> None:
    blocks = arg_blocks({"path": "notes/plan.md", "content": "# Plan\n\n1. Read\n"})
    assert [b.kind for b in blocks] == ["json", "numbered"]
    content = blocks[1]
    assert content.rows == ["# Plan", "", "1. Read"]
    assert [content.number(n) for n in range(3)] == [1, 2, 3]
    assert '"path": "notes/plan.md"' in "\n".join(blocks[0].rows)  # short ones first


def test_a_long_line_continues_on_numbered_rows_of_its_own() -> None:
    (_, block) = arg_blocks({"path": "x", "content": "a" * (CHUNK * 2 + 5) + "\nend\n"})
    assert [block.number(n) for n in range(len(block.rows))] == [1, CONTINUED, CONTINUED, 2]
    assert block.rows[-1] == "end" and sum(map(len, block.rows[:3])) == CHUNK * 2 + 5
