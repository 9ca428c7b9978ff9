"""Run one measured program as its own subprocess and read its resource usage.

CPU time and peak RSS come from `os.wait4`'s rusage of THAT child, never from the harness;
wall time is `time.perf_counter` around the child's whole life. The tap side writes to
/dev/null; the target side reads a prepared Singer file on stdin. stderr (the SDK's logs) goes
to a temporary file so a chatty child can never block on a full pipe; its tail is kept only
when the child fails.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_STDERR_TAIL = 2000


@dataclass(frozen=True)
class Usage:
    """What one child process cost."""

    wall_s: float
    user_s: float
    sys_s: float
    max_rss_kib: int
    returncode: int
    stderr_tail: str

    @property
    def cpu_s(self) -> float:
        """User plus system CPU seconds."""
        return self.user_s + self.sys_s


def run_measured(
    argv: list[str],
    *,
    stdin_path: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Usage:
    """Run `argv` to completion; return its wall time, CPU, peak RSS and exit code."""
    stdin_source = (
        stdin_path.open("rb") if stdin_path else contextlib.nullcontext(subprocess.DEVNULL)
    )
    with tempfile.TemporaryFile() as stderr, stdin_source as stdin:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=cwd
        )
        _, status, rusage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        # wait4 reaped the child behind Popen's back: tell Popen, so it does not wait again.
        child.returncode = os.waitstatus_to_exitcode(status)
        tail = b""
        if child.returncode != 0:
            stderr.seek(max(0, stderr.tell() - _STDERR_TAIL))
            tail = stderr.read()
    return Usage(
        wall_s=wall,
        user_s=rusage.ru_utime,
        sys_s=rusage.ru_stime,
        max_rss_kib=rusage.ru_maxrss,  # KiB on Linux
        returncode=child.returncode,
        stderr_tail=tail.decode("utf-8", "replace"),
    )


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far, from /proc/<pid>/stat.

    Used for the sandbox: its share of a measured run is the difference between two readings.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces; fields after its closing ")" are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS
