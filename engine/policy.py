"""Execution policy (SPEC §5): the persisted config and the decision order for a run.

The config lives in the database (one JSON document, validated on every change; an invalid
value is rejected and nothing is stored). `config/execution_layer_config.json` seeds it on
first start; the original file's nested `budget` object is accepted too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.audit import AuditEntry, AuditLog
from engine.errors import ConfigError
from engine.events import ConfigChanged
from engine.storage.database import Database, SyncTransaction, dumps

SEED_FILE = Path(__file__).resolve().parent.parent / "config" / "execution_layer_config.json"
BUDGET_KEYS = ("max_steps_per_run", "max_retries_per_tool")
CURRENT_DOC = "SELECT doc FROM exec_config WHERE id = 1"


def flatten_budget(data: Any) -> Any:
    """Accept the original `{"budget": {...}}` shape."""
    if isinstance(data, dict) and isinstance(data.get("budget"), dict):
        data = dict(data)
        budget = data.pop("budget")
        for key, value in budget.items():
            data.setdefault(key, value)
    return data


class ExecutionConfig(BaseModel):
    """Tool toggles, approval mode and budgets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool_enabled: dict[str, bool] = Field(default_factory=dict)
    approval_mode: Literal["auto", "require_approval"] = "require_approval"
    require_approval_for_risky: bool = True
    max_steps_per_run: int = Field(20, ge=1, le=1000)
    max_retries_per_tool: int = Field(2, ge=0, le=20)
    dry_run_default: bool = False
    lockdown: bool = False

    @model_validator(mode="before")
    @classmethod
    def _accept_budget(cls, data: Any) -> Any:
        return flatten_budget(data)

    def enabled(self, tool: str, default: bool) -> bool:
        return self.tool_enabled.get(tool, default)

    def export(self) -> dict[str, Any]:
        return self.model_dump()


def validate_config(
    data: Any, known_tools: set[str] | None = None, *, source: str = ""
) -> ExecutionConfig:
    """Validate a whole config document; errors name the field and the rule."""
    prefix = f"{source}: " if source else ""
    try:
        config = ExecutionConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"{prefix}{where}: {first['msg']}") from err
    if known_tools is not None:
        unknown = sorted(set(config.tool_enabled) - known_tools)
        if unknown:
            raise ConfigError(f"{prefix}tool_enabled: unknown tool {unknown[0]!r}")
    return config


def parse_value(key: str, raw: str) -> Any:
    """Turn a CLI/console string into a config value for `key` (JSON, else the text)."""
    if key not in ExecutionConfig.model_fields and key not in ("budget",):
        raise ConfigError(
            f"{key}: unknown config key (one of: {', '.join(ExecutionConfig.model_fields)})"
        )
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def load_seed(path: Path = SEED_FILE) -> dict[str, Any]:
    """The seed file's content, or {} when it is not shipped (wheel installs)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a JSON object")
    return data


class PolicyStore:
    """Reads and changes the execution config in the database; every change is audited."""

    def __init__(self, db: Database, audit: AuditLog, known_tools: set[str]) -> None:
        self._db = db
        self._audit = audit
        self._known = known_tools
        self._last: ExecutionConfig | None = None
        self._last_doc: str | None = None

    async def ensure_seeded(self, seed: dict[str, Any], operator: str) -> None:
        row = await self._db.fetchone("SELECT doc FROM exec_config WHERE id = 1")
        if row is not None:
            return
        config = validate_config(seed, None, source="execution_layer_config.json")
        async with self._db.transaction() as tx:
            if await tx.fetchone("SELECT 1 FROM exec_config WHERE id = 1"):
                return  # another process seeded first
            await tx.execute(
                "INSERT INTO exec_config (id, doc, updated_at, updated_by) VALUES (1, ?, ?, ?)",
                (dumps(config.export()), time.time(), operator),
            )
            await self._audit.append(
                tx,
                AuditEntry(actor=operator, action="config_seed", status="ok", args=config.export()),
            )

    async def current(self) -> ExecutionConfig:
        """The stored config, read now."""
        row = await self._db.fetchone(CURRENT_DOC)
        return self._parse(row[0] if row else None)

    def current_sync(self, stx: SyncTransaction) -> ExecutionConfig:
        """The stored config, read inside a write transaction (see `Executor`)."""
        row = stx.fetchone(CURRENT_DOC)
        return self._parse(row[0] if row else None)

    @property
    def last_read(self) -> ExecutionConfig | None:
        """The config as of the latest read or change by this engine (may be stale)."""
        return self._last

    def _parse(self, doc: str | None) -> ExecutionConfig:
        if doc is None:
            return ExecutionConfig()
        if doc != self._last_doc or self._last is None:  # parse each distinct version once
            self._last = ExecutionConfig.model_validate_json(doc)
            self._last_doc = doc
        return self._last

    async def update(self, changes: dict[str, Any], operator: str) -> ExecutionConfig:
        """Apply a partial change (a `tool_enabled` map is merged); validate, store, audit."""
        if not changes:
            raise ConfigError("config: no changes given")
        async with self._db.transaction() as tx:
            row = await tx.fetchone("SELECT doc FROM exec_config WHERE id = 1")
            before = json.loads(row[0]) if row else ExecutionConfig().export()
            merged = dict(before)
            changes = flatten_budget(dict(changes))
            for key, value in changes.items():
                if key == "tool_enabled" and isinstance(value, dict):
                    merged["tool_enabled"] = {**before.get("tool_enabled", {}), **value}
                else:
                    merged[key] = value
            config = validate_config(merged)
            # Names already stored (e.g. a plugin not installed here) may be re-imported.
            known = self._known | set(before.get("tool_enabled", {}))
            unknown = sorted(set(changes.get("tool_enabled") or {}) - known)
            if unknown:
                raise ConfigError(f"tool_enabled: unknown tool {unknown[0]!r}")
            await tx.execute(
                "INSERT INTO exec_config (id, doc, updated_at, updated_by) VALUES (1, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, "
                "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                (dumps(config.export()), time.time(), operator),
            )
            await self._audit.append(
                tx,
                AuditEntry(actor=operator, action="config_change", status="ok", args=changes),
            )
            await tx.emit(ConfigChanged(tuple(sorted(changes)), operator))
        return config

    async def replace(self, document: dict[str, Any], operator: str) -> ExecutionConfig:
        """Import a whole document (validated first; nothing stored if invalid)."""
        config = validate_config(document, source="import")
        return await self.update(config.export(), operator)
