"""A run form generated from a tool's JSON schema (the pydantic args model's schema).

booleans → switches, enums/Literal → selects, `patch`/`content`/long strings → multi-line
areas (never a URL or a path: they are one line), lists → comma/line separated input,
numbers → validated inputs, `node` → a node selector. Each field is two rows (its label with
its help, then a compact one-row control), so a form's labels stay in view at 80x24.
`values()` returns the arguments to send; blank optional fields are left out so
the tool's defaults apply, and the engine validates everything else against the schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Switch, TextArea

import engine
from daena_tui.console.render import agent_cell, agent_text
from daena_tui.console.styles import text_color

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
    long_text = int(prop.get("maxLength", 0)) > LONG_STRING and not _one_line(name, prop)
    if name in LONG_FIELDS or long_text:
        return "long", ()
    return "text", ()


def _one_line(name: str, prop: dict[str, Any]) -> bool:
    """A URL, a path or a name is one line however long it may be."""
    return prop.get("format") in ("uri", "url", "path") or name.endswith(
        ("url", "uri", "path", "name", "ref", "branch")
    )


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
        .field { height: auto; }
        .field-label { width: 100%; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
        TextArea { height: 5; }
        Input { background: $boost; }
        Input:focus { background: $surface-lighten-1; }
        Switch { width: auto; height: 1; border: none; padding: 0; }
        Select { width: 100%; }
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
        accent = text_color(self.app, "accent")
        for spec in self.fields:
            with Vertical(classes="field"):
                # an upstream MCP tool's schema is untrusted text: literal, never markup
                label = agent_cell(spec.label, 60)
                label.stylize(Style(bold=True, color=accent))
                if spec.description:
                    help_text = agent_cell(spec.description, 300)
                    help_text.stylize("dim")
                    label.append("  ").append_text(help_text)
                yield Label(label, classes="field-label")
                control = self._control(spec)
                if spec.description:
                    control.tooltip = agent_text(spec.description, max_lines=10)
                yield control

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
                compact=True,
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
            return Input(shown, placeholder="comma-separated list", id=wid, compact=True)
        kind = {"int": "integer", "number": "number"}.get(spec.kind, "text")
        shown = "" if default is None else str(default)
        return Input(shown, type=kind, id=wid, compact=True)  # type: ignore[arg-type]

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
