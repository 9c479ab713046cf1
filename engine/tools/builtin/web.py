"""`web_scrape_bs4`: fetch one page and extract text, links or tables (docs/security.md,
promise 2: the web row).

An SSRF defence: the agent picks the URL and a hostile page picks the redirects. Redirects
are followed by hand (at most five) and every hop passes the same gate before contact:
1. http(s) only; in safe mode the host must be in AUTOMATION_ALLOWED_DOMAINS; an https page
   may not redirect to plain http.
2. The host is resolved once and every address is judged (`web_guard`): only public
   addresses, unless the operator lists the private one in
   AUTOMATION_ALLOWED_PRIVATE_ADDRESSES. This holds with safe mode off too.
3. The console's own services (every node, WINDOWS_NODE_URL, OLLAMA_BASE_URL, the API) are
   refused on their port on any non-public address and on this machine, even when listed.
4. The connection goes to the checked address itself, with the name in the Host header and
   TLS SNI, so a DNS answer that changes between check and connect (rebinding) reaches
   nothing new. The scraper has its own client: no proxy from the environment.
The body is streamed and cut at a size cap, the whole fetch shares one deadline, and
parsing (CPU work) runs in a thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import InputError, PolicyError, ToolFailure
from engine.safety.addresses import IPAddress, literal_address
from engine.settings import Settings
from engine.tools.builtin.web_guard import (
    AddressGuard,
    checked_addresses,
    literal_own_services,
    node_urls,
    own_services,
    url_host,
    url_port,
)
from engine.tools.spec import Risk, ToolContext, ToolSpec

if TYPE_CHECKING:
    import httpx  # imported where used: not every engine open needs it (~75 ms)

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


def _shown(url: httpx.URL) -> str:
    """A URL for messages: without any user:password part."""
    return str(url.copy_with(userinfo=b"")) if url.userinfo else str(url)


def checked_url(raw: str | httpx.URL, settings: Settings, *, field: str = "url") -> httpx.URL:
    """Parse a URL, require http(s) and a host, and apply the safe-mode domain rule."""
    import httpx

    try:
        url = raw if isinstance(raw, httpx.URL) else httpx.URL(raw)
    except (httpx.InvalidURL, ValueError) as err:
        raise InputError(f"{field}: {str(raw)!r} is not a valid URL ({err})") from err
    if url.scheme not in ("http", "https"):
        raise InputError(f"{field}: only http and https URLs are allowed, not {url.scheme!r}")
    host = url_host(url)
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


# --- fetching ---------------------------------------------------------------------------


async def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            return bytes(body[:cap]), True  # stop reading: the rest is never downloaded
    return bytes(body), False


async def _open_pinned(
    client: httpx.AsyncClient, url: httpx.URL, addresses: list[IPAddress]
) -> httpx.Response:
    """GET `url` from one of the checked addresses (in order, the next one only when the
    connection is refused): the URL carries the address, Host and SNI carry the name."""
    import httpx

    host = url_host(url)
    extensions = {} if literal_address(host) is not None else {"sni_hostname": host}
    failure: httpx.ConnectError | None = None
    for ip in addresses:
        request = client.build_request(
            "GET",
            url.copy_with(host=str(ip).split("%")[0]),  # a %scope cannot go in a URL
            headers={"Host": url.netloc.decode("ascii")},
            extensions=extensions,
        )
        try:
            return await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as err:
            failure = err
    assert failure is not None  # addresses is never empty
    raise failure


def _next_hop(url: httpx.URL, location: str, settings: Settings) -> httpx.URL:
    import httpx

    field = "url (redirect)"
    try:
        target = url.join(location)
    except (httpx.InvalidURL, ValueError) as err:
        raise ToolFailure(f"{field}: {location!r} is not a valid URL ({err})") from err
    if url.scheme == "https" and target.scheme == "http":
        raise PolicyError(
            f"{field}: {_shown(url)} redirects from https to plain http ({_shown(target)}); "
            "a downgrade is never followed"
        )
    return checked_url(target, settings, field=field)


def tls_verify() -> ssl.SSLContext | bool:
    """How https certificates are checked: httpx's default trust store (tests add a CA)."""
    return True


async def _fetch(ctx: ToolContext, raw_url: str) -> dict[str, Any]:
    import httpx

    settings = ctx.settings
    url = checked_url(raw_url, settings)
    guard = AddressGuard(settings, await own_services(settings, await node_urls(ctx)))
    hops: list[str] = []
    field = "url"
    timeout = httpx.Timeout(settings.automation_request_timeout_sec)
    async with httpx.AsyncClient(
        trust_env=False, follow_redirects=False, timeout=timeout, verify=tls_verify()
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            addresses = await checked_addresses(url, guard, field)
            resp = await _open_pinned(client, url, addresses)
            try:
                location = resp.headers.get("location")
                if resp.status_code in _REDIRECTS and location:
                    hops.append(_shown(url))
                    url, field = _next_hop(url, location, settings), "url (redirect)"
                    continue
                if not resp.is_success:
                    raise ToolFailure(f"url: {_shown(url)} answered HTTP {resp.status_code}")
                body, truncated = await _read_capped(resp, MAX_BODY_BYTES)
            finally:
                await resp.aclose()
            return {
                "final_url": _shown(url),
                "status_code": resp.status_code,
                "redirects": hops,
                "body": body,
                "encoding": resp.charset_encoding,
                "body_truncated": truncated,
            }
    raise ToolFailure(f"url: more than {MAX_REDIRECTS} redirects (last: {_shown(url)})")


def _check(ctx: ToolContext, args: ScrapeArgs) -> None:
    """Before anything runs (dry runs and the inbox included): the URL rules, and the
    address rules for a URL that names an address literally (names are resolved at run)."""
    url = checked_url(args.url, ctx.settings)
    host = url_host(url)
    literal = literal_address(host)
    if literal is not None:
        guard = AddressGuard(ctx.settings, literal_own_services(ctx.settings))
        guard.check(literal, url_port(url), host=host, field="url")
    if args.selector is not None:
        import soupsieve  # imported on use: parsing libraries cost ~0.1 s at start-up

        try:
            soupsieve.compile(args.selector)
        except soupsieve.SelectorSyntaxError as err:
            raise InputError(f"selector: {args.selector!r} is not a valid CSS selector") from err


async def _run(ctx: ToolContext, args: ScrapeArgs) -> dict[str, Any]:
    import httpx

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
        "mode; loopback, private and link-local addresses only when the operator listed them) "
        "and extract text, links or tables, optionally under a CSS selector."
    ),
    risk=Risk.MEDIUM,
    args_model=ScrapeArgs,
    run=_run,
    check=_check,
    timeout_sec=60.0,
)

TOOLS = [WEB_SCRAPE]
