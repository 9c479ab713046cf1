"""An upstream's input schema is untrusted: it validates arguments and does nothing else."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pydantic import ValidationError

from engine.errors import InputError
from engine.runs import canonical_args
from engine.tools.spec import Risk, ToolSpec
from engine.upstream.args import args_model_for


def spec_with(schema: dict[str, object]) -> ToolSpec:
    async def run(ctx: object, args: object) -> dict[str, object]:
        return {}

    return ToolSpec("up.tool", "", Risk.LOW, args_model_for("up.tool", schema), run)


def test_arguments_follow_the_upstream_schema_and_dump_as_given() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "tags": {"type": "array"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    spec = spec_with(schema)
    _, canonical = canonical_args(spec, {"n": 3, "tags": ["a"]})
    assert canonical == {"n": 3, "tags": ["a"]}
    assert spec.json_schema() == schema
    for bad in ({"n": "3"}, {}, {"n": 1, "extra": True}):
        with pytest.raises(InputError, match=r"^args\."):
            canonical_args(spec, bad)


def test_a_remote_ref_is_never_fetched() -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"type": "integer"}')

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/schema.json"
        spec = spec_with({"type": "object", "properties": {"x": {"$ref": url}}})
        with pytest.raises(InputError, match="cannot be applied"):
            canonical_args(spec, {"x": 1})
    finally:
        server.shutdown()
    assert hits == []


def test_an_invalid_schema_refuses_every_call() -> None:
    spec = spec_with({"type": "no-such-type"})
    with pytest.raises(InputError, match="invalid input schema"):
        canonical_args(spec, {})
    with pytest.raises(ValidationError):
        spec.args_model.model_validate([1, 2])
