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
from textual.notifications import SeverityLevel

from engine.statuses import Tone, tone_for

RISK_TONE = {"low": "success", "medium": "warning", "high": "error"}
# The one status→tone map is `engine.statuses.tone_for`; here each tone gets its theme colour.
TONE_COLOR = {
    Tone.OK: "success",
    Tone.ACTIVE: "accent",
    Tone.WARN: "warning",
    Tone.ERROR: "error",
    Tone.MUTED: "text-muted",
    Tone.NEUTRAL: "foreground",
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


def text_color(app: Any, variable: str) -> str | None:
    """The colour for *text* of a theme variable: its `text-` form where the theme has one
    (contrast-adjusted for the theme's background, so `warning` stays readable on a light
    theme), else the variable itself."""
    if variable.startswith("text-"):
        return theme_color(app, variable)
    return theme_color(app, f"text-{variable}") or theme_color(app, variable)


def tone(app: Any, variable: str, text: str, *, bold: bool = False) -> Text:
    if variable == "text-muted":
        return Text(text, style=Style(dim=True, bold=bold))
    return Text(text, style=Style(color=text_color(app, variable), bold=bold))


def risk_text(app: Any, risk: str) -> Text:
    return tone(app, RISK_TONE.get(risk, "foreground"), risk, bold=risk == "high")


def status_color(status: str | None) -> str:
    """The theme variable a status is shown in (every view: tables, panels, markup)."""
    return TONE_COLOR[tone_for(status)]


def status_severity(status: str | None) -> SeverityLevel:
    """A notification's severity for a status, from the same tone."""
    shade = tone_for(status)
    return "error" if shade is Tone.ERROR else "warning" if shade is Tone.WARN else "information"


def status_text(app: Any, status: str | None, shown: str | None = None) -> Text:
    """`status` (or `shown` in its place) in the status's colour."""
    return tone(app, status_color(status), shown if shown is not None else status or "")


def enabled_text(app: Any, enabled: bool) -> Text:
    return tone(app, "success", "● on", bold=True) if enabled else tone(app, "text-muted", "○ off")
