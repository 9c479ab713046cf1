"""Where the API lives: the original's routes under V1, the typed routes under V2."""

V1_PREFIX = "/api/v1/execution"
"""The original system's routes, envelopes and field names (compat/original_api.md)."""
V2_PREFIX = "/api/v2"
"""This project's typed API (typed results, risk, schema, scoped grants, decisions)."""
HEALTH_PATH = "/health"
"""An open liveness probe on the server root (the original's node smoke script needs it)."""
