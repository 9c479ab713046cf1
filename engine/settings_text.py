"""Reading a settings file's text (`.env`, the TOML file) with one clear error.

Windows Notepad saves UTF-16 with a byte-order mark; other editors save a legacy code page.
Either would otherwise fail deep inside the dotenv or TOML reader with a bare
UnicodeDecodeError that names neither the file nor what to do, or (a UTF-8 BOM) silently
rename the first variable. UTF-8 with or without a BOM is read; anything else is a
ConfigError naming the file, the encoding found and the fix.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from engine.errors import ConfigError

_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "UTF-32 BE"),
    (codecs.BOM_UTF16_LE, "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "UTF-16 BE"),
)
FIX = "save it as UTF-8"


def describe_encoding(data: bytes) -> str:
    """What a non-UTF-8 file looks like it was saved as."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return f"saved as {name} (byte-order mark)"
    if b"\x00" in data[:200]:
        return "saved as UTF-16 or UTF-32 (NUL bytes, no byte-order mark)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})"
    return "UTF-8"  # not reached for a file that failed to decode


def settings_text(path: Path, what: str) -> str:
    """`path`'s text as UTF-8 (a UTF-8 BOM is dropped); `what` names the setting or file
    kind in the error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise ConfigError(f"{what}: {path} does not exist") from err
    except OSError as err:
        raise ConfigError(f"{what}: cannot read {path}: {err.strerror or err}") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:  # UTF-16 without a BOM decodes, NULs and all
        found = describe_encoding(data)
        raise ConfigError(f"{what}: {path.absolute()} is {found}; {FIX}") from None
    return text


def check_env_file(env_file: str | Path | None) -> None:
    """Refuse a `.env` that exists but cannot be read as UTF-8 (a missing one is no file)."""
    if env_file is None:
        return
    path = Path(env_file).expanduser()
    if path.is_file():  # as the dotenv reader: a directory or a socket is no `.env`
        settings_text(path, ".env")
