"""`daena run web_scrape_bs4` as an agent would call it: loopback in any spelling is refused
with a one-line message naming the url field and the rule, audited, and never contacted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from daena_tui.cli import main
from tests.support.counting_server import Counting, start, stop


@pytest.fixture
def victim() -> Iterator[Counting]:
    server = start()
    yield server
    stop(server)


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f.1", "2130706433", "[::ffff:127.0.0.1]"])
@pytest.mark.parametrize("safe_mode", ["true", "false"])
def test_cli_scrape_of_loopback_is_refused_and_audited(
    workspace: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    victim: Counting,
    host: str,
    safe_mode: str,
) -> None:
    monkeypatch.setenv("AUTOMATION_SAFE_MODE", safe_mode)
    monkeypatch.delenv("AUTOMATION_ALLOWED_PRIVATE_ADDRESSES", raising=False)
    base = ["--db", str(db_path), "--workspace", str(workspace), "--operator", "op@test"]
    url = f"http://{host}:{victim.port}/page"
    code = main([*base, "run", "web_scrape_bs4", "--arg", f"url={url}"])
    out, err = capsys.readouterr()
    assert code == 3, (out, err)
    assert "web_scrape_bs4: refused" in out and "Traceback" not in out + err
    [line] = [x for x in out.splitlines() if x.startswith("error: ")]
    assert line.startswith("error: url: ")
    rule = "AUTOMATION_ALLOWED_DOMAINS" if safe_mode == "true" else "AUTOMATION_ALLOWED_PRIVATE"
    assert rule in line
    assert main([*base, "--json", "logs", "--limit", "10"]) == 0
    records = json.loads(capsys.readouterr().out)
    [refused] = [r for r in records if r["tool"] == "web_scrape_bs4"]
    assert refused["status"] == "refused" and refused["error"].startswith("url: ")
    assert victim.hits == []
