"""A run form generated from a tool's JSON schema (the pydantic args model's schema).

booleans → switches, enums/Literal → selects, `patch`/`content`/long strings → multi-line
areas, lists → comma/line separated input, numbers → validated inputs, `node` → a node
selector. `values()` returns the arguments to send; blank optional fields are left out so
the tool's defaults apply, and the engine validates everything else against the schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Switch, TextArea

import engine
from daena_tui.console.render import agent_text

LONG_FIELDS = ("patch", "content")
LONG_STRING = 500  # maxLength above which a string gets a multi-line area


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # bool | enum | int | number | list | text | long | node | json
    required: bool
    default: Any = None
    description: str = ""
    choices: tuple[Any, ...] = ()

    @property
    def label(self) -> str:
        return self.name + (" *" if self.required else "")


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {
            **defs.get(ref.rsplit("/", 1)[1], {}),
            **{k: v for k, v in prop.items() if k != "$ref"},
        }
    return prop


def _kind(name: str, prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    prop = _resolve(prop, defs)
    options = [_resolve(o, defs) for o in prop.get("anyOf", [])]
    options = [o for o in options if o.get("type") != "null"]
    if len(options) == 1:
        prop = {**prop, **options[0]}
    elif options:
        return ("long" if name in LONG_FIELDS else "text"), ()  # e.g. command: string | argv
    if name == "node":
        return "node", ()
    if "enum" in prop:
        return "enum", tuple(prop["enum"])
    if "const" in prop:
        return "enum", (prop["const"],)
    kind = prop.get("type")
    if kind == "boolean":
        return "bool", ()
    if kind == "integer":
        return "int", ()
    if kind == "number":
        return "number", ()
    if kind == "array":
        return ("list" if prop.get("items", {}).get("type", "string") == "string" else "json"), ()
    if kind == "object":
        return "json", ()
    if name in LONG_FIELDS or int(prop.get("maxLength", 0)) > LONG_STRING:
        return "long", ()
    return "text", ()


def fields_from_schema(schema: dict[str, Any]) -> list[FieldSpec]:
    required = set(schema.get("required", []))
    defs = schema.get("$defs", {})
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kind, choices = _kind(name, prop, defs)
        fields.append(
            FieldSpec(
                name=name,
                kind=kind,
                required=name in required,
                default=prop.get("default"),
                description=str(prop.get("description", "")),
                choices=choices,
            )
        )
    return fields


class SchemaForm(Widget):
    """Inputs for one tool's arguments."""

    DEFAULT_CSS = """
    SchemaForm {
        height: auto;
        .field { height: auto; margin-bottom: 1; }
        .field-label { color: $text-accent; text-style: bold; }
        .field-help { color: $text-muted; }
        TextArea { height: 8; }
        Switch { width: auto; }
        .no-args { color: $text-muted; }
    }
    """

    def __init__(self, schema: dict[str, Any], *, nodes: list[str] | None = None) -> None:
        super().__init__()
        self.fields = fields_from_schema(schema)
        self._node_names = nodes or []

    def compose(self) -> ComposeResult:
        if not self.fields:
            yield Label("This tool takes no arguments.", classes="no-args")
        for spec in self.fields:
            with Vertical(classes="field"):
                yield Label(agent_text(spec.label, max_lines=1), classes="field-label")
                if spec.description:
                    # an upstream MCP tool's schema is untrusted text: literal, never markup
                    yield Label(agent_text(spec.description, max_lines=5), classes="field-help")
                yield self._control(spec)

    def _control(self, spec: FieldSpec) -> Widget:
        wid = f"field-{spec.name}"
        default = spec.default
        if spec.kind == "bool":
            return Switch(value=bool(default), id=wid)
        if spec.kind == "enum" or (spec.kind == "node" and self._node_names):
            choices = spec.choices or tuple(self._node_names)
            value = default if default in choices else Select.NULL
            return Select[Any](
                [(str(c), c) for c in choices],
                value=value,
                allow_blank=value is Select.NULL,
                id=wid,
            )
        if spec.kind in ("long", "json"):
            text = (
                ""
                if default is None
                else (default if isinstance(default, str) else json.dumps(default))
            )
            return TextArea(text, id=wid)
        if spec.kind == "list":
            shown = ", ".join(str(v) for v in default) if isinstance(default, list) else ""
            return Input(shown, placeholder="comma-separated list", id=wid)
        kind = {"int": "integer", "number": "number"}.get(spec.kind, "text")
        shown = "" if default is None else str(default)
        return Input(shown, type=kind, id=wid)  # type: ignore[arg-type]

    def values(self) -> dict[str, Any]:
        """The arguments as entered; raises `engine.InputError` naming a malformed field."""
        args: dict[str, Any] = {}
        for spec in self.fields:
            widget = self.query_one(f"#field-{spec.name}")
            if isinstance(widget, Switch):
                args[spec.name] = widget.value
                continue
            if isinstance(widget, Select):
                if widget.value is not Select.NULL:
                    args[spec.name] = widget.value
                continue
            raw = widget.text if isinstance(widget, TextArea) else widget.value  # type: ignore[attr-defined]
            if raw.strip() == "" and not (spec.required and spec.kind in ("text", "long")):
                continue
            args[spec.name] = self._parse(spec, raw)
        return args

    @staticmethod
    def _parse(spec: FieldSpec, raw: str) -> Any:
        if spec.kind == "int":
            try:
                return int(raw)
            except ValueError:
                raise engine.InputError(f"{spec.name}: must be a whole number") from None
        if spec.kind == "number":
            try:
                return float(raw)
            except ValueError:
                raise engine.InputError(f"{spec.name}: must be a number") from None
        if spec.kind == "list":
            return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
        if spec.kind == "json":
            try:
                return json.loads(raw)
            except json.JSONDecodeError as err:
                raise engine.InputError(f"{spec.name}: not valid JSON ({err.msg})") from None
        return raw
