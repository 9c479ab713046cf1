"""Settings: one pydantic-settings model, built once at start-up and passed down.

Accepts the original Daena environment names unchanged (an existing `.env` works), reads an
optional TOML file named by `DAENA_CONFIG_FILE`, derives model paths from `MODELS_ROOT`, and
has no side effects at import: no instance, no directories, no environment writes.
Precedence, highest first: explicit overrides, environment, `.env`, config file, defaults.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any, TypeVar

import platformdirs
from dotenv import dotenv_values
from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from engine.errors import ConfigError
from engine.safety.addresses import parse_private_entries
from engine.settings_text import check_env_file, settings_text
from engine.storage.urls import redact_url, sqlite_url_path, url_password

APP_NAME = "daena"
DEFAULT_SHELL_ALLOWLIST = (
    "git status",
    "git diff",
    "git log",
    "python -m pytest",
    "pip list",
    "pip show",
    "pip --version",
)
# No loopback names: private addresses are opt-in (AUTOMATION_ALLOWED_PRIVATE_ADDRESSES).
DEFAULT_ALLOWED_DOMAINS = ("example.com",)
SECRET_FIELDS = frozenset({"execution_token", "windows_node_token"})
DERIVED_FROM_MODELS_ROOT = {"ollama_models": "ollama", "xtts_model_path": "xtts"}


def data_dir() -> Path:
    """The user's data dir for Daena (not created here)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_operator() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "operator"
    return f"{user}@{socket.gethostname()}"


def parse_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated list (the seed used both)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f"is not valid JSON ({err.msg})") from err
            return parsed
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def clean_allowlist(entries: list[str]) -> list[str]:
    """Allowlist entries with whitespace folded; a blank entry is an error, not a wildcard."""
    cleaned = [" ".join(entry.split()) for entry in entries]
    if any(not entry for entry in cleaned):
        raise ValueError("entries must not be blank")
    return cleaned


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Values from the TOML file named by DAENA_CONFIG_FILE (keys: env names or field names)."""

    def __init__(
        self, settings_cls: type[BaseSettings], *higher: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self._higher = higher

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ does the work

    def _path(self) -> Path | None:
        for source in self._higher:
            values = source()
            found = values.get("DAENA_CONFIG_FILE") or values.get("daena_config_file")
            if found:
                return Path(str(found)).expanduser()
        return None

    def __call__(self) -> dict[str, Any]:
        path = self._path()
        if path is None:
            return {}
        return {
            env_name(name): value
            for name, value in read_config_file(path, self.settings_cls).items()
        }


def read_config_file(path: Path, settings_cls: type[BaseSettings]) -> dict[str, Any]:
    """Read the TOML settings file; unknown keys and bad TOML are errors naming the file."""
    try:
        data = tomllib.loads(settings_text(path, "DAENA_CONFIG_FILE"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"DAENA_CONFIG_FILE: {path} is not valid TOML: {err}") from err
    by_alias = {
        str(info.validation_alias): name for name, info in settings_cls.model_fields.items()
    }
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = by_alias.get(key, key if key in settings_cls.model_fields else None)
        if name is None:
            raise ConfigError(f"{path}: unknown setting {key!r}")
        values[name] = value
    return values


def _env(name: str, default: Any = None, **kw: Any) -> Any:
    if "default_factory" in kw:
        return Field(validation_alias=name, **kw)
    return Field(default, validation_alias=name, **kw)


# How every Daena settings model reads its sources (the engine's and the node server's):
# exact env names, blank means unset, unknown names ignored, immutable once built.
SETTINGS_CONFIG = SettingsConfigDict(
    env_file=".env",
    env_file_encoding="utf-8-sig",  # UTF-8, with or without a BOM (check_env_file)
    extra="ignore",
    case_sensitive=True,
    env_ignore_empty=True,
    populate_by_name=True,
    frozen=True,
)


class Settings(BaseSettings):
    """Every effective setting of the engine, console and API."""

    model_config = SETTINGS_CONFIG

    execution_token: SecretStr | None = _env("EXECUTION_TOKEN")
    execution_workspace_root: Path = Field(
        default_factory=Path.cwd, validation_alias="EXECUTION_WORKSPACE_ROOT"
    )
    shell_allowlist: Annotated[list[str], NoDecode] = _env(
        "SHELL_ALLOWLIST", default_factory=lambda: list(DEFAULT_SHELL_ALLOWLIST)
    )
    windows_node_url: str = _env("WINDOWS_NODE_URL", "http://127.0.0.1:18888")
    windows_node_token: SecretStr | None = _env("WINDOWS_NODE_TOKEN")
    models_root: Path = Field(
        default_factory=lambda: data_dir() / "models", validation_alias="MODELS_ROOT"
    )
    ollama_base_url: str = _env("OLLAMA_BASE_URL", "http://127.0.0.1:11434")
    ollama_models: Path | None = _env("OLLAMA_MODELS")
    ollama_reasoning_model: str = _env("OLLAMA_REASONING_MODEL", "deepseek-r1:7b")
    ollama_reasoning_fallback: str = _env("OLLAMA_REASONING_FALLBACK", "qwen2.5:14b-instruct")
    xtts_model_path: Path | None = _env("XTTS_MODEL_PATH")
    xtts_enabled: bool = _env("XTTS_ENABLED", True)
    xtts_language: str = _env("XTTS_LANGUAGE", "en")
    xtts_speaker_wav: Path | None = _env("XTTS_SPEAKER_WAV")
    daena_voice_wav: Path | None = _env("DAENA_VOICE_WAV")
    daena_voice_muted: bool = _env("DAENA_VOICE_MUTED", False)
    # Seconds before a pending request expires when the console warns (row, note, voice); 0: off.
    daena_expiry_warning_seconds: float = _env("DAENA_EXPIRY_WARNING_SECONDS", 60.0, ge=0)
    automation_safe_mode: bool = _env("AUTOMATION_SAFE_MODE", True)
    automation_allowed_domains: Annotated[list[str], NoDecode] = _env(
        "AUTOMATION_ALLOWED_DOMAINS", default_factory=lambda: list(DEFAULT_ALLOWED_DOMAINS)
    )
    # Loopback/private/link-local targets the scraper may reach: ADDRESS[:PORT] entries.
    automation_allowed_private_addresses: Annotated[list[str], NoDecode] = _env(
        "AUTOMATION_ALLOWED_PRIVATE_ADDRESSES", default_factory=list
    )
    automation_request_timeout_sec: float = _env("AUTOMATION_REQUEST_TIMEOUT_SEC", 15.0, gt=0)
    security_lockdown_mode: bool = _env("SECURITY_LOCKDOWN_MODE", False)
    daena_db_path: Path = Field(
        default_factory=lambda: data_dir() / "daena.db", validation_alias="DAENA_DB_PATH"
    )
    # Unset or sqlite:///path: embedded SQLite; postgresql://…: a server (engine/storage/urls.py).
    daena_db_url: str | None = _env("DAENA_DB_URL")
    daena_operator: str = Field(
        default_factory=default_operator, validation_alias="DAENA_OPERATOR", min_length=1
    )
    daena_config_file: Path | None = _env("DAENA_CONFIG_FILE")
    # The operator's own playbooks, listed beside (and before) the shipped examples.
    daena_playbooks_dir: Path | None = _env("DAENA_PLAYBOOKS_DIR")
    # The `.env` file this model was read from (absolute), so tools can be kept off it.
    _loaded_env_file: Path | None = PrivateAttr(None)

    @field_validator("shell_allowlist", "automation_allowed_domains", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return parse_list(value)

    @field_validator("automation_allowed_private_addresses", mode="before")
    @classmethod
    def _split_addresses(cls, value: Any) -> Any:
        """A JSON list or comma-separated entries (`[::1]:8080` is an entry, not JSON)."""
        if isinstance(value, str):
            try:
                return parse_list(value)
            except ValueError:
                return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("automation_allowed_private_addresses")
    @classmethod
    def _valid_private_entries(cls, value: list[str]) -> list[str]:
        parse_private_entries(value)  # raises ValueError naming the entry and the rule
        return [entry.strip() for entry in value]

    @field_validator("shell_allowlist")
    @classmethod
    def _no_blank_entries(cls, value: list[str]) -> list[str]:
        return clean_allowlist(value)

    @model_validator(mode="after")
    def _derive_model_paths(self) -> Settings:
        for name, sub in DERIVED_FROM_MODELS_ROOT.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, self.models_root / sub)
        object.__setattr__(
            self, "execution_workspace_root", self.execution_workspace_root.expanduser()
        )
        if self.daena_db_url and self.daena_db_url.strip().lower().startswith("sqlite:"):
            # sqlite:///path is DAENA_DB_PATH by another name (one path to protect and open)
            object.__setattr__(self, "daena_db_path", sqlite_url_path(self.daena_db_url))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _ConfigFileSource(settings_cls, init_settings, env_settings, dotenv_settings)
        return (init_settings, env_settings, dotenv_settings, toml)

    def secret_values(self) -> list[str]:
        """Configured secrets, so the audit log can redact them wherever they appear."""
        found = [
            s.get_secret_value()
            for s in (self.execution_token, self.windows_node_token)
            if s is not None and s.get_secret_value()
        ]
        password = url_password(self.daena_db_url)
        return [*found, password] if password else found


def env_name(field_name: str, cls: type[BaseSettings] = Settings) -> str:
    """The environment variable a field is read from (its alias)."""
    alias = cls.model_fields[field_name].validation_alias
    return str(alias) if alias else field_name.upper()


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def build_settings(
    cls: type[SettingsT], env_file: str | Path | None = ".env", **overrides: Any
) -> SettingsT:
    """Build a settings model; an invalid value becomes a ConfigError naming the variable
    and the rule (used for the engine's settings and the node server's)."""
    check_env_file(env_file)  # a UTF-16 `.env` is one clear line, not a decode traceback
    try:
        built = cls(_env_file=env_file, **overrides)
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        name = env_name(field, cls) if field in cls.model_fields else field
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from err
    if env_file is not None and "_loaded_env_file" in built.__private_attributes__:
        setattr(built, "_loaded_env_file", Path(env_file).expanduser().absolute())  # noqa: B010
    return built


def env_file_of(settings: BaseSettings) -> Path | None:
    """The absolute `.env` path a settings model was built from (None when it read none)."""
    value = getattr(settings, "_loaded_env_file", None)
    return value if isinstance(value, Path) else None


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Build the settings once; any invalid value becomes a ConfigError naming the variable."""
    return build_settings(Settings, env_file, **overrides)


def describe_settings(
    settings: Settings, env_file: str | Path | None = ".env"
) -> list[tuple[str, str, str]]:
    """(env name, shown value, source) for every setting; secrets only as set/unset."""
    dotenv = {
        k: v
        for k, v in (
            dotenv_values(env_file, encoding="utf-8-sig")
            if env_file and Path(env_file).is_file()
            else {}
        ).items()
        if v
    }
    file_values: dict[str, Any] = {}
    if settings.daena_config_file is not None and settings.daena_config_file.is_file():
        file_values = read_config_file(settings.daena_config_file, Settings)
    rows = []
    for name in Settings.model_fields:
        alias = env_name(name)
        if os.environ.get(alias):
            source = "env"
        elif alias in dotenv:
            source = ".env"
        elif name in file_values:
            source = "file"
        elif name in DERIVED_FROM_MODELS_ROOT:
            source = "derived from MODELS_ROOT"
        else:
            source = "default"
        value = getattr(settings, name)
        if name in SECRET_FIELDS:
            shown = "set" if value is not None else "unset"
        elif name == "daena_db_url" and value:
            shown = redact_url(value)
        elif isinstance(value, list):
            shown = ", ".join(value)
        else:
            shown = "" if value is None else str(value)
        rows.append((alias, shown, source))
    return rows
