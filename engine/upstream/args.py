"""Arguments of an upstream tool: checked against the upstream's own JSON schema.

The executor validates every tool's arguments through a pydantic model and binds grants
to its canonical dump; for an upstream tool that model accepts exactly the objects the
upstream's input schema accepts (jsonschema, no remote references) and dumps them as given.
Anything that goes wrong while checking is a ValueError, i.e. a refusal for invalid input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_validator

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


def args_model_for(name: str, schema: dict[str, Any]) -> type[BaseModel]:
    # Imported here: jsonschema (~35 ms) is needed only once an upstream tool is known, not
    # by every engine open (the console's Tools list, each CLI command).
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from referencing import Registry

    try:
        Draft202012Validator.check_schema(schema)
        # An empty registry: a `$ref` to a URL is never fetched (jsonschema's default
        # registry still retrieves remote references, which an upstream would steer).
        validator: Draft202012Validator | None = Draft202012Validator(schema, registry=Registry())
    except SchemaError:
        validator = None  # an upstream with an invalid schema: every call is refused

    class UpstreamArgs(BaseModel):
        model_config = ConfigDict(extra="allow")

        @model_validator(mode="before")
        @classmethod
        def _matches_schema(cls, data: Any) -> Any:
            if validator is None:
                raise ValueError(f"{name} has an invalid input schema; it cannot be called")
            if not isinstance(data, dict):
                raise ValueError("arguments must be a JSON object")
            try:
                errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
            except Exception as err:  # an unresolvable $ref, a pattern the engine cannot read
                raise ValueError(f"the upstream's schema cannot be applied: {err}") from None
            for error in errors:
                where = ".".join(str(p) for p in error.path) or "arguments"
                raise ValueError(f"{where}: {error.message[:300]}")
            return data

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return schema

    UpstreamArgs.__name__ = UpstreamArgs.__qualname__ = "UpstreamArgs"
    return UpstreamArgs
