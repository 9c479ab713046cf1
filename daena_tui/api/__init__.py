"""The HTTP API front end (`daena serve`): `/api/v1/execution/*` over the engine."""

from __future__ import annotations

from daena_tui.api.app import API_PREFIX, OPENAPI_PATH, create_api
from daena_tui.api.auth import OPERATOR_HEADER, TOKEN_HEADER

__all__ = ["API_PREFIX", "OPENAPI_PATH", "OPERATOR_HEADER", "TOKEN_HEADER", "create_api"]
