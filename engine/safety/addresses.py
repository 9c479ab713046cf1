"""Which network addresses a tool may connect to: the SSRF rules of `web_scrape_bs4`.

The agent picks the URL and a hostile page picks the redirects, so the scraper classifies
every address it would connect to (after DNS resolution, on every hop). Public unicast
addresses are allowed; loopback, private, link-local and other special-purpose addresses
only when the operator lists them in `AUTOMATION_ALLOWED_PRIVATE_ADDRESSES`; and some
never: unspecified, multicast, broadcast and cloud metadata addresses. An IPv6 spelling of
an IPv4 address (mapped, NAT64, 6to4, Teredo) is judged by the IPv4 address inside it.

"Public" is an allow-list (the ranges that are globally routed), not a list of bad ranges,
so an address nobody thought of is refused rather than admitted. Pure functions only.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PRIVATE_SETTING = "AUTOMATION_ALLOWED_PRIVATE_ADDRESSES"

PUBLIC = "public"
# Refused whatever the settings say; every other non-public kind (loopback, private, shared,
# link-local, special-purpose) is reachable only through an explicit operator entry.
NEVER_KINDS = frozenset({"unspecified", "multicast", "broadcast", "cloud metadata"})

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# IANA IPv4 special-purpose registry (plus multicast and the reserved 240/4), most specific
# first. Anything not listed here is globally routed, hence public.
_IPV4_KINDS: tuple[tuple[IPNetwork, str], ...] = (
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("192.0.0.0/24"), "special-purpose"),
    (_V4("192.0.2.0/24"), "special-purpose"),
    (_V4("192.88.99.0/24"), "special-purpose"),
    (_V4("198.18.0.0/15"), "special-purpose"),
    (_V4("198.51.100.0/24"), "special-purpose"),
    (_V4("203.0.113.0/24"), "special-purpose"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "special-purpose"),
)
# Instance metadata services (they hand out cloud credentials): never, even when listed.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.253",  # AWS DNS
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public-range address)
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
_IPV6_GLOBAL = _V6("2000::/3")
_IPV6_KINDS: tuple[tuple[IPNetwork, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fc00::/7"), "private"),
    (_V6("fec0::/10"), "private"),  # deprecated site-local
    (_V6("ff00::/8"), "multicast"),
    (_V6("2001:db8::/32"), "special-purpose"),  # documentation
    (_V6("3fff::/20"), "special-purpose"),  # documentation
    (_V6("2001::/23"), "special-purpose"),  # IETF protocol assignments (Teredo handled first)
)
_NAT64 = _V6("64:ff9b::/96")  # the well-known prefix: translated to the IPv4 inside
_INET_ATON_SPELLING = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.I)


@dataclass(frozen=True)
class Verdict:
    """What an address is: its kind and the IPv4 address it stands for, if any."""

    address: IPAddress
    kind: str
    via: IPAddress | None = None  # the IPv4 address inside an IPv6 spelling

    @property
    def effective(self) -> IPAddress:
        """The address a connection actually reaches (mapped IPv6 reaches its IPv4)."""
        mapped = getattr(self.address, "ipv4_mapped", None)
        return mapped if mapped is not None else self.address

    def describe(self) -> str:
        """E.g. "a loopback address (it stands for 127.0.0.1)"."""
        inside = f" (it stands for {self.via})" if self.via is not None else ""
        article = "an" if self.kind[0] in "aeiou" else "a"
        return f"{article} {self.kind} address{inside}"


def _kind_v4(ip: ipaddress.IPv4Address) -> str:
    if ip in _METADATA:
        return "cloud metadata"
    for network, kind in _IPV4_KINDS:
        if ip in network:
            return kind
    return PUBLIC


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 spelling leads to: mapped, IPv4-compatible, NAT64, 6to4,
    or the client of a Teredo address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):  # NAT64, or ::a.b.c.d
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def classify(ip: IPAddress) -> Verdict:
    """The kind of one address (`public` or the reason it is not)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return Verdict(ip, _kind_v4(ip))
    bare = ipaddress.IPv6Address(int(ip))  # without a %scope
    if bare in _METADATA:
        return Verdict(ip, "cloud metadata")
    inner = _embedded_v4(bare)
    if inner is not None:
        return Verdict(ip, _kind_v4(inner), via=inner)
    for network, kind in _IPV6_KINDS:
        if bare in network:
            return Verdict(ip, kind)
    return Verdict(ip, PUBLIC if bare in _IPV6_GLOBAL else "special-purpose")


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host names literally, including the legacy IPv4 spellings the
    system resolver accepts (`2130706433`, `0x7f.1`, `017700000001`); None for a name."""
    text = host.strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _INET_ATON_SPELLING.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def is_this_machine(ip: IPAddress) -> bool:
    """True when `ip` is one of this machine's own addresses (its LAN or public address
    reaches the console's services as surely as 127.0.0.1 does). A UDP `connect` only asks
    the routing table which source address it would use; no packet is sent."""
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((str(ip), 9))
            local = probe.getsockname()[0]
    except OSError:
        return False
    try:
        return ipaddress.ip_address(local) == ip
    except ValueError:
        return False


@dataclass(frozen=True)
class PrivateEntry:
    """One operator opt-in: addresses (a network) and optionally one port."""

    networks: tuple[IPNetwork, ...]
    port: int | None
    text: str

    def admits(self, ip: IPAddress, port: int) -> bool:
        bare = ip if ip.version == 4 else ipaddress.IPv6Address(int(ip))  # without a %scope
        return (self.port is None or self.port == port) and any(
            bare in network for network in self.networks
        )


def parse_private_entry(text: str) -> PrivateEntry:
    """`ADDRESS[:PORT]`: ADDRESS is an IP address, a network in CIDR form or `localhost`;
    IPv6 with a port in brackets (`[::1]:8080`). Raises ValueError with the rule."""
    entry = text.strip()
    host, port_text = entry, ""
    if entry.startswith("["):
        end = entry.find("]")
        host, rest = entry[1:end], entry[end + 1 :]
        if end == -1 or rest[:1] not in ("", ":"):
            raise ValueError(f"{entry!r}: write an IPv6 address with a port as [ADDRESS]:PORT")
        port_text = rest[1:]
    elif entry.count(":") == 1:
        host, port_text = entry.split(":")
    port = None
    if port_text or entry.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    if host.lower() == "localhost":
        networks: tuple[IPNetwork, ...] = (_V4("127.0.0.1/32"), _V6("::1/128"))
    else:
        try:
            networks = (ipaddress.ip_network(host, strict=False),)
        except ValueError:
            raise ValueError(
                f"{entry!r}: must be an IP address, a CIDR network or localhost, "
                "optionally with :PORT (names are not resolved here)"
            ) from None
    return PrivateEntry(networks, port, entry)


def parse_private_entries(entries: Iterable[str]) -> list[PrivateEntry]:
    return [parse_private_entry(e) for e in entries]
