"""Promises 1 and 2 through the HTTP API: even holding an operator's grant for `shell_exec`,
a hostile option is refused (403, the rule named), audited as refused, nothing outside the
workspace is written, and the grant stays unused for the command it was meant for."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import AuditFilter
from tests.api.conftest import Api

HOSTILE = [
    (["git", "diff", "--output={out}"], "'--output'"),
    (["git", "log", "--outp={out}"], "abbreviations"),
    (["git", "diff", "--no-index", "{secret}", "README.md"], "'--no-index'"),
    (["git", "diff", "{secret}", "README.md"], "outside the workspace"),
    (["python", "-m", "pytest", "--junitxml={out}"], "it writes a file"),
    (["python", "-m", "pytest", "--basetemp={out}"], "'--basetemp'"),
    (["python", "-m", "pytest", "-p", "evil"], "no:cacheprovider"),
    (["pip", "list", "--pyth={out}"], "abbreviations"),
    (["pip", "--version", "--python={out}"], "admits exactly that command"),
]


@pytest.mark.parametrize(("words", "needle"), HOSTILE, ids=[" ".join(w) for w, _ in HOSTILE])
async def test_a_grant_does_not_admit_hostile_options(
    api: Api, tmp_path: Path, words: list[str], needle: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    out = tmp_path / "written-outside"
    argv = [w.format(out=out, secret=secret) for w in words]
    grant = (await api.http.post("/approve", params={"tool_name": "shell_exec"})).json()
    response = await api.run("shell_exec", {"command": argv}, approval_id=grant["approval_id"])
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"].startswith("command: ") and needle in body["error"]
    assert "TOP SECRET" not in response.text
    assert not out.exists()
    refused = await api.eng.audit.count(AuditFilter(tool="shell_exec", status="refused"))
    assert refused == 1
    ok = await api.run("shell_exec", {"command": "git status"}, approval_id=grant["approval_id"])
    assert ok.status_code == 200 and ok.json()["status"] == "ok"  # the grant was not spent
