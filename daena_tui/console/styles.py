"""Rich text coloured from the current Textual theme (no literal colours in the console).

DataTable cells and rich renderables cannot use CSS variables, so they take the colour of
the theme variable (`success`, `warning`, `error`, …) at the time they are built; screens
rebuild their tables when the theme changes.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError

RISK_TONE = {"low": "success", "medium": "warning", "high": "error"}
STATUS_TONE = {
    "ok": "success",
    "approved": "success",
    "dry_run": "accent",
    "pending_approval": "warning",
    "pending": "warning",
    "refused": "error",
    "error": "error",
    "timeout": "error",
    "denied": "error",
    "expired": "text-muted",
    # tasks and their steps
    "running": "accent",
    "waiting_approval": "warning",
    "completed": "success",
    "succeeded": "success",
    "failed": "error",
    "budget_exhausted": "error",
    "interrupted": "warning",
    "cancelled": "text-muted",
    "skipped": "text-muted",
}


def theme_color(app: Any, variable: str) -> str | None:
    """The hex colour of a theme variable, or None when it is not a plain colour."""
    value = getattr(app, "theme_variables", {}).get(variable)
    if not value:
        return None
    try:
        return Color.parse(value).hex
    except ColorParseError:  # e.g. "auto 60%": relative to the background
        return None


def tone(app: Any, variable: str, text: str, *, bold: bool = False) -> Text:
    if variable == "text-muted":
        return Text(text, style=Style(dim=True, bold=bold))
    return Text(text, style=Style(color=theme_color(app, variable), bold=bold))


def risk_text(app: Any, risk: str) -> Text:
    return tone(app, RISK_TONE.get(risk, "foreground"), risk, bold=risk == "high")


def status_text(app: Any, status: str) -> Text:
    return tone(app, STATUS_TONE.get(status, "foreground"), status)


def enabled_text(app: Any, enabled: bool) -> Text:
    return tone(app, "success", "● on", bold=True) if enabled else tone(app, "text-muted", "○ off")
