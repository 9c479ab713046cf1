"""Tool arguments hold JSON's types, as the published schema says: `0` is not `false`.

The engine validates arguments leniently (a CLI or a playbook may give "5" for 5); over
HTTP the schema is the contract, so arguments the lenient check would take but the
schema's types refuse are refused here (422) before the engine sees them. Arguments the
engine refuses anyway are left to it (its refusal is audited)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from daena_tui.api.errors import ApiError
from engine import Engine


def require_json_types(eng: Engine, tool: str, args: dict[str, Any]) -> None:
    if tool not in eng.registry:
        return
    model = eng.registry.get(tool).args_model
    try:
        model.model_validate(args)
    except ValidationError:
        return  # the engine refuses it, and audits that
    try:
        model.model_validate_json(json.dumps(args), strict=True)
    except (ValidationError, ValueError) as err:
        first = err.errors()[0] if isinstance(err, ValidationError) else None
        where = ".".join(str(p) for p in first["loc"]) if first else ""
        why = first["msg"] if first else "not JSON"
        raise ApiError(422, "invalid_input", f"args.{where}: {why}") from None
