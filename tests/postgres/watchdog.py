"""Stops a throw-away test cluster when the process that started it dies, however it dies.

A pytest killed by a signal (SIGKILL included) runs no finaliser, so its cluster
(tests/postgres/cluster.py) would keep running, holding its port, shared memory and temp
dir. `Cluster.start()` runs this script beside it:

    python watchdog.py PARENT_PID PG_CTL DATA_DIR CLUSTER_DIR [UID]

It detaches first (a daemon, printing its pid): a test that waits for its process's
children to end must not wait for this one. It waits for PARENT_PID to end (a pidfd where
there is one, else a poll), then stops the server at once (`pg_ctl stop -m immediate`, as
UID when given) and removes CLUSTER_DIR. A clean `Cluster.stop()` ends it with SIGTERM.
Standalone: it imports nothing of the project.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_exit(pid: int) -> None:
    """Return once `pid` has ended (a zombie has ended)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:  # gone already
        return
    except (AttributeError, OSError):  # not Linux: poll
        while running(pid):
            time.sleep(0.5)
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll():
            pass
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    parent, pg_ctl, data, cluster_dir = int(argv[0]), argv[1], argv[2], argv[3]
    user = int(argv[4]) if len(argv) > 4 else None
    child = os.fork()
    if child:  # the starter reads the daemon's pid and reaps this process at once
        print(child, flush=True)
        os._exit(0)
    os.setsid()  # no terminal's Ctrl-C or hang-up: the tests' own finalisers go first
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    wait_for_exit(parent)
    if os.path.isdir(data):
        subprocess.run(
            [pg_ctl, "-D", data, "-m", "immediate", "-w", "-t", "60", "stop"],
            user=user,
            capture_output=True,
            timeout=90,
            check=False,
        )
    shutil.rmtree(cluster_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
