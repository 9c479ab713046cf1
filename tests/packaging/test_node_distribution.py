"""Issue 15: the slim node distribution (packaging/node) declares exactly the third-party
packages the node server imports, through engine.* and daena_http, lazy imports included.

The closure is import-linter's graph (grimp), the same one `.importlinter` checks; the
installed build itself is checked by scripts/check_node_wheel.sh.
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import grimp
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
OWN = ("node_server", "engine", "daena_http")


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "packaging" / "node" / "pyproject.toml").read_text())
    return {canonicalize_name(Requirement(d).name) for d in project["project"]["dependencies"]}


def imported_distributions() -> dict[str, set[str]]:
    """Distribution -> the top-level modules of it that the node's import closure names."""
    graph = grimp.build_graph(
        *OWN, include_external_packages=True, exclude_type_checking_imports=True, cache_dir=None
    )
    closure = graph.find_upstream_modules("node_server", as_package=True)
    external = {m.split(".")[0] for m in closure} - set(OWN) - set(sys.stdlib_module_names)
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for module in sorted(external):
        assert module in owners, f"{module}: imported by the node, installed by nothing"
        for dist in owners[module]:
            found.setdefault(canonicalize_name(dist), set()).add(module)
    return found


def test_the_node_declares_every_package_it_imports_and_no_other() -> None:
    used = imported_distributions()
    missing = sorted(set(used) - declared())
    unused = sorted(declared() - set(used))
    assert not missing, f"imported by the node but not in packaging/node: {missing}"
    assert not unused, f"declared in packaging/node but never imported by the node: {unused}"


def test_the_console_libraries_are_outside_the_node() -> None:
    used = imported_distributions()
    console = {"textual", "rich", "pygit2", "aiosqlite", "ollama", "soundfile", "beautifulsoup4"}
    assert not console & set(used), sorted(console & set(used))
