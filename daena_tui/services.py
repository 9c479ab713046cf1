"""Read-only helpers for engine services that may not exist in this build.

Tasks (`eng.tasks`), brain and voice are being built alongside the console. Screens ask
here, and get `None` when the service is missing, so they can show an honest "not
available in this build" state instead of invented data. Hand-rolled piece (named as the
design asks): the Ollama `/api/tags` probe.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import engine

PROBE_TIMEOUT_SEC = 2.0


def service(eng: engine.Engine, name: str) -> Any | None:
    """`eng.<name>` when this build has it, else None."""
    return getattr(eng, name, None)


async def call(target: Any, names: tuple[str, ...], *args: Any, **kwargs: Any) -> Any:
    """Call the first method of `target` named in `names` (awaiting it if needed).

    Raises `engine.EngineError` naming the operation when the service lacks all of them,
    so the console reports it like any other engine refusal.
    """
    for name in names:
        method = getattr(target, name, None)
        if callable(method):
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result
    raise engine.EngineError(f"{names[0]}: not available in this build", title="Not available")


def field_of(item: Any, name: str, default: Any = None) -> Any:
    """A field of a service's record, whether it is an object or a dict."""
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


async def node_summary(eng: engine.Engine) -> str:
    """`1/2 ok` over enabled nodes, or `none`."""
    nodes = [n for n in await eng.nodes.list() if n.enabled]
    if not nodes:
        return "none"
    ok = sum(1 for n in nodes if n.status == "ok")
    return f"{ok}/{len(nodes)} ok"


@dataclass(frozen=True)
class OllamaStatus:
    url: str
    reachable: bool
    models: tuple[str, ...] = ()
    message: str = ""
    latency_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def has(self, model: str) -> bool:
        """Ollama lists `name:tag`; a bare name means `:latest`."""
        wanted = model if ":" in model else f"{model}:latest"
        return wanted in self.models or model in self.models


async def probe_ollama(eng: engine.Engine) -> OllamaStatus:
    """GET `<OLLAMA_BASE_URL>/api/tags` with a short timeout; never raises."""
    base = eng.settings.ollama_base_url.rstrip("/")
    started = time.perf_counter()
    try:
        response = await eng.http.get(f"{base}/api/tags", timeout=PROBE_TIMEOUT_SEC)
    except httpx.TimeoutException:
        return OllamaStatus(base, False, message=f"no answer within {PROBE_TIMEOUT_SEC:g} s")
    except httpx.HTTPError:
        return OllamaStatus(base, False, message="connection failed (is `ollama serve` running?)")
    latency = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        return OllamaStatus(base, False, message=f"HTTP {response.status_code}", latency_ms=latency)
    try:
        names = tuple(sorted(str(m["name"]) for m in response.json().get("models", [])))
    except (ValueError, KeyError, TypeError, AttributeError):
        return OllamaStatus(base, False, message="not an Ollama /api/tags answer")
    return OllamaStatus(base, True, names, latency_ms=latency)


def voice_reference(settings: engine.Settings) -> tuple[Path | None, str]:
    """SPEC §12: DAENA_VOICE_WAV if it exists, else MODELS_ROOT/xtts/voices/daena_voice.wav."""
    if settings.daena_voice_wav is not None and settings.daena_voice_wav.is_file():
        return settings.daena_voice_wav, "DAENA_VOICE_WAV"
    default = settings.models_root / "xtts" / "voices" / "daena_voice.wav"
    if default.is_file():
        return default, "MODELS_ROOT/xtts/voices"
    return None, "none found"
