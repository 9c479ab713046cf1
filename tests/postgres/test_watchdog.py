"""A throw-away cluster does not outlive the pytest that started it, even one SIGKILLed:
its watchdog (tests/postgres/watchdog.py) stops the server and removes its directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.postgres.cluster import Cluster
from tests.support.backend import skip_unless_own_cluster

pytestmark = pytest.mark.no_postgres  # starts clusters of its own, in a pytest it kills

ROOT = Path(__file__).resolve().parents[2]
HOLDING = """
import os, time
from pathlib import Path
from tests.postgres.cluster import Cluster

def test_hold():
    cluster = Cluster().start()
    Path(os.environ["HOLD_FILE"]).write_text(str(cluster.dir))
    time.sleep(600)
"""


@pytest.fixture(autouse=True)
def _needs_pg_ctl(request: pytest.FixtureRequest) -> None:
    skip_unless_own_cluster(request.config)


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: object, what: str, limit: float = 120.0) -> None:
    """Poll `condition` until it holds; a hang guard, not a timing claim."""
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.1)


def test_a_sigkilled_pytest_leaves_no_cluster_behind(tmp_path: Path) -> None:
    (tmp_path / "test_holding.py").write_text(HOLDING)
    hold = tmp_path / "cluster-dir"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOLD_FILE": str(hold)}
    env.pop("DAENA_TEST_PG_URL", None)  # a throw-away cluster, the case that leaks
    pytest_run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_holding.py"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: hold.exists() or pytest_run.poll() is not None, "the cluster")
        assert pytest_run.poll() is None, "the holding pytest ended before it was killed"
        cluster_dir = Path(hold.read_text())
        postmaster = int((cluster_dir / "data" / "postmaster.pid").read_text().split()[0])
        assert alive(postmaster)
    finally:
        pytest_run.send_signal(signal.SIGKILL)
        pytest_run.wait()
    wait_until(lambda: not alive(postmaster), "the server to stop")
    wait_until(lambda: not cluster_dir.exists(), "the cluster's directory to go")


def test_a_clean_stop_ends_the_watchdog_too() -> None:
    cluster = Cluster().start()
    watchdog, cluster_dir = cluster.watchdog_pid, cluster.dir
    assert watchdog is not None and alive(watchdog) and cluster_dir is not None
    assert watchdog not in {c.pid for c in psutil.Process().children()}  # a daemon
    cluster.stop()
    assert not cluster_dir.exists()
    wait_until(lambda: not alive(watchdog), "the watchdog to end")
