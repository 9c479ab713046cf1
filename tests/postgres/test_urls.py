"""DAENA_DB_URL: which backend it names, and its password never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.settings import describe_settings
from engine.storage.urls import parse_target, redact_text, redact_url, url_password
from tests.conftest import make_settings

SECRET = "s3cr%40t-pw"  # percent-encoded '@'


def test_unset_is_sqlite_at_the_db_path(tmp_path: Path) -> None:
    target = parse_target(None, tmp_path / "d.db")
    assert (target.backend, target.path) == ("sqlite", tmp_path / "d.db")
    assert parse_target("  ", tmp_path / "d.db").backend == "sqlite"


def test_sqlite_url_names_the_file(tmp_path: Path) -> None:
    target = parse_target(f"sqlite:///{tmp_path}/x.db", Path("/elsewhere"))
    assert target.path == tmp_path / "x.db"


@pytest.mark.parametrize("bad", ["sqlite:x.db", "sqlite:///", "mysql://u@h/db", "nonsense"])
def test_bad_urls_name_the_setting(bad: str) -> None:
    with pytest.raises(ConfigError, match="DAENA_DB_URL"):
        parse_target(bad, Path("/x.db"))


def test_postgres_url_needs_a_database() -> None:
    with pytest.raises(ConfigError, match="names no database"):
        parse_target(f"postgresql://u:{SECRET}@db.example:5432", Path("/x.db"))


def test_postgres_url_is_kept_whole_for_libpq() -> None:
    url = f"postgresql://daena:{SECRET}@db.example:5432/daena?sslmode=verify-full"
    target = parse_target(url, Path("/x.db"))
    assert (target.backend, target.url) == ("postgresql", url)
    assert SECRET not in target.shown and "sslmode=verify-full" in target.shown


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://daena:{SECRET}@db.example:5432/daena",
        f"postgres://daena:{SECRET}@db.example/daena?sslmode=require",
        f"postgresql://daena@db.example/daena?password={SECRET}&sslmode=require",
        f"postgresql://daena@db.example/daena?sslpassword={SECRET}",
    ],
)
def test_redact_url_hides_every_form_of_password(url: str) -> None:
    shown = redact_url(url)
    assert SECRET not in shown and "s3cr" not in shown
    assert "***" in shown and "db.example" in shown and "daena" in shown


def test_redact_url_leaves_a_url_without_password_alone() -> None:
    url = "postgresql://daena@db.example:5432/daena?sslmode=require"
    assert redact_url(url) == url


def test_redact_text_hides_a_url_inside_an_error_message() -> None:
    text = f'connection to "postgresql://daena:{SECRET}@h/db" failed; password={SECRET} bad'
    assert "s3cr" not in redact_text(text)


def test_password_goes_to_the_audit_redactor() -> None:
    assert url_password(f"postgresql://u:{SECRET}@h/db") == "s3cr@t-pw"
    assert url_password(f"postgresql://u@h/db?password={SECRET}") == "s3cr@t-pw"
    assert url_password("postgresql://u@h/db") is None


def test_settings_show_the_url_redacted_and_give_its_password(tmp_path: Path) -> None:
    url = f"postgresql://daena:{SECRET}@db.example:5432/daena"
    settings = make_settings(tmp_path, tmp_path / "d.db", DAENA_DB_URL=url)
    assert "s3cr@t-pw" in settings.secret_values()
    shown = {name: value for name, value, _ in describe_settings(settings)}
    assert "s3cr" not in shown["DAENA_DB_URL"] and "db.example" in shown["DAENA_DB_URL"]


def test_sqlite_url_setting_becomes_the_db_path(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, tmp_path / "d.db", DAENA_DB_URL=f"sqlite:///{tmp_path}/o.db")
    assert settings.daena_db_path == tmp_path / "o.db"
