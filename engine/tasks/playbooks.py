"""Playbooks (docs/architecture.md, "Flow (c)"): named step lists in `config/playbooks/*.json`
(the shipped examples) and in the operator's own `DAENA_PLAYBOOKS_DIR`.

    {"name": "run_tests", "description": "...",
     "variables": ["path"] | [{"name": "path", "default": "tests", "pattern": "^[^-]"}],
     "steps": [{"tool": "shell_exec", "args": {"command": ["python", "-m", "pytest", "{path}"]},
                "retry_on_failure": true, "max_retries": 1, "continue_on_failure": false,
                "dry_run": false, "title": "run the tests"}]}

A file is validated when it is loaded; an error names the file and the field. Templates are
`{variable}` inside any string of `args` (`{{`/`}}` for literal braces); a variable a step
uses must be declared, and a task cannot be created while one is missing. Rendering
substitutes text only, so a value can never add argv elements to an argv list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.defaults import example_playbooks_dir
from engine.errors import ConfigError, InputError, NotFoundError

# The shipped examples (config/playbooks, installed as package data).
PLAYBOOK_DIR = example_playbooks_dir()
NAME_RULE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_TEMPLATE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PlaybookVariable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_VARIABLE_NAME.pattern)
    description: str = ""
    default: str | None = None
    pattern: str | None = Field(
        None, description="Regular expression the whole value must match (re.fullmatch)"
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"is not a valid regular expression ({err})") from err
        return value


class PlaybookStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    title: str = ""
    dry_run: bool = False
    retry_on_failure: bool = False
    max_retries: int = Field(0, ge=0, le=20)
    continue_on_failure: bool = False


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_RULE)
    description: str = ""
    variables: list[PlaybookVariable] = Field(default_factory=list)
    steps: list[PlaybookStep] = Field(min_length=1, max_length=1000)

    @field_validator("variables", mode="before")
    @classmethod
    def _names_or_objects(cls, value: Any) -> Any:
        """Accept `["path"]` as well as `[{"name": "path", ...}]`."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _templates_declared(self) -> Playbook:
        names = [v.name for v in self.variables]
        if len(set(names)) != len(names):
            raise ValueError("variables: a variable is declared twice")
        for i, step in enumerate(self.steps):
            for part, value in (("args", step.args), ("title", step.title)):
                for used in sorted(template_names(value)):
                    if used not in names:
                        raise ValueError(
                            f"steps.{i}.{part}: uses {{{used}}} but 'variables' does not declare it"
                        )
        return self

    def variable(self, name: str) -> PlaybookVariable | None:
        return next((v for v in self.variables if v.name == name), None)

    def render(self, values: dict[str, Any]) -> list[PlaybookStep]:
        """The steps with every `{variable}` filled in; InputError names what is wrong."""
        unknown = sorted(set(values) - {v.name for v in self.variables})
        if unknown:
            known = ", ".join(v.name for v in self.variables) or "none"
            raise InputError(
                f"variables.{unknown[0]}: playbook {self.name} has no such variable "
                f"(it has: {known})"
            )
        filled: dict[str, str] = {}
        for var in self.variables:
            raw = values.get(var.name, var.default)
            if raw is None:
                raise InputError(
                    f"variables.{var.name}: playbook {self.name} needs a value for "
                    f"'{var.name}'" + (f" ({var.description})" if var.description else "")
                )
            text = raw if isinstance(raw, str) else json.dumps(raw)
            if "\x00" in text:
                raise InputError(f"variables.{var.name}: must not contain NUL bytes")
            # fullmatch: with search or match, `$` also matches before a final newline
            if var.pattern is not None and not re.fullmatch(var.pattern, text):
                raise InputError(
                    f"variables.{var.name}: {text!r} does not match the rule {var.pattern!r}"
                )
            filled[var.name] = text
        return [
            step.model_copy(
                update={"args": fill(step.args, filled), "title": fill(step.title, filled)}
            )
            for step in self.steps
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "variables": [v.model_dump() for v in self.variables],
            "steps": [s.model_dump() for s in self.steps],
        }


def template_names(value: Any) -> set[str]:
    """Every `{name}` used anywhere in a JSON value."""
    if isinstance(value, str):
        return {m.group(1) for m in _TEMPLATE.finditer(value) if m.group(1)}
    if isinstance(value, dict):
        return set().union(*(template_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(template_names(v) for v in value)) if value else set()
    return set()


def fill(value: Any, values: dict[str, str]) -> Any:
    """Substitute `{name}` in every string of a JSON value (keys are left alone)."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            found = match.group(0)
            if found == "{{":
                return "{"
            if found == "}}":
                return "}"
            return values[match.group(1)]

        return _TEMPLATE.sub(sub, value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value


def _error_location(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "playbook"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "value_error" and ": " in message and not first["loc"]:
        return message
    return f"{where}: {message}"


def load_playbook_file(path: Path) -> Playbook:
    """Read and validate one file; ConfigError names the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path.name}: cannot read playbook: {err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{path.name}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        ) from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: a playbook must be a JSON object")
    data.setdefault("name", path.stem)
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{path.name}: {_error_location(err)}", title="Invalid playbook") from err
    if playbook.name != path.stem:
        raise ConfigError(
            f"{path.name}: name: {playbook.name!r} must match the file name ({path.stem!r})",
            title="Invalid playbook",
        )
    return playbook


class PlaybookLibrary:
    """The playbooks of one or more directories, read fresh on every call (files may be
    edited live). Directories are searched in order: a name found in an earlier one (the
    operator's own, `DAENA_PLAYBOOKS_DIR`) hides the same name in a later one (the
    shipped examples)."""

    def __init__(self, *directories: Path | None) -> None:
        given = [d.expanduser() for d in directories if d is not None]
        self.directories: tuple[Path, ...] = tuple(given) or (PLAYBOOK_DIR,)

    def files(self) -> list[Path]:
        """One file per playbook name, the first directory's copy winning."""
        chosen: dict[str, Path] = {}
        for directory in self.directories:
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.json")):
                if path.is_file():
                    chosen.setdefault(path.stem, path)
        return sorted(chosen.values(), key=lambda p: p.stem)

    def load(self, name: str) -> Playbook:
        if not re.fullmatch(NAME_RULE, name):
            raise InputError(f"playbook: {name!r} is not a playbook name")
        for directory in self.directories:
            path = directory / f"{name}.json"
            if path.is_file():
                return load_playbook_file(path)
        known = ", ".join(p.stem for p in self.files()) or "none"
        where = ", ".join(str(d) for d in self.directories)
        raise NotFoundError(f"playbook: no playbook {name!r} in {where} (have: {known})")

    def load_all(self) -> tuple[list[Playbook], list[str]]:
        """Every valid playbook, and one message per invalid file (never raises for one)."""
        good: list[Playbook] = []
        errors: list[str] = []
        for path in self.files():
            try:
                good.append(load_playbook_file(path))
            except ConfigError as err:
                errors.append(err.message)
        return good, errors

    def directory_of(self, name: str) -> Path | None:
        """The directory playbook `name` is read from (None when there is none)."""
        return next((p.parent for p in self.files() if p.stem == name), None)
