"""The docs point at files that exist, inside the repository.

Every `path/like/this.py` (a path with a folder and a file extension) and every backticked
`folder/like/this/` (two levels at least) named in docs/*.md or the README must exist in the
checkout, so a renamed or deleted file shows up here instead of misleading a reader. Code
and tests point to in-repository docs, never to a specification outside the repository.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
EXTENSIONS = "py|md|sh|toml|json|tcss|ps1|bat|sql|txt|cfg|ini|yml|yaml|importlinter|example"
# A path token: not preceded by anything a path or URL continues with, so the tail of
# `https://host/a/b.py` or `/abs/a/b.py` is not taken for a repository path.
FILE = re.compile(rf"(?<![\w./:~-])((?:\.\./)*[\w.-]+(?:/[\w.-]+)+\.(?:{EXTENSIONS}))(?![\w/-])")
FOLDER = re.compile(r"`((?:\.\./)*[\w.-]+(?:/[\w.-]+)+/)`")  # two levels: `x/` alone is too vague
# Where the code once pointed outside the repository (a specification kept elsewhere).
OUTSIDE_POINTER = re.compile("SPEC " + "§")
POINTER_DIRS = (
    "engine",
    "daena_tui",
    "node_server",
    "daena_http",
    "tests",
    "scripts",
    "packaging",
    "benchmarks",
    "docs",
)


def named_paths(text: str) -> set[str]:
    return set(FILE.findall(text)) | set(FOLDER.findall(text))


def test_the_pattern_finds_paths_and_leaves_urls_alone() -> None:
    text = (
        "see `engine/executor.py`, daena_tui/console/, `daena_tui/console/` and `voice/`; "
        "https://example.org/a/b.py and /etc/x/y.py are not ours; ../shared/SPEC.md is"
    )
    assert named_paths(text) == {"engine/executor.py", "daena_tui/console/", "../shared/SPEC.md"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_a_doc_names_exists_in_the_repository(doc: Path) -> None:
    missing, outside = [], []
    for name in sorted(named_paths(doc.read_text(encoding="utf-8"))):
        path = (ROOT / name).resolve()
        if not path.is_relative_to(ROOT):
            outside.append(name)
        elif not path.exists():
            missing.append(name)
    assert not outside, f"{doc.name} points outside the repository: {outside}"
    assert not missing, f"{doc.name} names paths that do not exist: {missing}"


def test_code_points_to_in_repository_docs() -> None:
    found = []
    for folder in POINTER_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".sh", ".ps1", ".bat", ".toml", ".tcss", ".md"):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if OUTSIDE_POINTER.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}")
    assert not found, f"pointers to a specification outside the repository: {found}"


# `Class.member` in backticks, as docs/architecture.md names the steps of a flow.
MEMBER = re.compile(r"`([A-Z]\w*)\.(\w+)`")
CODE_DIRS = ("engine", "daena_tui", "node_server", "daena_http")


def class_members() -> dict[str, set[str]]:
    """Every class of the code -> the names defined in its body (methods, fields)."""
    found: dict[str, set[str]] = {}
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ClassDef):
                    continue
                names = found.setdefault(node.name, set())
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        names.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.add(item.target.id)
                    elif isinstance(item, ast.Assign):
                        names.update(t.id for t in item.targets if isinstance(t, ast.Name))
    return found


def test_the_architecture_names_methods_that_exist() -> None:
    members = class_members()
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = sorted(set(MEMBER.findall(text)))
    assert len(named) >= 10, named  # the flows do name their steps
    wrong = [f"{cls}.{name}" for cls, name in named if name not in members.get(cls, set())]
    assert not wrong, f"docs/architecture.md names what the code does not define: {wrong}"
