"""Host names for the HTTP front ends (node server and API): one set of rules for both.

A server answers only to the names in `allowed_host_names` (DNS rebinding: a page on another
site that re-points its own name at this address still sends its own name as `Host`), and
may run without a token only on a loopback address. Pure functions, no web framework, so
settings validation and start-up refusals can use them without loading one.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


def normalise_host(host: str) -> str:
    """Lower-case host name without port or trailing dot; IPv6 literals keep brackets.
    Anything but `host[:port]` (a user part, a path, a port that is not digits) is "",
    which no allowed name matches: a URL built from that header could point elsewhere."""
    text = host.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        name, rest = (text[: end + 1], text[end + 1 :]) if end != -1 else (text, "")
    elif text.count(":") > 1:  # a bare IPv6 literal
        return f"[{text}]"
    else:
        name, sep, port = text.partition(":")
        name, rest = name.rstrip("."), sep + port
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and rest[1:].isascii()):
        return ""
    if any(c in name for c in '@/?#\\ "<>'):
        return ""
    return name


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP literals (127.0.0.0/8, ::1); any other name
    counts as exposed."""
    text = host.strip().strip("[]").lower()
    if text in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def allowed_host_names(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host values a server bound to `bind_host` answers to (port ignored): loopback
    names, the bind address, the machine's name and the `extra` names."""
    names = set(LOOPBACK_NAMES)
    names.add(normalise_host(bind_host))
    names.add(normalise_host(socket.gethostname()))
    names.update(normalise_host(name) for name in extra if name.strip())
    names.discard("")  # a missing Host header normalises to "" and must never match
    return frozenset(names)
