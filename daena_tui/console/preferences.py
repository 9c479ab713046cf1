"""The operator's own console preferences (today: the theme), remembered across runs.

They live in the operator's config dir (platformdirs: `~/.config/daena/console.json` on
Linux), not in the database: the database is shared by every operator and process of a
deployment and everything written there is audited, while a colour scheme belongs to one
person's terminal and decides nothing. A missing or unreadable file means the defaults; a
file that cannot be written is reported once and the console carries on.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "daena"
FILE_NAME = "console.json"


def default_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / FILE_NAME


class Preferences:
    """Reads and writes the preferences file at `path`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def theme(self) -> str | None:
        value = self._read().get("theme")
        return value if isinstance(value, str) else None

    def save_theme(self, theme: str) -> str | None:
        """Remember `theme`; returns why it could not be saved, or None."""
        data = {**self._read(), "theme": theme}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".console-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
            os.replace(tmp, self.path)
        except OSError as err:
            return f"{self.path}: {err.strerror or err}"
        return None
