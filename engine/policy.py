"""Execution policy (docs/architecture.md, "Flow (a)"): the persisted config and the decision
order for a run.

The config lives in the database (one JSON document, validated on every change; an invalid
value is rejected and nothing is stored). Types are strict: `true` is not a number, `0` is
not `false`, `"5"` is not 5. `config/execution_layer_config.json` seeds it on first start;
the original file's nested `budget` object is accepted too, but a value given both there
and at the top level is refused rather than one of them silently kept.

A change (`update`) is partial: a `tool_enabled` map is merged. An import (`replace`) is a
whole new policy: a tool it does not list goes back to its default. `plan_import` shows
what an import would change before it is applied.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.audit import AuditEntry, AuditLog
from engine.defaults import seed_file
from engine.errors import ConfigError
from engine.events import ConfigChanged
from engine.storage.database import Database, SyncTransaction, dumps

SEED_FILE: Traversable = seed_file()  # config/execution_layer_config.json, as installed
BUDGET_KEYS = ("max_steps_per_run", "max_retries_per_tool")
STORE_DOC = (
    "INSERT INTO exec_config (id, doc, updated_at, updated_by) VALUES (1, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, "
    "updated_at = excluded.updated_at, updated_by = excluded.updated_by"
)
CURRENT_DOC = "SELECT doc FROM exec_config WHERE id = 1"


def flatten_budget(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Accept the original `{"budget": {...}}` shape; a key given twice is an error."""
    if "budget" not in data:
        return data
    data = dict(data)
    budget = data.pop("budget")
    if not isinstance(budget, dict):
        raise ConfigError(f"{prefix}budget: must be an object with {' and '.join(BUDGET_KEYS)}")
    for key, value in budget.items():
        if key not in BUDGET_KEYS:
            raise ConfigError(
                f"{prefix}budget.{key}: unknown budget key (one of: {', '.join(BUDGET_KEYS)})"
            )
        if key in data:
            raise ConfigError(
                f"{prefix}budget.{key}: given twice (also as {key} at the top level); keep one"
            )
        data[key] = value
    return data


class ExecutionConfig(BaseModel):
    """Tool toggles, approval mode and budgets (strict types: nothing is coerced)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    tool_enabled: dict[str, bool] = Field(default_factory=dict)
    approval_mode: Literal["auto", "require_approval"] = "require_approval"
    require_approval_for_risky: bool = True
    max_steps_per_run: int = Field(20, ge=1, le=1000)
    max_retries_per_tool: int = Field(2, ge=0, le=20)
    dry_run_default: bool = False
    lockdown: bool = False

    def enabled(self, tool: str, default: bool) -> bool:
        return self.tool_enabled.get(tool, default)

    def export(self) -> dict[str, Any]:
        return self.model_dump()


def validate_config(
    data: Any, known_tools: set[str] | None = None, *, source: str = ""
) -> ExecutionConfig:
    """Validate a whole config document; errors name the field and the rule."""
    prefix = f"{source}: " if source else ""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix}config: must be a JSON object")
    try:
        config = ExecutionConfig.model_validate(flatten_budget(data, prefix))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"{prefix}{where}: {first['msg']}") from err
    if known_tools is not None:
        unknown = sorted(set(config.tool_enabled) - known_tools)
        if unknown:
            raise ConfigError(f"{prefix}tool_enabled: unknown tool {unknown[0]!r}")
    return config


@dataclass(frozen=True)
class Change:
    """One effective difference between two policies (`tool_enabled.<tool>` per tool)."""

    key: str
    old: Any
    new: Any

    def text(self) -> str:
        def shown(value: Any) -> str:
            if self.key.startswith("tool_enabled.") and isinstance(value, bool):
                return "on" if value else "off"
            return json.dumps(value)

        return f"{self.key}: {shown(self.old)} -> {shown(self.new)}"


def config_diff(
    before: ExecutionConfig, after: ExecutionConfig, defaults: Mapping[str, bool]
) -> list[Change]:
    """What changes in effect: each differing value, each tool whose on/off state differs
    (an unlisted tool counts as its default)."""
    changes = [
        Change(key, getattr(before, key), getattr(after, key))
        for key in ExecutionConfig.model_fields
        if key != "tool_enabled" and getattr(before, key) != getattr(after, key)
    ]
    tools = sorted(set(defaults) | set(before.tool_enabled) | set(after.tool_enabled))
    for tool in tools:
        default = defaults.get(tool, True)
        old, new = before.enabled(tool, default), after.enabled(tool, default)
        if old != new:
            changes.append(Change(f"tool_enabled.{tool}", old, new))
    return changes


@dataclass(frozen=True)
class ImportPlan:
    """An import checked against the stored policy, before it is applied."""

    before: ExecutionConfig
    after: ExecutionConfig
    changes: list[Change]


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


def load_seed(path: Path | Traversable = SEED_FILE) -> dict[str, Any]:
    """The seed file's content (shipped in the wheel; {} only when it was removed)."""
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

    def __init__(self, db: Database, audit: AuditLog, tools: Mapping[str, bool]) -> None:
        """`tools`: every known tool and whether it is on when the policy does not say."""
        self._db = db
        self._audit = audit
        self._defaults = dict(tools)
        self._known = set(tools)
        self._last: ExecutionConfig | None = None
        self._last_doc: str | None = None

    def know(self, tool: str, default: bool) -> None:
        """A tool that joined the catalogue after this store was built (an upstream one)."""
        self._defaults[tool] = default
        self._known.add(tool)

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
            changes = flatten_budget(dict(changes))  # validated below, before anything is stored
            config = self._merged(before, changes)
            await tx.execute(
                STORE_DOC,
                (dumps(config.export()), time.time(), operator),
            )
            await self._audit.append(
                tx,
                AuditEntry(actor=operator, action="config_change", status="ok", args=changes),
            )
            await tx.emit(ConfigChanged(tuple(sorted(changes)), operator))
        return config

    async def preview(self, changes: dict[str, Any]) -> ExecutionConfig:
        """The policy `update(changes)` would store, validated the same way; nothing is
        stored or audited (the Policy section's what-if tester decides calls under it)."""
        current = await self.current()
        return self._merged(current.export(), flatten_budget(dict(changes)))

    def _merged(self, before: dict[str, Any], changes: dict[str, Any]) -> ExecutionConfig:
        merged = dict(before)
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
        return config

    async def plan_import(self, document: dict[str, Any]) -> ImportPlan:
        """Validate `document` as a whole policy and say what importing it would change."""
        after = validate_config(document, source="import")
        before = await self.current()
        self._check_known(after, before)
        return ImportPlan(before, after, config_diff(before, after, self._defaults))

    async def replace(
        self, document: dict[str, Any], operator: str, *, expected: ExecutionConfig | None = None
    ) -> ExecutionConfig:
        """Import a whole document in place of the stored policy (validated strictly first;
        nothing stored if invalid). With `expected` (the `before` of a shown plan), refuse
        when the stored policy has changed since."""
        config = validate_config(document, source="import")
        async with self._db.transaction() as tx:
            row = await tx.fetchone(CURRENT_DOC)
            before = self._parse(row[0] if row else None)
            if expected is not None and before != expected:
                raise ConfigError(
                    "import: the policy changed since its diff was shown; nothing was "
                    "imported (run the import again to see the new diff)"
                )
            self._check_known(config, before)
            changes = config_diff(before, config, self._defaults)
            await tx.execute(
                STORE_DOC,
                (dumps(config.export()), time.time(), operator),
            )
            await self._audit.append(
                tx,
                AuditEntry(
                    actor=operator,
                    action="config_import",
                    status="ok",
                    args=config.export(),
                    result_summary="; ".join(c.text() for c in changes) or "no change in effect",
                ),
            )
            keys = sorted({c.key.split(".")[0] for c in changes}) or ["tool_enabled"]
            await tx.emit(ConfigChanged(tuple(keys), operator))
        return config

    def _check_known(self, config: ExecutionConfig, before: ExecutionConfig) -> None:
        # Names already stored (e.g. a plugin not installed here) may be re-imported.
        unknown = sorted(set(config.tool_enabled) - self._known - set(before.tool_enabled))
        if unknown:
            raise ConfigError(f"import: tool_enabled: unknown tool {unknown[0]!r}")
