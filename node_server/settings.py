"""Node server settings: its own small pydantic-settings model, built once at start-up.

Reads the environment and a `.env` file in the current directory, so the same `.env` that
configures the engine (`WINDOWS_NODE_TOKEN`, `EXECUTION_WORKSPACE_ROOT`) configures the node.
Command-line options override both. Nothing is created or changed at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode

from engine.safety.hosts import normalise_host
from engine.settings import SETTINGS_CONFIG, build_settings, clean_allowlist, parse_list

DEFAULT_PORT = 18888
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_NODE_ALLOWLIST = (
    "git status",
    "git diff",
    "git log",
    "python --version",
    "pip list",
    "pip show",
    "pip --version",
)


class NodeSettings(BaseSettings):
    """Every setting of the node server (env name in `validation_alias`)."""

    model_config = SETTINGS_CONFIG

    host: str = Field("127.0.0.1", validation_alias="NODE_HOST", min_length=1)
    port: int = Field(DEFAULT_PORT, validation_alias="NODE_PORT", ge=1, le=65535)
    workspace_root: Path = Field(
        default_factory=Path.cwd, validation_alias="EXECUTION_WORKSPACE_ROOT"
    )
    token: SecretStr | None = Field(None, validation_alias="WINDOWS_NODE_TOKEN")
    shell_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_NODE_ALLOWLIST),
        validation_alias="NODE_SHELL_ALLOWLIST",
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, validation_alias="NODE_MAX_BODY_BYTES", gt=0
    )
    output_cap: int = Field(200_000, validation_alias="NODE_OUTPUT_CAP", gt=0)
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="NODE_ALLOWED_HOSTS"
    )
    # The `.env` file this model was read from (absolute), so tools can be kept off it.
    _loaded_env_file: Path | None = PrivateAttr(None)

    @field_validator("shell_allowlist", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return parse_list(value)

    @field_validator("shell_allowlist")
    @classmethod
    def _clean_allowlist(cls, value: list[str]) -> list[str]:
        return clean_allowlist(value)

    @field_validator("allowed_hosts")
    @classmethod
    def _clean_hosts(cls, value: list[str]) -> list[str]:
        cleaned = [normalise_host(entry) for entry in value]
        if any(not entry for entry in cleaned):
            raise ValueError(
                "entries must be a host name with an optional :port (not blank, no user or path)"
            )
        return cleaned

    @field_validator("host")
    @classmethod
    def _strip_host(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            # The token travels in an HTTP header: printable ASCII without spaces.
            if any(not ("!" <= char <= "~") for char in value):
                raise ValueError("must be printable ASCII without spaces")
        return value

    @field_validator("workspace_root")
    @classmethod
    def _existing_dir(cls, value: Path) -> Path:
        path = value.expanduser()
        if not path.is_dir():
            raise ValueError(f"{value} is not an existing directory")
        return path.resolve()


def load_node_settings(env_file: str | Path | None = ".env", **overrides: Any) -> NodeSettings:
    """Build the settings; an invalid value becomes a ConfigError naming the variable."""
    return build_settings(NodeSettings, env_file, **overrides)
