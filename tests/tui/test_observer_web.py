"""`daena web` in a real headless Chromium: the page loads behind its token, the inbox
renders, the approve key decides nothing (the engine refuses it), a wrong token is refused.

Uses the system chromium (Debian `chromium`, .ci/run) through Playwright, never a downloaded
browser. The terminal is drawn on a canvas, so what the console shows is read from the bytes
the page's websocket receives.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine
from tests.tui.conftest import OPERATOR, make_repo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
TOKEN = "observer-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


async def pending_request(settings: engine.Settings) -> str:
    async with engine.Engine.open(settings) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
        request = await eng.as_agent("bot").request(
            "filesystem_write", {"path": "observed.txt", "content": "hello\n"}, reason="watch me"
        )
        return request.id


async def request_status(settings: engine.Settings, request_id: str) -> str:
    async with engine.Engine.open(settings) as eng:
        return (await eng.approvals.get(request_id)).status


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, engine.Settings, str]]:
    workspace = make_repo(tmp_path / "ws")
    db = tmp_path / "daena.db"
    env = {
        **os.environ,
        "DAENA_DB_PATH": str(db),
        "EXECUTION_WORKSPACE_ROOT": str(workspace),
        "DAENA_OPERATOR": OPERATOR,
        "OLLAMA_BASE_URL": "http://127.0.0.1:9",
        "WINDOWS_NODE_URL": "http://127.0.0.1:9",
        "DAENA_VOICE_MUTED": "true",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    settings = engine.load_settings(
        env_file=None,
        DAENA_DB_PATH=str(db),
        EXECUTION_WORKSPACE_ROOT=str(workspace),
        DAENA_OPERATOR=OPERATOR,
        OLLAMA_BASE_URL="http://127.0.0.1:9",
        WINDOWS_NODE_URL="http://127.0.0.1:9",
    )
    request_id = asyncio.run(pending_request(settings))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "daena_tui", "web", "--env-file", "", "--port", str(port)]
    cmd += ["--token-file", str(token_file)]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:

        def up() -> bool:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                return status(f"{base}/?token={TOKEN}") == 200
            except OSError:
                return False

        wait_for(up, "daena web to listen")
        yield base, settings, request_id
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_wrong_or_missing_token_is_refused(served: tuple[str, engine.Settings, str]) -> None:
    base, _, _ = served
    assert status(f"{base}/") == 403
    assert status(f"{base}/?token=wrong-token-0123456789") == 403
    assert status(f"{base}/ws/wrong-token-0123456789") == 403
    assert status(f"{base}/?token={TOKEN}") == 200


def test_the_observer_sees_the_inbox_and_cannot_approve(
    served: tuple[str, engine.Settings, str],
) -> None:
    from playwright.sync_api import sync_playwright

    base, settings, request_id = served
    received = bytearray()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})

            def on_socket(ws) -> None:  # type: ignore[no-untyped-def]
                def frame(payload: str | bytes) -> None:
                    if isinstance(payload, bytes):
                        received.extend(payload)

                ws.on("framereceived", frame)

            page.on("websocket", on_socket)
            page.goto(f"{base}/?token={TOKEN}")

            def pump_until(text: bytes, what: str) -> None:
                deadline = time.monotonic() + 60
                while text not in received:
                    if os.environ.get("DAENA_WEB_DUMP"):
                        Path(os.environ["DAENA_WEB_DUMP"]).write_bytes(bytes(received))
                    assert time.monotonic() < deadline, f"timed out waiting for {what}"
                    page.wait_for_timeout(50)

            pump_until(b"Tools", "the console's first section")
            page.locator(".textual-terminal").click()
            page.keyboard.press("3")
            pump_until(request_id.encode(), "the pending request in the inbox")
            assert b"filesystem_write" in received
            received.clear()
            page.keyboard.press("a")  # approve: the dialog opens on Cancel
            pump_until(b"Approve request", "the approve dialog")
            received.clear()
            page.keyboard.press("Shift+Tab")  # from Cancel to Approve
            pump_until(b"APPROVE", "focus on the Approve button")
            page.keyboard.press("Enter")
            pump_until(b"Observer", "the engine's refusal")
        finally:
            browser.close()
    assert asyncio.run(request_status(settings, request_id)) == "pending"
    assert not (Path(settings.execution_workspace_root) / "observed.txt").exists()
