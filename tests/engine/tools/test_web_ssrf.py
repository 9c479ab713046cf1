"""web_scrape_bs4 as an SSRF vector: a hostile agent picks the URL, a hostile page picks the
redirects, a hostile DNS server picks the answers. Real HTTP(S) servers on loopback count
every request they receive; a refusal must leave their counters at zero."""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from engine import Engine
from engine.errors import ConfigError, InputError, PolicyError, ToolFailure
from engine.safety.addresses import classify, literal_address, parse_private_entry
from engine.settings import load_settings
from engine.tools.builtin import web, web_guard
from engine.tools.builtin.web import WEB_SCRAPE
from engine.tools.spec import ToolContext
from tests.conftest import make_settings
from tests.support.counting_server import Counting, start, stop

MakeCtx = Callable[..., ToolContext]
RULE = "AUTOMATION_ALLOWED_PRIVATE_ADDRESSES"


@pytest.fixture
def target() -> Iterator[Counting]:
    """The victim: a loopback service the agent must not reach."""
    s = start()
    yield s
    stop(s)


@pytest.fixture
def twin() -> Iterator[tuple[Counting, Counting]]:
    """Two servers on the same port: a "good" one on 127.0.0.2 and a victim on 127.0.0.1
    (a DNS answer that changes from one to the other must not move the connection)."""
    for _ in range(20):  # bounded: another process may hold the port on 127.0.0.2
        victim = start("127.0.0.1")
        try:
            good = start("127.0.0.2", victim.port)
        except OSError:
            stop(victim)
            continue
        yield good, victim
        stop(good, victim)
        return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


def settings_for(**overrides: Any) -> dict[str, Any]:
    return {"AUTOMATION_REQUEST_TIMEOUT_SEC": 10, **overrides}


async def scrape(ctx: ToolContext, url: str) -> dict[str, Any]:
    model = WEB_SCRAPE.args_model.model_validate({"url": url})
    assert WEB_SCRAPE.check is not None
    WEB_SCRAPE.check(ctx, model)
    return await WEB_SCRAPE.run(ctx, model)


async def fetch_only(ctx: ToolContext, url: str) -> dict[str, Any]:
    """The run without the pre-check: what a run does if the check were skipped."""
    return await WEB_SCRAPE.run(ctx, WEB_SCRAPE.args_model.model_validate({"url": url}))


def spellings(port: int) -> list[str]:
    """127.0.0.1:port as an agent would disguise it."""
    hosts = [
        "127.0.0.1",
        "localhost",
        "LOCALHOST.",
        "127.1",
        "127.0.0.2",
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "017700000001",
        "0.0.0.0",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
    ]
    return [f"http://{h}:{port}/page" for h in hosts]


def loopback_spelling_ids() -> list[str]:
    return [u.split("//")[1].split(":")[0] for u in spellings(1)]


# --- defaults: nothing on loopback ---------------------------------------------------------


@pytest.mark.parametrize("index", range(len(spellings(1))), ids=loopback_spelling_ids())
@pytest.mark.parametrize("mode", ["defaults", "safe mode off", "host in allowed domains"])
async def test_loopback_in_any_spelling_is_refused(
    make_ctx: MakeCtx, target: Counting, index: int, mode: str
) -> None:
    url = spellings(target.port)[index]
    host = urlsplit(url).hostname or ""
    overrides: dict[str, Any] = {
        "defaults": {},
        "safe mode off": {"AUTOMATION_SAFE_MODE": False},
        "host in allowed domains": {"AUTOMATION_ALLOWED_DOMAINS": [host.strip("[]")]},
    }[mode]
    ctx = make_ctx(**settings_for(**overrides))
    with pytest.raises(PolicyError) as refused:
        await scrape(ctx, url)
    message = str(refused.value)
    assert message.startswith("url: ")
    if mode != "defaults":  # the domain rule is out of the way: the address rule refuses
        assert RULE in message or "never scraped" in message
    with pytest.raises(PolicyError):
        await fetch_only(ctx, url)  # the run refuses on its own, after resolving
    assert target.hits == []


@pytest.mark.parametrize("host", ["0177.0.0.1", "012.0.0.1", "127.0.0.1.", "[::ffff:127.0.0.1%lo]"])
def test_spellings_the_url_parser_rejects_are_input_errors(make_ctx: MakeCtx, host: str) -> None:
    ctx = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False))
    assert WEB_SCRAPE.check is not None
    with pytest.raises((InputError, PolicyError)) as refused:
        WEB_SCRAPE.check(ctx, WEB_SCRAPE.args_model.model_validate({"url": f"http://{host}:1/"}))
    assert str(refused.value).startswith("url: ")


async def test_defaults_no_longer_list_loopback_names() -> None:
    settings = load_settings(env_file=None)
    assert settings.automation_allowed_domains == ["example.com"]
    assert settings.automation_allowed_private_addresses == []


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.1.1",
        "169.254.169.254",
        "[fd00:ec2::254]",
        "[fe80::1]",
        "[fc00::1]",
        "[fd12:3456::1]",
        "[::ffff:10.0.0.1]",
        "[::ffff:169.254.169.254]",
        "224.0.0.1",
        "[ff02::1]",
        "255.255.255.255",
        "240.0.0.1",
        "198.18.0.1",
        "192.0.2.1",
        "[2001:db8::1]",
        "0",
        "0x0a000001",
        "3232235777",  # 192.168.1.1
    ],
)
def test_private_and_special_addresses_are_refused_before_any_contact(
    make_ctx: MakeCtx, host: str
) -> None:
    ctx = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False))
    assert WEB_SCRAPE.check is not None
    with pytest.raises(PolicyError) as refused:
        WEB_SCRAPE.check(ctx, WEB_SCRAPE.args_model.model_validate({"url": f"http://{host}/"}))
    assert str(refused.value).startswith("url: ")
    assert RULE in str(refused.value) or "never scraped" in str(refused.value)


@pytest.mark.parametrize(
    ("listed", "url"),
    [
        ("169.254.0.0/16", "http://169.254.169.254/latest/meta-data/"),
        ("fd00::/8", "http://[fd00:ec2::254]/"),
        ("0.0.0.0/0", "http://0.0.0.0:8080/"),
        ("224.0.0.0/4", "http://224.0.0.1/"),
    ],
)
def test_metadata_unspecified_and_multicast_are_never_allowed(
    make_ctx: MakeCtx, listed: str, url: str
) -> None:
    ctx = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False, **{RULE: [listed]}))
    assert WEB_SCRAPE.check is not None
    with pytest.raises(PolicyError, match="never scraped"):
        WEB_SCRAPE.check(ctx, WEB_SCRAPE.args_model.model_validate({"url": url}))


@pytest.mark.parametrize(
    ("entry", "problem"),
    [("intranet.lan", "CIDR"), ("127.0.0.1:0", "port"), ("[::1]x", "IPv6"), ("10.0.0.1:x", "port")],
)
def test_bad_opt_in_entries_are_config_errors(entry: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"{RULE}: .*{problem}"):
        load_settings(env_file=None, **{RULE: entry})


# --- the opt-in: exactly what it names ------------------------------------------------------


async def test_opt_in_admits_exactly_the_listed_address_and_port(make_ctx: MakeCtx) -> None:
    listed, other = start(), start()
    try:
        ctx = make_ctx(
            **settings_for(AUTOMATION_SAFE_MODE=False, **{RULE: [f"127.0.0.1:{listed.port}"]})
        )
        result = await scrape(ctx, f"{listed.base}/page")
        assert result["text"] == "served"
        with pytest.raises(PolicyError, match=f"127.0.0.1:{other.port} is a loopback"):
            await scrape(ctx, f"{other.base}/page")
        assert listed.paths == ["/page"] and other.hits == []
    finally:
        stop(listed, other)


@pytest.mark.parametrize(
    "to",
    [
        "http://127.0.0.1:{other}/page",
        "http://localhost:{other}/page",
        "http://2130706433:{other}/page",
        "http://0x7f.1:{other}/page",
        "http://0.0.0.0:{other}/page",
        "http://[::ffff:127.0.0.1]:{other}/page",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://10.0.0.1/",
        "//127.0.0.1:{other}/page",  # scheme-relative
    ],
)
async def test_redirect_from_an_allowed_page_to_loopback_is_refused_before_contact(
    make_ctx: MakeCtx, to: str
) -> None:
    """The first hop is allowed by an opt-in for that one host:port; the page then bounces
    the scraper to another loopback port, the metadata service or the LAN."""
    allowed, other = start(), start()
    try:
        ctx = make_ctx(
            **settings_for(AUTOMATION_SAFE_MODE=False, **{RULE: [f"127.0.0.1:{allowed.port}"]})
        )
        location = to.format(other=other.port)
        url = f"{allowed.base}/redirect?to={quote(location, safe='')}"
        with pytest.raises(PolicyError) as refused:
            await scrape(ctx, url)
        assert str(refused.value).startswith("url (redirect): ")
        assert len(allowed.hits) == 1 and other.hits == []
    finally:
        stop(allowed, other)


async def test_redirect_to_a_listed_address_is_followed(make_ctx: MakeCtx) -> None:
    first, second = start(), start()
    try:
        ctx = make_ctx(
            **settings_for(
                AUTOMATION_SAFE_MODE=False,
                **{RULE: [f"127.0.0.1:{first.port}", f"localhost:{second.port}"]},
            )
        )
        url = f"{first.base}/redirect?to={quote(f'http://localhost:{second.port}/page', safe='')}"
        result = await scrape(ctx, url)
        assert result["final_url"] == f"http://localhost:{second.port}/page"
        assert second.hits == [("/page", f"localhost:{second.port}")]
    finally:
        stop(first, second)


# --- the console's own services: never, even when opted in ----------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "127.0.0.9", "0x7f.1", "[::ffff:7f00:1]"]
)
async def test_the_configured_node_is_refused_even_when_loopback_is_allowed(
    make_ctx: MakeCtx, target: Counting, host: str
) -> None:
    ctx = make_ctx(
        **settings_for(
            AUTOMATION_SAFE_MODE=False,
            WINDOWS_NODE_URL=f"http://127.0.0.1:{target.port}",
            **{RULE: ["127.0.0.0/8", "::1"]},
        )
    )
    with pytest.raises(PolicyError, match=r"WINDOWS_NODE_URL.*never scraped"):
        await scrape(ctx, f"http://{host}:{target.port}/health")
    assert target.hits == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/api/v1/execution/approvals", "http://localhost:8000/"]
)
async def test_the_api_default_address_is_refused_even_when_loopback_is_allowed(
    make_ctx: MakeCtx, url: str
) -> None:
    ctx = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False, **{RULE: ["127.0.0.0/8", "::1"]}))
    with pytest.raises(PolicyError, match=r"the console's API.*never scraped"):
        await scrape(ctx, url)


async def test_a_service_this_process_serves_is_refused_once_named(
    make_ctx: MakeCtx, target: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`daena serve` on another port names its bound address; from then on it is refused."""
    monkeypatch.setattr(web_guard, "SERVED_HERE", {})
    ctx = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False, **{RULE: ["127.0.0.0/8"]}))
    assert (await scrape(ctx, f"{target.base}/page"))["text"] == "served"
    web_guard.refuse_own_service(f"http://127.0.0.1:{target.port}")
    with pytest.raises(PolicyError, match=r"the console's API, http://127\.0\.0\.1:\d+; "):
        await scrape(ctx, f"http://localhost:{target.port}/page")
    assert target.paths == ["/page"]


async def test_registered_nodes_are_refused_through_the_engine_and_audited(
    workspace: Path, tmp_path: Path, target: Counting
) -> None:
    """Through the Python engine: a node added to the registry (here a counting server) is
    out of reach although the operator allowed every loopback address; the refusal is
    audited with the url field and the rule."""
    settings = make_settings(
        workspace,
        tmp_path / "state" / "daena.db",
        AUTOMATION_SAFE_MODE=False,
        WINDOWS_NODE_URL="http://127.0.0.1:1",
        **{RULE: ["127.0.0.0/8"]},
    )
    async with Engine.open(settings) as eng:
        await eng.update_config({"approval_mode": "auto"}, "op@test")
        await eng.nodes.add("lab", f"http://localhost:{target.port}", operator="op@test")
        result = await eng.run("web_scrape_bs4", {"url": f"http://127.0.0.1:{target.port}/"})
        assert result.error is not None and "node 'lab'" in result.error
        assert result.audit_id is not None
        record = await eng.audit.get(result.audit_id)
        assert record is not None and record.error is not None
        assert record.error.startswith("url: ") and "never scraped" in record.error
    assert target.hits == []


async def test_loopback_refusal_is_audited_as_refused(
    workspace: Path, tmp_path: Path, target: Counting
) -> None:
    settings = make_settings(workspace, tmp_path / "state" / "daena.db")
    async with Engine.open(settings) as eng:
        await eng.update_config({"approval_mode": "auto"}, "op@test")
        for url in (f"http://127.0.0.1:{target.port}/", f"http://0x7f.1:{target.port}/"):
            result = await eng.run("web_scrape_bs4", {"url": url})
            assert str(result.status) == "refused"
            assert result.audit_id is not None
            record = await eng.audit.get(result.audit_id)
            assert record is not None and record.error is not None
            assert record.error.startswith("url: ")
    assert target.hits == []


async def test_a_name_found_at_run_time_to_be_loopback_is_audited_as_refused(
    workspace: Path, tmp_path: Path, target: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the run resolves a name; its refusal is still a refusal (exit 3, `refused` in
    the audit), not a tool error."""
    monkeypatch.setattr(web_guard, "resolve_host", RebindingDns("inside.test", ["127.0.0.1"]))
    settings = make_settings(workspace, tmp_path / "state" / "daena.db", AUTOMATION_SAFE_MODE=False)
    async with Engine.open(settings) as eng:
        await eng.update_config({"approval_mode": "auto"}, "op@test")
        result = await eng.run("web_scrape_bs4", {"url": f"http://inside.test:{target.port}/"})
        assert str(result.status) == "refused" and result.refused_by is not None
        assert result.audit_id is not None
        record = await eng.audit.get(result.audit_id)
        assert record is not None and record.status == "refused"
        assert (record.error or "").startswith("url: ")
    assert target.hits == []


def this_machine_address() -> str | None:
    """A non-loopback address of this machine (the one it would send from), if any."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


async def test_a_node_is_refused_on_this_machines_lan_address(make_ctx: MakeCtx) -> None:
    """A node bound to every interface is as reachable on the machine's own address as on
    127.0.0.1; listing that address does not make the node scrapeable."""
    address = this_machine_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    node = start("0.0.0.0")
    try:
        url = f"http://{address}:{node.port}/health"
        plain = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False))
        with pytest.raises(PolicyError):
            await scrape(plain, url)
        listed = make_ctx(
            **settings_for(
                AUTOMATION_SAFE_MODE=False,
                WINDOWS_NODE_URL=f"http://127.0.0.1:{node.port}",
                **{RULE: [f"{address}:{node.port}"]},
            )
        )
        with pytest.raises(PolicyError, match="WINDOWS_NODE_URL"):
            await scrape(listed, url)
        assert node.hits == []
    finally:
        stop(node)


# --- DNS rebinding: the connection goes to the address that was checked ---------------------


class RebindingDns:
    """Answers `name` with each answer in turn (the last one forever); other names go to the
    real resolver. Counts the questions about `name`."""

    def __init__(self, name: str, *answers: list[str]) -> None:
        self.name, self.answers, self.asked = name, list(answers), 0
        self.real = web_guard.resolve_host

    async def __call__(self, host: str, port: int) -> list[Any]:
        if host != self.name:
            return await self.real(host, port)
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return [ipaddress.ip_address(a) for a in answer]


async def test_dns_rebinding_cannot_move_the_connection_to_loopback(
    make_ctx: MakeCtx, twin: tuple[Counting, Counting], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name resolves to an allowed address (127.0.0.2:P, listed) at check time and to
    127.0.0.1 on every later question: the request goes to the checked address, the victim
    on 127.0.0.1:P sees nothing, and the next fetch (a new question) is refused."""
    good, victim = twin
    dns = RebindingDns("rebind.test", ["127.0.0.2"], ["127.0.0.1"])
    monkeypatch.setattr(web_guard, "resolve_host", dns)
    ctx = make_ctx(
        **settings_for(
            AUTOMATION_ALLOWED_DOMAINS=["rebind.test"], **{RULE: [f"127.0.0.2:{good.port}"]}
        )
    )
    result = await scrape(ctx, f"http://rebind.test:{good.port}/page")
    assert result["text"] == "served" and dns.asked == 1  # one question per hop
    assert good.hits == [("/page", f"rebind.test:{good.port}")]  # Host carries the name
    with pytest.raises(PolicyError, match=re.escape("'rebind.test' resolves to 127.0.0.1:")):
        await scrape(ctx, f"http://rebind.test:{good.port}/page")
    assert victim.hits == []


async def test_rebinding_between_redirect_hops_is_refused(
    make_ctx: MakeCtx, twin: tuple[Counting, Counting], monkeypatch: pytest.MonkeyPatch
) -> None:
    good, victim = twin
    dns = RebindingDns("rebind.test", ["127.0.0.2"], ["127.0.0.1"])
    monkeypatch.setattr(web_guard, "resolve_host", dns)
    ctx = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False, **{RULE: [f"127.0.0.2:{good.port}"]}))
    with pytest.raises(
        PolicyError, match=r"url \(redirect\): host 'rebind.test' resolves to 127.0.0.1"
    ):
        await scrape(ctx, f"http://rebind.test:{good.port}/redirect?to=/page")
    assert good.paths == ["/redirect?to=/page"] and victim.hits == []


async def test_a_mixed_dns_answer_is_refused_whole(
    make_ctx: MakeCtx, twin: tuple[Counting, Counting], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One answer listing an allowed and a loopback address: nothing is contacted."""
    good, victim = twin
    monkeypatch.setattr(
        web_guard, "resolve_host", RebindingDns("mixed.test", ["127.0.0.2", "127.0.0.1"])
    )
    ctx = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False, **{RULE: [f"127.0.0.2:{good.port}"]}))
    with pytest.raises(PolicyError, match=re.escape("resolves to 127.0.0.1")):
        await scrape(ctx, f"http://mixed.test:{good.port}/page")
    assert good.hits == [] and victim.hits == []


# --- https: the pinned connection still verifies the name; no downgrade ---------------------


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for `pinned.test` (server context, client context)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=pinned.test",
            "-addext",
            "subjectAltName=DNS:pinned.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a test certificate: {made.stderr.decode()[:200]}")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


async def test_https_is_pinned_and_verified_by_name_and_never_downgraded(
    make_ctx: MakeCtx,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
    target: Counting,
) -> None:
    server_tls, client_tls = tls
    secure = start("127.0.0.2", tls=server_tls)
    try:
        monkeypatch.setattr(web_guard, "resolve_host", RebindingDns("pinned.test", ["127.0.0.2"]))
        monkeypatch.setattr(web, "tls_verify", lambda: client_tls)
        ctx = make_ctx(
            **settings_for(
                AUTOMATION_SAFE_MODE=False,
                **{RULE: [f"127.0.0.2:{secure.port}", f"127.0.0.1:{target.port}"]},
            )
        )
        result = await scrape(ctx, f"https://pinned.test:{secure.port}/page")
        assert result["text"] == "served"  # the certificate matched the name, not the IP
        down = quote(f"http://127.0.0.1:{target.port}/page", safe="")
        with pytest.raises(PolicyError, match="from https to plain http"):
            await scrape(ctx, f"https://pinned.test:{secure.port}/redirect?to={down}")
        assert secure.paths == ["/page", f"/redirect?to={down}"] and target.hits == []
    finally:
        stop(secure)


# --- the classifier on its own -------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", "public"),
        ("2606:4700::1111", "public"),
        ("64:ff9b::808:808", "public"),
        ("127.255.0.1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a00:1", "private"),
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("168.63.129.16", "cloud metadata"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("4000::1", "special-purpose"),  # outside 2000::/3: not allocated
    ],
)
def test_classifier(address: str, kind: str) -> None:
    assert classify(ipaddress.ip_address(address)).kind == kind


def test_literal_spellings_and_entries() -> None:
    assert literal_address("0x7f.0.0.1") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("example.com") is None
    entry = parse_private_entry("[::1]:8080")
    assert entry.admits(ipaddress.ip_address("::1"), 8080)
    assert not entry.admits(ipaddress.ip_address("::1"), 8081)
    assert parse_private_entry("10.0.0.0/8").admits(ipaddress.ip_address("10.9.9.9"), 1)


async def test_unresolvable_name_is_a_failure(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(**settings_for(AUTOMATION_SAFE_MODE=False))
    with pytest.raises(
        ToolFailure, match=re.escape("url: cannot resolve host 'no-such-host.invalid'")
    ):
        await scrape(ctx, "http://no-such-host.invalid/")
