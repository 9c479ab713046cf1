"""POST /run web_scrape_bs4 as a hostile agent: the console's own API and node, loopback
and the metadata service are out of reach, whatever the URL spelling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Settings
from tests.api.conftest import TOKEN, Api
from tests.conftest import make_settings
from tests.support.counting_server import Counting, start, stop


@pytest.fixture
def victim() -> Iterator[Counting]:
    server = start()
    yield server
    stop(server)


@pytest.fixture
def api_settings(api_workspace: Path, tmp_path: Path, victim: Counting) -> Settings:
    """Safe mode off and every loopback address opted in, the victim being the node: the
    most permissive settings an operator could choose still keep the node out of reach."""
    return make_settings(
        api_workspace,
        tmp_path / "state" / "daena.db",
        EXECUTION_TOKEN=TOKEN,
        AUTOMATION_SAFE_MODE=False,
        AUTOMATION_ALLOWED_PRIVATE_ADDRESSES="127.0.0.0/8,::1",
        WINDOWS_NODE_URL=f"http://127.0.0.1:{victim.port}",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/health",
        "http://0x7f.1:{port}/health",
        "http://[::ffff:127.0.0.1]:{port}/health",
        "http://127.0.0.1:8000/api/v1/execution/approvals",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:{port}/",
    ],
)
async def test_api_scrape_of_own_services_is_refused(api: Api, victim: Counting, url: str) -> None:
    await api.set_config(approval_mode="auto")
    response = await api.run("web_scrape_bs4", {"url": url.format(port=victim.port)})
    body = response.json()
    assert response.status_code == 403, body
    assert body["status"] == "refused" and body["error"].startswith("url: ")
    assert "never scraped" in body["error"]
    assert victim.hits == []
