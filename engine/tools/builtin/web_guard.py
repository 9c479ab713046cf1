"""Which addresses `web_scrape_bs4` may connect to: resolution and the SSRF guard.

Each hop's host is resolved once (`resolve_host`) and every address is judged by
`engine.safety.addresses` plus one rule of the console's own: its services (every node,
WINDOWS_NODE_URL, OLLAMA_BASE_URL, the API's default address and whatever this process
named with `refuse_own_service`) are refused on their port on any non-public address and
on this machine, whatever AUTOMATION_ALLOWED_PRIVATE_ADDRESSES says. The caller connects
only to the addresses returned here.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import PolicyError, ToolFailure
from engine.safety.addresses import (
    NEVER_KINDS,
    PRIVATE_SETTING,
    PUBLIC,
    IPAddress,
    classify,
    is_this_machine,
    literal_address,
    parse_private_entries,
)
from engine.settings import Settings
from engine.tools.spec import ToolContext

if TYPE_CHECKING:
    import httpx  # imported where used: not every engine open needs it (~75 ms)

# `daena serve` binds here unless told otherwise (daena_tui/cli/serve.py DEFAULT_HOST/PORT).
API_DEFAULT_URL = "http://127.0.0.1:8000"
# Services of this process known only once running (url -> label), refused like the nodes.
SERVED_HERE: dict[str, str] = {}


# `<db>.served-<pid>`: the address a `daena serve` on this database bound, for the other
# processes that run tools on it (the MCP gateway, `daena run`, the console). Named after
# the database, so it is one of the console's own files no tool may read, write or delete.
SERVED_MARK = ".served-"
_MAX_MARK_BYTES = 4096


def refuse_own_service(
    url: str, label: str = "the console's API", *, db_path: Path | None = None
) -> None:
    """Name a service this process serves (e.g. the address `daena serve` actually bound)
    so the scraper refuses it like a node, whatever the private-address opt-ins say; with
    `db_path`, every other process on that database refuses it too (until this one exits;
    a mark left by a crash only refuses more)."""
    SERVED_HERE[url] = label
    if db_path is None:
        return
    mark = db_path.with_name(f"{db_path.name}{SERVED_MARK}{os.getpid()}")
    with contextlib.suppress(OSError):
        mark.write_text(url, encoding="utf-8")
        atexit.register(_forget, mark)


def _forget(mark: Path) -> None:
    with contextlib.suppress(OSError):
        mark.unlink()


def served_elsewhere(db_path: Path) -> list[str]:
    """The addresses other `daena serve` processes on this database bound."""
    found = []
    with contextlib.suppress(OSError), os.scandir(db_path.parent) as entries:
        for entry in entries:
            if entry.name.startswith(db_path.name + SERVED_MARK) and entry.is_file():
                with contextlib.suppress(OSError, UnicodeError), open(entry.path, "rb") as f:
                    found.append(f.read(_MAX_MARK_BYTES).decode("utf-8").strip())
    return sorted(found)


def url_host(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii", errors="replace")


def url_port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


@dataclass(frozen=True)
class OwnService:
    """One of the console's own services: never a scraping target."""

    label: str
    url: str
    port: int
    addresses: frozenset[IPAddress]


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """The addresses a name resolves to, in the resolver's order (the one DNS lookup per
    hop; tests replace it to play a rebinding DNS server)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]))
        if ip not in found:
            found.append(ip)
    return found


async def _addresses(host: str, port: int, field: str) -> list[IPAddress]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        found = await resolve_host(host.rstrip("."), port)  # "name." is "name"
    except (OSError, UnicodeError) as err:
        raise ToolFailure(f"{field}: cannot resolve host {host!r} ({err})") from err
    if not found:
        raise ToolFailure(f"{field}: host {host!r} resolves to no address")
    return found


def _service_targets(
    settings: Settings, nodes: Iterable[tuple[str, str]]
) -> list[tuple[str, str, str, int]]:
    """(label, url, host, port) of every service of the console's own."""
    import httpx

    named = [
        *((f"node {name!r}", url) for name, url in nodes),
        ("the node of WINDOWS_NODE_URL", settings.windows_node_url),
        ("the model server of OLLAMA_BASE_URL", settings.ollama_base_url),
        ("the console's API (daena serve's default address)", API_DEFAULT_URL),
        *((label, url) for url, label in SERVED_HERE.items()),
        *(
            ("the console's API (daena serve on this database)", url)
            for url in served_elsewhere(Path(settings.daena_db_path))
        ),
    ]
    targets = []
    for label, raw in named:
        try:
            url = httpx.URL(raw)
        except (httpx.InvalidURL, ValueError):
            continue
        targets.append((label, raw, url_host(url), url_port(url)))
    return targets


def literal_own_services(settings: Settings) -> list[OwnService]:
    """The configured own services without DNS (for the check before a run)."""
    services = []
    for label, raw, host, port in _service_targets(settings, ()):
        literal = literal_address(host)
        services.append(OwnService(label, raw, port, frozenset([literal] if literal else [])))
    return services


async def own_services(settings: Settings, nodes: Iterable[tuple[str, str]]) -> list[OwnService]:
    """The console's own services with their addresses; a name that does not resolve still
    protects its port on every non-public address."""
    services = []
    for label, raw, host, port in _service_targets(settings, nodes):
        try:
            found = await _addresses(host, port, "own service")
        except ToolFailure:
            found = []
        services.append(OwnService(label, raw, port, frozenset(found)))
    return services


class AddressGuard:
    """Judges one (address, port) a hop would connect to; raises PolicyError naming the
    field and the rule."""

    def __init__(self, settings: Settings, services: list[OwnService]) -> None:
        self._entries = parse_private_entries(settings.automation_allowed_private_addresses)
        self._services = services

    def check(self, ip: IPAddress, port: int, *, host: str, field: str) -> None:
        verdict = classify(ip)
        target = verdict.effective
        this_machine = verdict.kind == PUBLIC and is_this_machine(target)
        where = _hostport(target, port)
        literal = literal_address(host)
        if literal is None:
            where = f"host {host!r} resolves to {where}, which"
        elif host.strip("[]") != str(literal):  # say what a disguised spelling means
            where = f"{host!r} means {where}, which"
        for service in self._services:
            if port == service.port and (
                target in service.addresses or verdict.kind != PUBLIC or this_machine
            ):
                raise PolicyError(
                    f"{field}: {where} is (or may be) {service.label}, {service.url}; the "
                    f"console's own services are never scraped, whatever {PRIVATE_SETTING} says"
                )
        if verdict.kind == PUBLIC and not this_machine:
            return
        what = "this machine's own address" if this_machine else verdict.describe()
        if verdict.kind in NEVER_KINDS:
            raise PolicyError(f"{field}: {where} is {what}; such addresses are never scraped")
        if any(entry.admits(target, port) for entry in self._entries):
            return
        raise PolicyError(
            f"{field}: {where} is {what}; loopback, private and link-local addresses are "
            f"refused unless {PRIVATE_SETTING} lists them (e.g. {_hostport(target, port)})"
        )


def _hostport(ip: IPAddress, port: int) -> str:
    bare = ip if ip.version == 4 else ipaddress.IPv6Address(int(ip))
    return f"[{bare}]:{port}" if bare.version == 6 else f"{bare}:{port}"


async def node_urls(ctx: ToolContext) -> list[tuple[str, str]]:
    from engine.nodes.registry import NodeRegistry  # the engine's registry, when there is one

    if isinstance(ctx.nodes, NodeRegistry):
        return [(node.name, node.url) for node in await ctx.nodes.list()]
    return []


async def checked_addresses(url: httpx.URL, guard: AddressGuard, field: str) -> list[IPAddress]:
    """Resolve the hop's host once and check every address; the caller connects only to
    these (so a second, different DNS answer is never asked for)."""
    host, port = url_host(url), url_port(url)
    found = await _addresses(host, port, field)
    for ip in found:
        guard.check(ip, port, host=host, field=field)
    return found
