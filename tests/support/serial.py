"""The `serial` marker: tests that drive tmux or many subprocesses run one after another.

Under pytest-xdist (`-n auto --dist loadgroup`, what `.ci/run` and the README use) every
serial test joins one xdist group, so they share one worker and never run at the same time
as each other; the rest of the suite is spread over the other workers. Without xdist the
marker changes nothing. Whole folders and files whose tests are all of that kind are listed
here instead of marking each test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
SERIAL_PATHS = (
    "reliability",  # real signals, killed processes, full disks: timing-sensitive faults
    "packaging",  # builds wheels and virtual environments
    "tui/test_e2e_script.py",  # tmux
    "tui/test_start_errors.py",  # the console in tmux
    "cli/test_startup_problems.py",  # dozens of CLI and console processes
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "serial: runs in one xdist group, never beside another serial test"
    )


def is_serial(item: pytest.Item) -> bool:
    if item.get_closest_marker("serial"):
        return True
    try:
        relative = Path(item.path).resolve().relative_to(TESTS).as_posix()
    except ValueError:  # a test file outside tests/
        return False
    return any(relative == p or relative.startswith(p + "/") for p in SERIAL_PATHS)


# First: xdist's own hook turns the xdist_group mark into the group, and on a worker it is
# registered after this conftest's plugins, so it would otherwise run first and find none.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    serial = [item for item in items if is_serial(item)]
    for item in serial:
        item.add_marker(pytest.mark.xdist_group("serial"))
    # The serial group is the suite's longest unit: handed out first (xdist schedules groups
    # in collection order), it runs beside the rest instead of being the tail after it.
    chosen = set(map(id, serial))
    items[:] = serial + [item for item in items if id(item) not in chosen]
