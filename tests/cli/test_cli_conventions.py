"""Issue 15: CLI conventions. Global options before or after the subcommand; arguments from
a file (`--args @FILE`, `--arg k=@FILE`) or standard input (`--args -`); a subcommand
imports only its own module."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from daena_tui.cli import dispatch as cli
from daena_tui.cli import main

PY = sys.executable


class Daena:
    def __init__(self, workspace: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.workspace, self.db, self.capsys = workspace, db, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    @property
    def where(self) -> list[str]:
        return ["--db", str(self.db), "--workspace", str(self.workspace)]

    def sub(self, *args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
        """The real entry point in a child process (the OS's argv limit applies)."""
        data = stdin.decode("latin-1") if isinstance(stdin, bytes) else stdin
        return subprocess.run(
            [PY, "-m", "daena_tui", *args],
            input=data,
            capture_output=True,
            text=True,
            cwd=self.workspace,
            env={**os.environ, "DAENA_OPERATOR": "op@test"},
            timeout=120,
        )


@pytest.fixture
def daena(workspace: Path, db_path: Path, capsys: pytest.CaptureFixture[str]) -> Daena:
    return Daena(workspace, db_path, capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["tools", "list", "--json"],
        ["tools", "--json", "list"],
        ["--json", "tools", "list"],
    ],
)
def test_json_before_or_after_the_subcommand(daena: Daena, argv: list[str]) -> None:
    code, out, err = daena(*argv, *daena.where)
    assert code == 0, err
    assert "git_status" in {t["name"] for t in json.loads(out)}


@pytest.mark.no_postgres  # checks that --db created the SQLite file it names
def test_every_global_option_after_the_subcommand(daena: Daena, tmp_path: Path) -> None:
    env = tmp_path / "given.env"
    env.write_text("DAENA_OPERATOR=from-env-file\n", "utf-8")
    code, out, err = daena(
        "run", "git_status", "--json", "--db", str(daena.db), "--workspace", str(daena.workspace)
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "ok"
    assert daena.db.is_file()  # --db after the subcommand chose the database
    code, out, err = daena("logs", "--json", "--limit", "5", *daena.where)
    assert code == 0, err
    records = json.loads(out)
    assert records and records[0]["tool"] == "git_status"
    code, out, _ = daena("config", "show", "--env-file", str(env), *daena.where, "--json")
    assert code == 0
    code, out, _ = daena("doctor", *daena.where, "--env-file", str(env))
    assert "from-env-file" in out
    code, out, _ = daena("doctor", *daena.where, "--operator", "after@cli")
    assert "after@cli" in out


@pytest.mark.no_postgres  # checks that --db created the SQLite file it names
def test_an_option_before_is_not_undone_by_the_subcommand(daena: Daena, tmp_path: Path) -> None:
    """The subcommand's copy of a global option defaults to "not given"."""
    other = tmp_path / "other.db"
    code, out, _ = daena("--json", "--db", str(other), "--workspace", str(daena.workspace), "tools")
    assert code == 0 and json.loads(out)
    assert other.is_file() and not daena.db.exists()
    # given twice: the later (after the subcommand) wins, as with any repeated option
    code, _, _ = daena("--db", str(other), "tools", "--db", str(daena.db), "--json")
    assert code == 0 and daena.db.is_file()


def big_patch(lines: int) -> str:
    body = "".join(f"+line {i:07d} {'x' * 40}\n" for i in range(lines))
    return (
        "diff --git a/big.txt b/big.txt\nnew file mode 100644\n--- /dev/null\n+++ b/big.txt\n"
        f"@@ -0,0 +1,{lines} @@\n{body}"
    )


def test_a_2mb_patch_through_args_at_file(daena: Daena, tmp_path: Path) -> None:
    lines = 40_000
    patch = big_patch(lines)
    assert len(patch) > 2_000_000
    args_file = tmp_path / "patch.json"
    args_file.write_text(json.dumps({"patch": patch}), "utf-8")
    assert daena.sub(*daena.where, "tools", "enable", "apply_patch").returncode == 0
    run = daena.sub(
        "run",
        "apply_patch",
        "--args",
        f"@{args_file}",
        "--requester",
        "agent",
        "--json",
        *daena.where,
    )
    assert run.returncode == 3, run.stderr  # waiting for the operator
    request = json.loads(run.stdout)["approval_request_id"]
    shown = daena.sub(*daena.where, "--json", "approvals", "list")
    (pending,) = json.loads(shown.stdout)
    assert pending["id"] == request and pending["args"]["patch"] == patch
    approved = daena.sub(*daena.where, "approvals", "approve", request)
    assert approved.returncode == 0, approved.stderr
    text = (daena.workspace / "big.txt").read_text("utf-8")
    assert text.count("\n") == lines and text.startswith("line 0000000 ")


def test_args_from_stdin_and_arg_from_a_file(daena: Daena, tmp_path: Path) -> None:
    (daena.workspace / "@odd").write_text("at\n", "utf-8")
    piped = daena.sub(
        "run",
        "filesystem_read",
        "--args",
        "-",
        "--json",
        *daena.where,
        stdin='{"path": "README.md"}',
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["result"]["content"] == "hello\n"
    value = tmp_path / "path.txt"
    value.write_text("README.md", "utf-8")
    code, out, _ = daena(
        "run", "filesystem_read", "--arg", f"path=@{value}", "--json", *daena.where
    )
    assert code == 0 and json.loads(out)["result"]["content"] == "hello\n"
    code, out, _ = daena("run", "filesystem_read", "--arg", "path=@@odd", "--json", *daena.where)
    assert code == 0 and json.loads(out)["result"]["content"] == "at\n"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "cannot read"),
        (lambda p: p.write_bytes('{"path": "README.md"}'.encode("utf-16")), "is not UTF-8"),
        (lambda p: p.write_text("[1]", "utf-8"), "must be a JSON object"),
    ],
)
def test_unreadable_args_file_is_refused_and_named(
    daena: Daena, tmp_path: Path, make: object, expected: str
) -> None:
    path = tmp_path / "args.json"
    make(path)  # type: ignore[operator]
    code, out, err = daena("run", "filesystem_read", "--args", f"@{path}", "--json", *daena.where)
    result = json.loads(out)
    assert code == 3 and result["status"] == "refused"
    assert "--args" in result["error"] and expected in result["error"]
    if expected != "must be a JSON object":
        assert str(path) in result["error"]
    assert "Traceback" not in err


def imported_by(argv: list[str], **env: str) -> tuple[int, list[str], str]:
    """The exit code of `daena ARGV` in a fresh interpreter, the modules it imported and
    its output."""
    code = (
        "import json, sys\n"
        "from daena_tui.cli import main\n"
        "try:\n"
        f"    rc = main({argv!r})\n"
        "except SystemExit as done:  # --help\n"
        "    rc = done.code\n"
        "print(json.dumps([rc, sorted(sys.modules)]), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [PY, "-c", code], capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )
    rc, modules = json.loads(proc.stderr.strip().splitlines()[-1])
    return rc, modules, proc.stdout


def test_approvals_list_does_not_import_the_http_server(daena: Daena) -> None:
    rc, modules, _ = imported_by([*daena.where, "approvals", "list", "--json"])
    assert rc == 0
    heavy = [
        m for m in modules if m.split(".")[0] in ("fastapi", "uvicorn", "starlette", "textual")
    ]
    assert not heavy, heavy
    assert "daena_tui.cli.serve" not in modules and "daena_tui.api" not in modules


# What a command that only reads or lists never needs: the HTTP client (made on first use by
# the engine), upstream schema checking, the tools' own libraries (gitignore patterns, system
# facts, libgit2: engine/tools/deferred.py), the HTTP server and the console.
NOT_FOR_READING = (
    "httpx",
    "jsonschema",
    "pathspec",
    "psutil",
    "pygit2",
    "fastapi",
    "uvicorn",
    "starlette",
    "textual",
)


@pytest.mark.parametrize(
    "argv",
    [["tools", "list", "--json"], ["logs", "--limit", "5", "--json"], ["approvals", "list"]],
)
def test_reading_commands_import_only_what_they_use(daena: Daena, argv: list[str]) -> None:
    rc, modules, _ = imported_by([*daena.where, *argv])
    assert rc == 0
    assert not [m for m in modules if m.split(".")[0] in NOT_FOR_READING]


def test_help_imports_no_server_console_or_client() -> None:
    """`daena --help` registers every command module; none may import its heavy parts."""
    rc, modules, out = imported_by(["--help"])
    assert rc == 0 and "serve" in out
    assert not [m for m in modules if m.split(".")[0] in NOT_FOR_READING]
    assert not [m for m in modules if m.startswith("daena_tui.api")]


def test_a_run_that_calls_out_still_gets_the_http_client(daena: Daena) -> None:
    """The lazy client is real: `nodes health` probes the seeded node over it (nothing
    listens there, so the probe's own connection error is the proof it was sent)."""
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    rc, modules, out = imported_by(
        [*daena.where, "nodes", "health", "--json"], WINDOWS_NODE_URL=url
    )
    assert rc == 1 and "httpx" in modules
    assert f"cannot connect to {url}" in json.loads(out)["windows"]["message"]


def test_the_command_table_names_every_registered_command() -> None:
    """`COMMAND_MODULES` must say which module registers each command, or a command would
    import every module (still correct, just slow): checked against the real registration."""
    registered: dict[str, str] = {}
    for module in cli.command_modules():
        sub = argparse.ArgumentParser().add_subparsers()
        module.register(sub)
        registered.update(dict.fromkeys(sub.choices, module.__name__))
    assert registered == cli.COMMAND_MODULES


def test_a_subcommand_may_define_a_global_option_name_itself() -> None:
    """A later command with its own `--workspace` must not break every command."""
    parser = cli.build_parser(command="tools")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    own = sub.add_parser("own")
    own.add_argument("--workspace", dest="own_workspace")
    args = parser.parse_args(["own", "--workspace", "w", "--json"])
    assert args.own_workspace == "w" and args.json is True and args.workspace is None
