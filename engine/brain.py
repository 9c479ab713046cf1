"""The brain: Ollama status and the planner's model calls (docs/architecture.md, "Flow (c)").

`Brain.status()` asks `/api/tags` whether Ollama is reachable and which models it has, and
picks the reasoning model, or the fallback when the reasoning model is not installed.
`Brain.propose()` sends the conversation and the enabled tools (as Ollama function tools) to
`/api/chat` and returns what the model proposed. It never raises for what a model says: a
reply that cannot be understood comes back as a `PlannerReply` with a `problem`, so the task
runner can tell the model and try again, or give up with the reason. Only a server that
cannot be used (unreachable, an HTTP error, a model that cannot call tools) raises
`BrainError`, which the runner turns into a failed task; the engine carries on.

The `ollama` client and httpx are imported on first use, so importing the engine stays fast.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine.errors import BrainError, BrainUnavailable, ModelCannotUseTools
from engine.settings import Settings

if TYPE_CHECKING:
    import ollama

PLANNER_TIMEOUT_SEC = 300.0
STATUS_TIMEOUT_SEC = 5.0
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)

SYSTEM_PROMPT = """\
You are Daena's planner. You reach the operator's workspace only through the tools you are \
given; every call is checked by policy and may wait for an operator's approval.
Work towards the goal one step at a time: call exactly one tool per reply, with arguments \
that match its schema, and read its result before deciding the next step. Never repeat a \
call whose result you already have.
When the goal is reached, or cannot be reached with these tools, reply WITHOUT a tool call: \
a short final report for the operator (what you did, what you found, what is left)."""


def _tagged(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


def model_installed(wanted: str, installed: tuple[str, ...]) -> bool:
    """`llama3` means `llama3:latest`, as `ollama run` reads it."""
    return _tagged(wanted) in {_tagged(m) for m in installed}


@dataclass(frozen=True)
class BrainStatus:
    """What the Models screen and `doctor` show about the brain."""

    url: str
    reachable: bool
    models: tuple[str, ...]
    reasoning_model: str
    reasoning_installed: bool
    fallback_model: str
    fallback_installed: bool
    error: str | None = None

    @property
    def selected_model(self) -> str | None:
        """The reasoning model, else the fallback, else None."""
        if self.reasoning_installed:
            return self.reasoning_model
        if self.fallback_installed:
            return self.fallback_model
        return None

    @property
    def problem(self) -> str | None:
        """Why planning cannot start, or None when it can."""
        if not self.reachable:
            return f"Ollama at {self.url} is not reachable: {self.error}"
        if self.selected_model is None:
            return (
                f"neither OLLAMA_REASONING_MODEL {self.reasoning_model!r} nor "
                f"OLLAMA_REASONING_FALLBACK {self.fallback_model!r} is installed on {self.url} "
                f"(install one: ollama pull {self.fallback_model})"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["models"] = list(self.models)
        data["selected_model"] = self.selected_model
        return data


@dataclass(frozen=True)
class ProposedCall:
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class PlannerReply:
    """One model reply: tool calls, or a final message, or a `problem` saying why neither."""

    model: str
    content: str = ""
    calls: tuple[ProposedCall, ...] = ()
    problem: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.problem is None and not self.calls


def strip_thinking(text: str) -> str:
    """Drop `<think>` blocks reasoning models emit before their answer."""
    return _THINK.sub("", text).strip()


def ollama_tool(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's pydantic JSON schema as an Ollama function tool.

    Ollama's tool schema knows `type` (one or several), `items`, `description` and `enum`
    per property; `anyOf`/`$ref`/`default` are folded into those so nothing is lost.
    """
    defs = schema.get("$defs", {})
    properties: dict[str, Any] = {}
    for prop_name, prop in schema.get("properties", {}).items():
        properties[prop_name] = _property(_resolve(prop, defs), defs)
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(schema.get("required", [])),
            },
        },
    }


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"), {})
        return {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop


def _property(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    types: list[str] = []
    items: Any = None
    enum: list[Any] | None = None
    for option in [prop, *[_resolve(o, defs) for o in prop.get("anyOf", [])]]:
        kind = option.get("type")
        for t in [kind] if isinstance(kind, str) else kind or []:
            if t not in types:
                types.append(t)
        if option.get("items") is not None and items is None:
            items = _resolve(option["items"], defs)
        if option.get("enum") is not None:
            enum = list(option["enum"])
    described = prop.get("description") or prop.get("title") or ""
    if "default" in prop:
        described = f"{described} (default: {json.dumps(prop['default'])})".strip()
    out: dict[str, Any] = {"description": described}
    if types:
        out["type"] = types[0] if len(types) == 1 else types
    if items is not None:
        out["items"] = items
    if enum is not None:
        out["enum"] = enum
    return out


def parse_content_call(content: str) -> tuple[ProposedCall | None, str | None]:
    """A tool call written as JSON text (models without native tool calls do this).

    Returns (call, None), (None, problem) when it looks like JSON but is not a valid call,
    or (None, None) when the text is an ordinary message.
    """
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if not text.startswith("{"):
        return None, None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"the reply looks like a JSON tool call but is not valid JSON ({err.msg})"
    if not isinstance(data, dict):
        return None, "the JSON reply is not an object"
    if isinstance(data.get("function"), dict):
        data = data["function"]
    name = data.get("tool") or data.get("name")
    args = data.get("args", data.get("arguments", data.get("parameters", {})))
    if not isinstance(name, str) or not name:
        return None, "the JSON reply names no tool ('name' is missing)"
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError as err:
            return None, f"the arguments of {name} are not valid JSON ({err.msg})"
    if not isinstance(args, dict):
        return None, f"the arguments of {name} must be a JSON object"
    return ProposedCall(name, dict(args)), None


def parse_reply(model: str, message: ollama.Message) -> PlannerReply:
    content = strip_thinking(message.content or "")
    raw: dict[str, Any] = {"content": message.content or ""}
    calls: list[ProposedCall] = []
    for tool_call in message.tool_calls or []:
        calls.append(ProposedCall(tool_call.function.name, dict(tool_call.function.arguments)))
    if calls:
        raw["tool_calls"] = [{"name": c.tool, "arguments": c.args} for c in calls]
        return PlannerReply(model, content, tuple(calls), raw=raw)
    call, problem = parse_content_call(content)
    if problem is not None:
        return PlannerReply(model, content, problem=problem, raw=raw)
    if call is not None:
        return PlannerReply(model, content, (call,), raw=raw)
    if not content:
        return PlannerReply(
            model, problem="the reply was empty: no tool call and no message", raw=raw
        )
    return PlannerReply(model, content, raw=raw)


class Brain:
    """Talks to Ollama through `ollama.AsyncClient` (one client per call: nothing to close)."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout_sec: float = PLANNER_TIMEOUT_SEC,
        status_timeout_sec: float = STATUS_TIMEOUT_SEC,
    ) -> None:
        self.url = settings.ollama_base_url
        self.reasoning_model = settings.ollama_reasoning_model
        self.fallback_model = settings.ollama_reasoning_fallback
        self.timeout_sec = timeout_sec
        self.status_timeout_sec = status_timeout_sec

    def _client(self, timeout: float) -> ollama.AsyncClient:
        import ollama

        return ollama.AsyncClient(host=self.url, timeout=timeout)

    async def status(self) -> BrainStatus:
        """Reachability and installed models from `/api/tags`; never raises."""
        import httpx
        import ollama

        models: tuple[str, ...] = ()
        error: str | None = None
        reachable = False
        async with self._client(self.status_timeout_sec) as client:
            try:
                listing = await client.list()
                models = tuple(m.model for m in listing.models if m.model)
                reachable = True
            except (ConnectionError, httpx.HTTPError) as err:
                error = _describe(err)
            except ollama.ResponseError as err:
                error = f"HTTP {err.status_code}: {err.error}"
            except ValueError as err:  # not JSON, or JSON of another shape
                error = f"the answer to /api/tags is not Ollama's ({type(err).__name__})"
        return BrainStatus(
            url=self.url,
            reachable=reachable,
            models=models,
            reasoning_model=self.reasoning_model,
            reasoning_installed=model_installed(self.reasoning_model, models),
            fallback_model=self.fallback_model,
            fallback_installed=model_installed(self.fallback_model, models),
            error=error,
        )

    async def propose(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> PlannerReply:
        """Ask `model` for the next step. Raises BrainError only when Ollama is unusable."""
        import httpx
        import ollama

        async with self._client(self.timeout_sec) as client:
            try:
                response = await client.chat(model=model, messages=messages, tools=tools)
            except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as err:
                raise BrainUnavailable(
                    f"planner: Ollama at {self.url} is not reachable ({_describe(err)})"
                ) from err
            except httpx.TimeoutException as err:
                raise BrainError(
                    f"planner: {model} on {self.url} did not answer within {self.timeout_sec:g} s"
                ) from err
            except httpx.HTTPError as err:
                raise BrainError(
                    f"planner: talking to {self.url} failed: {_describe(err)}"
                ) from err
            except ollama.ResponseError as err:
                if "does not support tools" in str(err.error):
                    raise ModelCannotUseTools(
                        f"planner: model {model} does not support tool calling"
                    ) from err
                raise BrainError(
                    f"planner: Ollama at {self.url} answered HTTP {err.status_code}: {err.error}"
                ) from err
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                return PlannerReply(
                    model,
                    problem=f"the reply does not match Ollama's chat format "
                    f"({where}: {first['msg']})",
                )
            except ValueError as err:  # a body that is not JSON
                return PlannerReply(model, problem=f"Ollama's answer was not valid JSON ({err})")
        return parse_reply(model, response.message)

    async def write(self, model: str, messages: list[dict[str, Any]], timeout: float) -> str:  # noqa: ASYNC109
        """Plain text from `model`, no tools (engine/advice.py's note). Raises BrainError
        for any failure: unreachable, slow, an HTTP error or an answer of another shape."""
        import httpx
        import ollama

        async with self._client(timeout) as client:
            try:
                response = await client.chat(model=model, messages=messages)
                return str(response.message.content or "")
            except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as err:
                raise BrainError(f"Ollama at {self.url}: {_describe(err)}") from err
            except (ValidationError, ValueError) as err:
                raise BrainError(f"Ollama at {self.url}: an answer of another shape") from err


def _describe(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:300]
