"""Settings (engine/settings.py): original env names, .env, TOML file, derivation, sources, no side
effects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import ConfigError, describe_settings, load_settings

ORIGINAL_ENV = """\
EXECUTION_TOKEN=abc-secret-token
EXECUTION_WORKSPACE_ROOT={ws}
SHELL_ALLOWLIST=["git status", "python -m pytest"]
WINDOWS_NODE_URL=http://10.0.0.5:18888
MODELS_ROOT={models}
OLLAMA_REASONING_MODEL=llama3:8b
XTTS_ENABLED=false
AUTOMATION_ALLOWED_DOMAINS=example.com,docs.python.org
AUTOMATION_REQUEST_TIMEOUT_SEC=7
SECURITY_LOCKDOWN_MODE=true
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(
            (
                "EXECUTION_",
                "SHELL_",
                "WINDOWS_",
                "MODELS_",
                "OLLAMA_",
                "XTTS_",
                "DAENA_",
                "AUTOMATION_",
                "SECURITY_",
            )
        ):
            monkeypatch.delenv(name)


def test_original_env_file_works_unchanged(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(ORIGINAL_ENV.format(ws=tmp_path, models=tmp_path / "m"))
    s = load_settings(env_file=env)
    assert (
        s.execution_token is not None and s.execution_token.get_secret_value() == "abc-secret-token"
    )
    assert s.shell_allowlist == ["git status", "python -m pytest"]
    assert s.automation_allowed_domains == ["example.com", "docs.python.org"]
    assert s.automation_request_timeout_sec == 7
    assert s.security_lockdown_mode is True and s.xtts_enabled is False
    assert s.ollama_models == tmp_path / "m" / "ollama"
    assert s.xtts_model_path == tmp_path / "m" / "xtts"


def test_models_root_derivation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unset = load_settings(env_file=None)
    assert unset.ollama_models == unset.models_root / "ollama"
    assert "Daena" not in str(unset.models_root) or not str(unset.models_root).startswith(
        ("D:", "C:")
    )
    monkeypatch.setenv("MODELS_ROOT", str(tmp_path))
    monkeypatch.setenv("OLLAMA_MODELS", "")  # blank counts as unset
    blank = load_settings(env_file=None)
    assert blank.ollama_models == tmp_path / "ollama"
    monkeypatch.setenv("XTTS_MODEL_PATH", str(tmp_path / "custom"))
    assert load_settings(env_file=None).xtts_model_path == tmp_path / "custom"


def test_env_beats_dotenv_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "daena.toml"
    toml.write_text(
        'OLLAMA_BASE_URL = "http://file:1"\nxtts_language = "de"\nWINDOWS_NODE_URL = "http://file:2"\n'
    )
    env = tmp_path / ".env"
    env.write_text(
        f"DAENA_CONFIG_FILE={toml}\nWINDOWS_NODE_URL=http://dotenv:3\nOLLAMA_REASONING_MODEL=from-dotenv\n"
    )
    monkeypatch.setenv("OLLAMA_REASONING_MODEL", "from-env")
    s = load_settings(env_file=env)
    assert (s.ollama_base_url, s.xtts_language) == ("http://file:1", "de")
    assert s.windows_node_url == "http://dotenv:3"
    assert s.ollama_reasoning_model == "from-env"
    sources = {name: source for name, _, source in describe_settings(s, env)}
    assert sources["OLLAMA_BASE_URL"] == "file"
    assert sources["WINDOWS_NODE_URL"] == ".env"
    assert sources["OLLAMA_REASONING_MODEL"] == "env"
    assert sources["OLLAMA_MODELS"] == "derived from MODELS_ROOT"
    assert sources["EXECUTION_TOKEN"] == "default"


def test_secrets_shown_only_as_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTION_TOKEN", "very-secret-value")
    rows = describe_settings(load_settings(env_file=None), None)
    assert ("EXECUTION_TOKEN", "set", "env") in rows
    assert "very-secret-value" not in repr(rows)


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("AUTOMATION_REQUEST_TIMEOUT_SEC", "-1", "greater than 0"),
        ("AUTOMATION_REQUEST_TIMEOUT_SEC", "soon", "valid number"),
        ("SHELL_ALLOWLIST", "[1", "not valid JSON"),
        ("SECURITY_LOCKDOWN_MODE", "perhaps", "boolean"),
        ("SHELL_ALLOWLIST", '["git status", " "]', "blank"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, rule: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert info.value.message.startswith(name) and rule in info.value.message


def test_bad_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    monkeypatch.setenv("DAENA_CONFIG_FILE", str(bad))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env_file=None)
    bad.write_text("NO_SUCH_SETTING = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(env_file=None)
    monkeypatch.setenv("DAENA_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env_file=None)


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    """Importing and building settings creates no directories and writes no env vars."""
    code = (
        "import os, json; before = dict(os.environ);"
        "import engine; s = engine.load_settings(env_file=None);"
        "import sys; print(json.dumps({'same_env': before == dict(os.environ),"
        " 'textual': 'textual' in sys.modules}))"
    )
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=tmp_path,
    )
    assert out.stdout.strip() == '{"same_env": true, "textual": false}'
    assert list(tmp_path.iterdir()) == []
