"""Lists that stop at a limit say so over HTTP too, as the CLI and the console do.

The native routes answer bare JSON arrays (their contract), so the count travels in
headers: `X-Total-Count` (how many match), `X-Truncated: true` when the list stopped short
of them, and for the audit log, which is paged by id and never counted (5,000,000 records),
`Link: <…&before_id=N>; rel="next"` naming the next page. The v1 routes' envelopes gain
`total` and `truncated` fields beside the original ones (none removed or renamed).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

TOTAL = "X-Total-Count"
TRUNCATED = "X-Truncated"


def counted(response: Response, shown: int, total: int) -> dict[str, Any]:
    """Headers for a list of `shown` rows out of `total`; returns the v1 envelope's fields.
    A row added between the list and the count cannot make the total smaller than the list."""
    total = max(total, shown)
    cut = shown < total
    response.headers[TOTAL] = str(total)
    response.headers[TRUNCATED] = "true" if cut else "false"
    return {"total": total, "truncated": cut}


def next_page(response: Response, request: Request, before_id: int | None) -> None:
    """Headers for a page of the audit log: `before_id` continues it (None: the last page)."""
    response.headers[TRUNCATED] = "false" if before_id is None else "true"
    if before_id is not None:
        url = request.url.include_query_params(before_id=before_id)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
