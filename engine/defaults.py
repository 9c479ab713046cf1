"""Where the shipped defaults live: the policy seed and the example playbooks.

They are the files of the top-level `config/` directory, which the build maps to the package
`daena_config` (pyproject.toml / setup.py): an editable install reads `config/` itself and a
wheel carries the same files as package data, so there is one copy and nothing to keep in
sync. Read through `importlib.resources` so any install layout works.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

PACKAGE = "daena_config"
SEED_NAME = "execution_layer_config.json"
PLAYBOOKS_NAME = "playbooks"
# The checkout's copy, for a source tree run without installing (`python -m daena_tui`).
CHECKOUT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


def config_root() -> Traversable:
    """The shipped configuration directory (the installed package, else the checkout's)."""
    try:
        return resources.files(PACKAGE)
    except ModuleNotFoundError:
        return CHECKOUT_CONFIG_DIR


def config_dirs() -> list[Path]:
    """Every place on disk the shipped configuration is read from (to keep tools off it)."""
    found = [CHECKOUT_CONFIG_DIR]
    root = config_root()
    if isinstance(root, Path) and root.resolve() != CHECKOUT_CONFIG_DIR:
        found.append(root.resolve())
    return found


def seed_file() -> Traversable:
    return config_root() / SEED_NAME


def example_playbooks_dir() -> Path:
    """The example playbooks' directory (a wheel is installed unzipped: a real path)."""
    directory = config_root() / PLAYBOOKS_NAME
    return directory if isinstance(directory, Path) else Path(str(directory))
