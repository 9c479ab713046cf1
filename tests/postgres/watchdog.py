"""Stops a throw-away test cluster when the process that started it dies, however it dies.

A pytest killed by a signal (SIGKILL included) runs no finaliser, so its cluster
(tests/postgres/cluster.py) would keep running, holding its port, shared memory and temp
dir. `Cluster.start()` runs this script beside it:

    python watchdog.py PARENT_PID PG_CTL DATA_DIR CLUSTER_DIR [UID]

It waits for PARENT_PID to end (a pidfd where there is one, else a poll), then stops the
server at once (`pg_ctl stop -m immediate`, as UID when given) and removes CLUSTER_DIR. A
clean `Cluster.stop()` ends the watchdog itself first. Standalone: it imports nothing of
the project, so it runs whatever state the tests left the interpreter in.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time


def wait_for_exit(pid: int) -> None:
    """Return once `pid` has ended."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or already gone
        fd = None
    if fd is not None:
        try:
            if os.getppid() != pid:  # it died before the pidfd was open: we were re-parented
                return
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while not poller.poll():
                pass
        finally:
            os.close(fd)
        return
    while os.getppid() == pid:
        time.sleep(0.5)


def main(argv: list[str]) -> int:
    parent, pg_ctl, data, cluster_dir = int(argv[0]), argv[1], argv[2], argv[3]
    user = int(argv[4]) if len(argv) > 4 else None
    # Ctrl-C in the terminal reaches the whole process group: the tests' own finalisers
    # then stop the cluster, and this process must outlive them in case they cannot.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
