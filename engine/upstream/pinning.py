"""Tool-definition pinning: what the operator enabled is what a call reaches.

An upstream server is untrusted: after a tool was enabled it may change the tool's
description (a prompt-injection carrier) or its schema (a "rug pull"). The pin is a sha256
of the canonical JSON of name, description and input schema, taken when the operator
enables the tool; any difference in any of them is a different definition.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Definition:
    """What an upstream says a tool is (all of it untrusted text)."""

    name: str
    description: str
    input_schema: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Definition:
        return cls(str(data["name"]), str(data["description"]), dict(data["input_schema"]))

    @property
    def pin(self) -> str:
        return definition_hash(self)


def definition_hash(definition: Definition) -> str:
    canonical = json.dumps(
        definition.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
