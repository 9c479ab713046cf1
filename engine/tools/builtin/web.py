"""`web_scrape_bs4`: fetch one page and extract text, links or tables (SPEC §4.5).

The original followed redirects without re-checking them, so an allowed host could bounce
the scraper anywhere. Here redirects are followed by hand (at most five hops) and, in safe
mode, the host of *every* hop is checked against `AUTOMATION_ALLOWED_DOMAINS` before it is
contacted. The body is streamed and cut at a size cap, the whole fetch shares one deadline,
and parsing (CPU work) runs in a thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import InputError, PolicyError, ToolFailure
from engine.settings import Settings
from engine.tools.spec import Risk, ToolContext, ToolSpec

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 2_000_000
DEFAULT_MAX_CHARS = 100_000
_REDIRECTS = {301, 302, 303, 307, 308}


class ScrapeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL to fetch")
    selector: str | None = Field(
        None, max_length=500, description="CSS selector; only matching elements are used"
    )
    mode: Literal["text", "links", "tables"] = Field("text", description="What to extract")
    max_chars: int | None = Field(
        None, gt=0, le=2_000_000, description=f"Cap on extracted characters ({DEFAULT_MAX_CHARS})"
    )


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Exact host or a subdomain of an allowed domain, case-insensitively; an IP literal
    only when that address itself is listed (never as a "subdomain")."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return False
    ip = _ip(host)
    for entry in allowed:
        domain = entry.strip().lower().rstrip(".")
        if not domain:
            continue
        if ip is not None:
            if _ip(domain) == ip:
                return True
        elif host == domain or (_ip(domain) is None and host.endswith("." + domain)):
            return True
    return False


def checked_url(raw: str | httpx.URL, settings: Settings, *, field: str = "url") -> httpx.URL:
    """Parse a URL, require http(s) and a host, and apply the safe-mode domain rule."""
    try:
        url = raw if isinstance(raw, httpx.URL) else httpx.URL(raw)
    except (httpx.InvalidURL, ValueError) as err:
        raise InputError(f"{field}: {str(raw)!r} is not a valid URL ({err})") from err
    if url.scheme not in ("http", "https"):
        raise InputError(f"{field}: only http and https URLs are allowed, not {url.scheme!r}")
    host = url.raw_host.decode("ascii", errors="replace")
    if not host:
        raise InputError(f"{field}: {str(url)!r} has no host")
    if settings.automation_safe_mode and not host_allowed(
        host, settings.automation_allowed_domains
    ):
        allowed = ", ".join(settings.automation_allowed_domains) or "nothing"
        raise PolicyError(
            f"{field}: host {host!r} is not in AUTOMATION_ALLOWED_DOMAINS ({allowed})"
        )
    return url


async def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            return bytes(body[:cap]), True  # stop reading: the rest is never downloaded
    return bytes(body), False


async def _fetch(ctx: ToolContext, raw_url: str) -> dict[str, Any]:
    settings = ctx.settings
    url = checked_url(raw_url, settings)
    hops: list[str] = []
    timeout = httpx.Timeout(settings.automation_request_timeout_sec)
    for _ in range(MAX_REDIRECTS + 1):
        async with ctx.http.stream("GET", url, follow_redirects=False, timeout=timeout) as resp:
            location = resp.headers.get("location")
            if resp.status_code in _REDIRECTS and location:
                hops.append(str(url))
                url = checked_url(url.join(location), settings, field="url (redirect)")
                continue
            if not resp.is_success:
                raise ToolFailure(f"url: {url} answered HTTP {resp.status_code}")
            body, truncated = await _read_capped(resp, MAX_BODY_BYTES)
            return {
                "final_url": str(url),
                "status_code": resp.status_code,
                "redirects": hops,
                "body": body,
                "encoding": resp.charset_encoding,
                "body_truncated": truncated,
            }
    raise ToolFailure(f"url: more than {MAX_REDIRECTS} redirects (last: {url})")


def _check(ctx: ToolContext, args: ScrapeArgs) -> None:
    checked_url(args.url, ctx.settings)
    if args.selector is not None:
        import soupsieve  # imported on use: parsing libraries cost ~0.1 s at start-up

        try:
            soupsieve.compile(args.selector)
        except soupsieve.SelectorSyntaxError as err:
            raise InputError(f"selector: {args.selector!r} is not a valid CSS selector") from err


async def _run(ctx: ToolContext, args: ScrapeArgs) -> dict[str, Any]:
    from engine.tools.builtin.web_extract import extract  # BeautifulSoup only when scraping

    _check(ctx, args)
    deadline = ctx.settings.automation_request_timeout_sec
    try:
        async with asyncio.timeout(deadline):
            page = await _fetch(ctx, args.url)
    except TimeoutError as err:
        raise ToolFailure(f"url: no complete answer within {deadline:g}s") from err
    except httpx.HTTPError as err:
        raise ToolFailure(f"url: request failed: {type(err).__name__}: {err}") from err
    page["url"] = httpx.URL(page["final_url"])
    extracted = await asyncio.to_thread(extract, page, args)
    return {
        "url": args.url,
        "final_url": page["final_url"],
        "status_code": page["status_code"],
        "redirects": page["redirects"],
        "body_truncated": page["body_truncated"],
        "mode": args.mode,
        "selector": args.selector,
        **extracted,
    }


WEB_SCRAPE = ToolSpec(
    name="web_scrape_bs4",
    description=(
        "Fetch an http(s) page (every redirect re-checked against the allowed domains in safe "
        "mode) and extract text, links or tables, optionally under a CSS selector."
    ),
    risk=Risk.MEDIUM,
    args_model=ScrapeArgs,
    run=_run,
    check=_check,
    timeout_sec=60.0,
)

TOOLS = [WEB_SCRAPE]
