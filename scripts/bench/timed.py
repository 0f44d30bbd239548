#!/usr/bin/env python3
"""Runs a command and records how long it took, for `make bench`.

Usage: timed.py OUT.json STDOUT_FILE STDERR_FILE -- COMMAND...

Writes {"command", "exit", "wall_s", "cpu_s", "peak_rss_mb", "load_before"} to OUT.json and
exits with the command's status. Wall time is from just before the start to just after the exit
(the whole command, as a user waits for it); CPU time is user + system of the command and every
process it waited for; peak RSS is the largest single process among them (getrusage's
RUSAGE_CHILDREN). The 1-minute load average before the start is kept so a run on a busy machine
can be told from one on an idle machine.
"""

import json
import os
import resource
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.exit(__doc__)
    out, stdout, stderr, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5:]
    load = os.getloadavg()[0]
    with open(stdout, "wb") as o, open(stderr, "wb") as e:
        t0 = time.perf_counter()
        try:
            code = subprocess.run(cmd, stdout=o, stderr=e).returncode
        except OSError as err:
            sys.exit(f"bench: could not run {cmd[0]}: {err}")
        wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    rec = {
        "command": cmd,
        "exit": code,
        "wall_s": round(wall, 3),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
        "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
        "load_before": round(load, 2),
    }
    with open(out, "w") as f:
        json.dump(rec, f, indent=1)
        f.write("\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
