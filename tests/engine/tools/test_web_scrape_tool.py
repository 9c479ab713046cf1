"""web_scrape_bs4 against two real HTTP servers on loopback (docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from engine.errors import InputError, PolicyError, ToolFailure
from engine.tools.builtin.web import MAX_BODY_BYTES, WEB_SCRAPE, host_allowed
from engine.tools.spec import ToolContext

MakeCtx = Callable[..., ToolContext]
Servers = tuple[Any, Any]  # conftest.WebServer: base URL and the paths it was asked for


def args(**kwargs: Any) -> Any:
    return WEB_SCRAPE.args_model.model_validate(kwargs)


async def scrape(ctx: ToolContext, **kwargs: Any) -> dict[str, Any]:
    assert WEB_SCRAPE.check is not None
    WEB_SCRAPE.check(ctx, args(**kwargs))
    return await WEB_SCRAPE.run(ctx, args(**kwargs))


def only(*domains: str, servers: Iterable[Any] = ()) -> dict[str, Any]:
    """Allowed domains, and the loopback servers the operator opted in (by host:port):
    loopback is never reachable by default."""
    return {
        "AUTOMATION_ALLOWED_DOMAINS": list(domains),
        "AUTOMATION_ALLOWED_PRIVATE_ADDRESSES": [
            f"localhost:{urlsplit(s.base).port}" for s in servers
        ],
        "AUTOMATION_REQUEST_TIMEOUT_SEC": 10,
    }


async def test_text_mode_with_selector(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    result = await scrape(
        make_ctx(**only("127.0.0.1", servers=[a])), url=f"{a.base}/page", selector="#main p"
    )
    assert result["final_url"] == f"{a.base}/page"
    assert result["status_code"] == 200
    assert result["text"] == "Hello world"
    assert result["matched"] == 1 and result["truncated"] is False


async def test_text_mode_whole_page_drops_scripts(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    result = await scrape(make_ctx(**only("127.0.0.1", servers=[a])), url=f"{a.base}/page")
    assert "Hello world" in result["text"] and "Other text" in result["text"]
    assert "secret" not in result["text"]


async def test_links_are_absolute(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    result = await scrape(
        make_ctx(**only("127.0.0.1", servers=[a])),
        url=f"{a.base}/page",
        selector="#main",
        mode="links",
    )
    assert result["links"] == [
        {"href": f"{a.base}/rel", "text": "Relative"},
        {"href": "https://example.org/abs", "text": "Absolute"},
    ]


async def test_tables_as_rows(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    result = await scrape(
        make_ctx(**only("127.0.0.1", servers=[a])),
        url=f"{a.base}/page",
        selector="#t",
        mode="tables",
    )
    assert result["tables"] == [[["Name", "Qty"], ["apple", "3"], ["pear nested", "5"]]]


async def test_max_chars_truncates(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    result = await scrape(
        make_ctx(**only("127.0.0.1", servers=[a])),
        url=f"{a.base}/page",
        selector="#main p",
        max_chars=5,
    )
    assert result["text"] == "Hello" and result["truncated"] is True


async def test_allowed_redirect_chain_is_followed(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    result = await scrape(make_ctx(**only("127.0.0.1", servers=[a])), url=f"{a.base}/chain?n=3")
    assert result["final_url"] == f"{a.base}/page"
    assert len(result["redirects"]) == 4


async def test_too_many_redirects(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    with pytest.raises(ToolFailure, match="more than 5 redirects"):
        await scrape(make_ctx(**only("127.0.0.1", servers=[a])), url=f"{a.base}/chain?n=9")


async def test_cross_host_redirect_when_both_allowed(
    web_servers: Servers, make_ctx: MakeCtx
) -> None:
    a, b = web_servers
    url = f"{a.base}/redirect?to={quote(b.base + '/page', safe='')}"
    result = await scrape(make_ctx(**only("127.0.0.1", "localhost", servers=[a, b])), url=url)
    assert result["final_url"] == f"{b.base}/page"
    assert b.hits == ["/page"]


@pytest.mark.parametrize("direction", ["127.0.0.1->localhost", "localhost->127.0.0.1"])
async def test_redirect_to_a_disallowed_host_is_refused_before_contact(
    web_servers: Servers, make_ctx: MakeCtx, direction: str
) -> None:
    a, b = web_servers
    start, target = (a, b) if direction.startswith("127") else (b, a)
    allowed = direction.split("->")[0]
    url = f"{start.base}/redirect?to={quote(target.base + '/page', safe='')}"
    with pytest.raises(PolicyError) as refused:
        await scrape(make_ctx(**only(allowed, servers=[a, b])), url=url)
    assert "url (redirect): host" in str(refused.value)
    assert start.hits == [url[len(start.base) :]]
    assert target.hits == []  # never contacted


async def test_disallowed_initial_url_is_refused_even_for_a_dry_run(
    web_servers: Servers, make_ctx: MakeCtx
) -> None:
    _, b = web_servers
    assert WEB_SCRAPE.check is not None
    with pytest.raises(PolicyError, match="'localhost' is not in AUTOMATION_ALLOWED_DOMAINS"):
        WEB_SCRAPE.check(make_ctx(**only("127.0.0.1", servers=[b])), args(url=f"{b.base}/page"))
    assert b.hits == []


async def test_safe_mode_off_drops_the_domain_rule_not_the_address_rule(
    web_servers: Servers, make_ctx: MakeCtx
) -> None:
    _, b = web_servers
    ctx = make_ctx(AUTOMATION_SAFE_MODE=False, **only("example.com", servers=[b]))
    result = await scrape(ctx, url=f"{b.base}/page", selector="#other p")
    assert result["text"] == "Other text"
    with pytest.raises(PolicyError, match="AUTOMATION_ALLOWED_PRIVATE_ADDRESSES"):
        await scrape(make_ctx(AUTOMATION_SAFE_MODE=False, **only()), url=f"{b.base}/page")
    assert b.hits == ["/page"]


async def test_body_is_capped(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    result = await scrape(
        make_ctx(**only("127.0.0.1", servers=[a])), url=f"{a.base}/big", max_chars=2_000_000
    )
    assert result["body_truncated"] is True
    assert MAX_BODY_BYTES // 2 < len(result["text"]) <= MAX_BODY_BYTES


async def test_non_2xx_is_a_failure(web_servers: Servers, make_ctx: MakeCtx) -> None:
    a, _ = web_servers
    with pytest.raises(ToolFailure, match="answered HTTP 404"):
        await scrape(make_ctx(**only("127.0.0.1", servers=[a])), url=f"{a.base}/missing")


async def test_unreachable_is_a_failure(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(**{**only("127.0.0.1"), "AUTOMATION_ALLOWED_PRIVATE_ADDRESSES": ["127.0.0.1:9"]})
    with pytest.raises(ToolFailure, match="request failed"):
        await scrape(ctx, url="http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("file:///etc/passwd", InputError),
        ("ftp://127.0.0.1/x", InputError),
        ("javascript:alert(1)", InputError),
        ("http://", InputError),
        ("http://127.0.0.1@evil.example/", PolicyError),
        ("http://evil.example/?127.0.0.1", PolicyError),
        ("http://127.0.0.1.evil.example/", PolicyError),
        ("http://2130706433/", PolicyError),
        ("http://[::1]/", PolicyError),
    ],
)
async def test_bad_urls(make_ctx: MakeCtx, url: str, error: type[Exception]) -> None:
    assert WEB_SCRAPE.check is not None
    with pytest.raises(error) as refused:
        WEB_SCRAPE.check(make_ctx(**only("127.0.0.1", "localhost")), args(url=url))
    assert str(refused.value).startswith("url: ")


def test_bad_selector_is_refused(make_ctx: MakeCtx) -> None:
    assert WEB_SCRAPE.check is not None
    with pytest.raises(InputError, match="selector"):
        WEB_SCRAPE.check(make_ctx(), args(url="http://example.com/", selector="p[[["))


@pytest.mark.parametrize(
    ("host", "allowed", "ok"),
    [
        ("example.com", ["example.com"], True),
        ("EXAMPLE.com.", ["Example.COM"], True),
        ("api.example.com", ["example.com"], True),
        ("badexample.com", ["example.com"], False),
        ("example.com.evil.net", ["example.com"], False),
        ("127.0.0.1", ["127.0.0.1"], True),
        ("127.0.0.2", ["127.0.0.1"], False),
        ("1.127.0.0.1", ["127.0.0.1"], False),
        ("::1", ["::1"], True),
        ("::1", ["localhost"], False),
        ("", ["example.com"], False),
        ("example.com", [], False),
    ],
)
def test_host_rule(host: str, allowed: list[str], ok: bool) -> None:
    assert host_allowed(host, allowed) is ok
