"""`DAENA_DB_URL`: which backend a database URL names, and the URL safe to show.

Unset or `sqlite:///path` is the embedded SQLite database (`DAENA_DB_PATH` when unset);
`postgresql://…` (or `postgres://…`) is a libpq URL handed to psycopg as it is, so `sslmode`,
`sslrootcert`, `connect_timeout`, `application_name` and the other libpq parameters work.
The password is a secret: `redact_url` is the one place a URL is turned into text for a
person (doctor, logs, errors, the audit), and `url_password` gives the redactor its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from engine.errors import ConfigError

POSTGRES_SCHEMES = ("postgresql", "postgres")
SQLITE_SCHEME = "sqlite"
HIDDEN = "***"
_SECRET_PARAMS = frozenset({"password", "sslpassword"})
# A URL inside any text (an error message from libpq, say): scheme://user:password@
_IN_TEXT = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)", re.IGNORECASE)


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the engine's database is: a SQLite file, or a PostgreSQL server's libpq URL."""

    backend: str  # "sqlite" or "postgresql"
    path: Path | None = None
    url: str | None = None

    @property
    def shown(self) -> str:
        """For people: the path, or the URL with its password hidden."""
        return str(self.path) if self.url is None else redact_url(self.url)


def parse_target(url: str | None, default_path: Path) -> DatabaseTarget:
    """The backend `DAENA_DB_URL` names (unset: SQLite at `default_path`)."""
    if url is None or not url.strip():
        return DatabaseTarget("sqlite", path=default_path)
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == SQLITE_SCHEME:
        rest = url[len("sqlite:") :]
        if not rest.startswith("///") or len(rest) == 3:
            raise ConfigError(
                "DAENA_DB_URL: a SQLite URL is sqlite:///path/to/daena.db (three slashes, "
                "then the file's path)"
            )
        return DatabaseTarget("sqlite", path=Path(unquote(rest[3:])).expanduser())
    if scheme in POSTGRES_SCHEMES:
        parts = urlsplit(url)
        if not parts.path.strip("/") and "dbname" not in dict(parse_qsl(parts.query)):
            raise ConfigError(
                f"DAENA_DB_URL: {redact_url(url)} names no database "
                "(postgresql://user@host:port/database)"
            )
        return DatabaseTarget("postgresql", url=url)
    raise ConfigError(
        f"DAENA_DB_URL: {redact_url(url)!r} is not a database URL this version knows: "
        "use sqlite:///path or postgresql://user@host:port/database"
    )


def sqlite_url_path(url: str) -> Path:
    """The file a sqlite:/// URL names (ConfigError when it names none)."""
    target = parse_target(url, Path())
    assert target.path is not None
    return target.path


def redact_url(url: str) -> str:
    """The URL with its password (in the authority or a `password=` parameter) hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + HIDDEN
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
            query = urlencode(
                [(k, HIDDEN if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Any PostgreSQL URL's password inside free text (an error message) hidden."""
    text = _IN_TEXT.sub(lambda m: m.group(1) + HIDDEN + m.group(3), text)
    return re.sub(r"(password=)(\S+)", r"\1" + HIDDEN, text, flags=re.IGNORECASE)


def url_password(url: str | None) -> str | None:
    """The password a URL carries (so the audit's redactor knows it), or None."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password:
        return unquote(parts.password)
    for key, value in parse_qsl(parts.query):
        if key.lower() == "password" and value:
            return value
    return None
