"""The HTTP API front end (`daena serve`): the original's `/api/v1/execution/*` and the
typed `/api/v2/*`, over the same engine."""

from __future__ import annotations

from daena_tui.api.app import API_PREFIX, OPENAPI_PATH, V1_OPENAPI_PATH, create_api
from daena_tui.api.auth import COOKIE_NAME, OPERATOR_HEADER, TOKEN_HEADER
from daena_tui.api.paths import HEALTH_PATH, V1_PREFIX, V2_PREFIX

__all__ = [
    "API_PREFIX",
    "COOKIE_NAME",
    "HEALTH_PATH",
    "OPENAPI_PATH",
    "OPERATOR_HEADER",
    "TOKEN_HEADER",
    "V1_OPENAPI_PATH",
    "V1_PREFIX",
    "V2_PREFIX",
    "create_api",
]
