"""How `daena` reads a tool's arguments: JSON objects, `k=v` pairs, `@FILE` and stdin.

Every problem is an `InputError` naming the option, so the command exits 2 with one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine import InputError


def parse_json_object(raw: str, field: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InputError(f"{field}: not valid JSON ({err.msg} at column {err.colno})") from err
    if not isinstance(value, dict):
        raise InputError(f"{field}: must be a JSON object")
    return value


def read_argument(raw: str, field: str, *, stdin: bool = False) -> str:
    """An argument's text: `@FILE` is the file's content (UTF-8), `@@x` is the literal `@x`
    and, with `stdin`, `-` is standard input. A file keeps a 2 MB patch off the command line
    (the OS caps argv) and out of the shell history."""
    if stdin and raw == "-":
        return _decoded(sys.stdin.buffer.read(), field, "standard input")
    if raw.startswith("@@"):
        return raw[1:]
    if not raw.startswith("@"):
        return raw
    path = Path(raw[1:]).expanduser()
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{field}: cannot read {path}: {err.strerror or err}") from err
    return _decoded(data, field, str(path))


def _decoded(data: bytes, field: str, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{field}: {source} is not UTF-8 text (byte {err.start}); save it as UTF-8"
        ) from None


def parse_kv(pairs: Sequence[str], schema: dict[str, Any]) -> dict[str, Any]:
    """`--arg k=v` pairs: strings stay strings; other schema types are read as JSON;
    `k=@FILE` takes the value from a file (`k=@@x` for a literal `@x`)."""
    props = schema.get("properties", {})
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--arg: {pair!r} must look like key=value")
        raw = read_argument(raw, f"--arg {key}")
        prop = props.get(key, {})
        types = _types(prop)
        if types and types <= {"string", "null"} and "string" in types:
            args[key] = raw
            continue
        try:
            args[key] = json.loads(raw)
        except json.JSONDecodeError:
            args[key] = raw
    return args


def _types(prop: dict[str, Any]) -> set[str]:
    if "type" in prop:
        return {prop["type"]} if isinstance(prop["type"], str) else set(prop["type"])
    found: set[str] = set()
    for option in prop.get("anyOf", []):
        found |= _types(option)
    return found


def parse_duration(raw: str, field: str) -> float:
    """`90`, `90s`, `10m` or `1h` as seconds (an InputError names the option otherwise)."""
    text = raw.strip().lower()
    unit = {"s": 1, "m": 60, "h": 3600}.get(text[-1:], 0)
    number = text[:-1] if unit else text
    try:
        value = float(number) * (unit or 1)
    except ValueError:
        raise InputError(f"{field}: {raw!r} is not a duration (like 90, 90s, 10m or 1h)") from None
    if not value > 0 or value != value:  # NaN compares unequal to itself
        raise InputError(f"{field}: a duration must be more than 0 s")
    return value
