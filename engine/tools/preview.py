"""The built-in tools as the engine would list them, read before the engine opens.

The console draws its Tools list from this while pydantic, the settings model and the tool
modules load (BENCHMARKS.md §3); the engine's own `list_tools` replaces it once it is open.
Two plain-data sources, no pydantic and no engine module imported:

- `catalogue.json` beside this module: each built-in tool's name, description, risk and
  default state, generated from the real specs (`python -m engine.tools.preview`; a test
  fails when it is stale). It is keyed by the engine's version, a hash of the tool modules'
  sources and the schema number, so an edited or other version's tree never uses it.
- The stored policy's `tool_enabled` map, read with `sqlite3` from a database file opened
  read-only, only when its schema is this version's.

Both are untrusted input (a file any process could have written): anything unexpected
returns None, and the caller takes the normal path. Only the embedded-SQLite default is
previewed: `preview_db_path` declines whenever the settings could name another database.
Plugins' and upstream MCP servers' tools are not previewed; they appear with the engine's
answer. Hand-rolled on purpose (docs: DESIGN.md "name any hand-rolled piece"): a second,
import-free reader of the policy document, kept to what the Tools list shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENGINE_ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = Path(__file__).with_name("catalogue.json")
FORMAT = 1
SOURCE_GLOBS = ("version.py", "storage/migrations.py", "tools/spec.py", "tools/builtin/*.py")
"""What the catalogue is built from: its key changes whenever one of them does."""
RISKS = frozenset({"low", "medium", "high"})
NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# The stored policy document (engine/policy.py, ExecutionConfig): every field and its check,
# as strict as the model, so a document the engine would refuse is never previewed.
POLICY_FIELDS: Mapping[str, Any] = {
    "tool_enabled": lambda v: (
        isinstance(v, dict) and all(_json_str(k) and type(b) is bool for k, b in v.items())
    ),
    "approval_mode": lambda v: v in ("auto", "require_approval"),
    "require_approval_for_risky": lambda v: type(v) is bool,
    "max_steps_per_run": lambda v: type(v) is int and 1 <= v <= 1000,
    "max_retries_per_tool": lambda v: type(v) is int and 0 <= v <= 20,
    "dry_run_default": lambda v: type(v) is bool,
    "lockdown": lambda v: type(v) is bool,
}
DB_SETTINGS = ("DAENA_DB_URL", "DAENA_CONFIG_FILE")
"""Settings that may move the database away from DAENA_DB_PATH: present, no preview."""
FIELD_NAMES = ("daena_db_path", "daena_db_url", "daena_config_file")
"""The same settings by their field names, which the settings also read (populate_by_name),
from the environment and `.env` alike: present, no preview (which wins is theirs to say)."""


def _json_str(value: object) -> bool:
    """A str pydantic's JSON parser would also accept (no lone surrogate)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class PreviewTool:
    """A row of the Tools list as the engine would list it (ToolInfo without the schema)."""

    name: str
    description: str
    risk: str
    enabled: bool


def sources_digest(root: Path = ENGINE_ROOT) -> str:
    """sha256 over the catalogue's sources (their paths and bytes, in a fixed order)."""
    digest = hashlib.sha256()
    for pattern in SOURCE_GLOBS:
        for path in sorted(root.glob(pattern)):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def current_key(root: Path = ENGINE_ROOT) -> dict[str, Any]:
    from engine.version import __version__

    return {"format": FORMAT, "version": __version__, "sources": sources_digest(root)}


def build_catalogue() -> dict[str, Any]:
    """The catalogue from the real specs (imports every tool module: build time and tests)."""
    from engine.storage.migrations import MIGRATIONS
    from engine.tools.builtin import builtin_tools

    tools = [
        {
            "name": spec.name,
            "description": spec.description,
            "risk": str(spec.risk),
            "default_enabled": spec.default_enabled,
        }
        for spec in builtin_tools()
    ]
    return {**current_key(), "schema": len(MIGRATIONS), "tools": tools}


def write_catalogue(path: Path = CATALOGUE) -> None:
    text = json.dumps(build_catalogue(), indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def load_catalogue(
    path: Path = CATALOGUE, root: Path = ENGINE_ROOT
) -> tuple[int, list[dict[str, Any]]] | None:
    """(schema, tools) from a catalogue built from this very tree, else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            return None
        key = current_key(root)
        if any(data.get(k) != v for k, v in key.items()):
            return None  # another version's, or built before a source changed
        schema, tools = data.get("schema"), data.get("tools")
        if type(schema) is not int or not isinstance(tools, list) or not tools:
            return None
        seen: set[str] = set()
        for tool in tools:
            if not (
                isinstance(tool, dict)
                and set(tool) == {"name", "description", "risk", "default_enabled"}
                and isinstance(tool["name"], str)
                and NAME.fullmatch(tool["name"])
                and tool["name"] not in seen
                and isinstance(tool["description"], str)
                and tool["risk"] in RISKS
                and type(tool["default_enabled"]) is bool
            ):
                return None
            seen.add(tool["name"])
    except (OSError, ValueError, TypeError):
        return None
    return schema, tools


def read_tool_enabled(db_path: Path, schema: int) -> dict[str, bool] | None:
    """The stored policy's `tool_enabled` map, from a database of `schema`, else None."""
    if not db_path.is_file():
        return None
    try:
        # Read-only: never creates, migrates or writes the file (the engine does that).
        con = sqlite3.connect(db_path.absolute().as_uri() + "?mode=ro", uri=True, timeout=0.1)
        try:
            version = con.execute("PRAGMA user_version").fetchone()
            if version is None or version[0] != schema:
                return None  # a migration would run first: let the engine do it
            row = con.execute("SELECT doc FROM exec_config WHERE id = 1").fetchone()
        finally:
            con.close()
        if row is None or not isinstance(row[0], str):
            return None  # not seeded yet: the engine seeds from the shipped file
        doc = json.loads(row[0])
    except (sqlite3.Error, OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not set(doc) <= set(POLICY_FIELDS):
        return None
    if not all(POLICY_FIELDS[key](value) for key, value in doc.items()):
        return None
    enabled: dict[str, bool] = doc.get("tool_enabled", {})
    return enabled


def preview_tools(
    db_path: Path, *, catalogue: Path = CATALOGUE, root: Path = ENGINE_ROOT
) -> list[PreviewTool] | None:
    """The built-in tools as the engine on `db_path` would list them, or None when either
    source is missing, stale or not what this version wrote."""
    loaded = load_catalogue(catalogue, root)
    if loaded is None:
        return None
    schema, tools = loaded
    enabled = read_tool_enabled(db_path, schema)
    if enabled is None:
        return None
    return [
        PreviewTool(
            t["name"], t["description"], t["risk"], enabled.get(t["name"], t["default_enabled"])
        )
        for t in tools
    ]


def preview_db_path(
    db_override: str | Path | None,
    env_file: str | Path | None,
    environ: Mapping[str, str] = os.environ,
) -> Path | None:
    """The database file the settings will name, when that is plain to see without them:
    `--db`, else DAENA_DB_PATH from the environment, then `env_file`, else the default.
    None whenever DAENA_DB_URL or DAENA_CONFIG_FILE is set (another backend, or a file that
    may name another path), any of the three is set by its field name (`daena_db_path`), or
    `env_file` cannot be read: the settings decide then."""
    values: dict[str, str | None] = {}
    if env_file is not None:
        try:
            from dotenv import dotenv_values  # as pydantic-settings reads it

            values = dict(dotenv_values(env_file, encoding="utf-8-sig"))
        except Exception:  # a bad .env is the settings' to report, in their words
            return None

    def setting(name: str) -> str | None:
        return environ.get(name) or values.get(name) or None  # blank means unset

    if any(setting(name) for name in (*DB_SETTINGS, *FIELD_NAMES)):
        return None
    # `~` as the engine opens it (`Database.open` expands it), never a `~` dir in the cwd
    if db_override:
        return Path(db_override).expanduser()
    found = setting("DAENA_DB_PATH")
    if found is not None:
        return Path(found).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("daena", appauthor=False)) / "daena.db"


def stored_tools(
    db_override: str | Path | None, env_file: str | Path | None
) -> list[PreviewTool] | None:
    """The built-in tools as stored in the database the settings will name, when that is
    an embedded SQLite file named plainly (`preview_db_path`), else None."""
    path = preview_db_path(db_override, env_file)
    return None if path is None else preview_tools(path)


if __name__ == "__main__":
    write_catalogue()
    print(f"wrote {CATALOGUE}")
