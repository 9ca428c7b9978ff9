"""Run one measured program as its own subprocess and read its resource usage.

CPU time and peak RSS come from `os.wait4`'s rusage of THAT process, never from the harness;
wall time is `time.perf_counter` around the process's whole life. The tap side writes to
/dev/null; the target side reads a prepared Singer file on stdin. stderr (the SDK's logs) goes
to a temporary file so a chatty child can never block on a full pipe; its tail is kept only
when the child fails.

The measured process is forked by a bare launcher interpreter, not by the harness: on Linux a
process's `ru_maxrss` starts at the RSS of the address space it was forked with (and exec keeps
that high-water mark), so a child forked straight from the harness could never report less
than the harness's own ~30 MiB. The launcher's floor is ~5 MiB, below any Python program.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_STDERR_TAIL = 2000
#: How much of the measured program's stdout is read at a time (it is only drained, not kept).
_DRAIN_BYTES = 1 << 16
# Run with `python -I -S -c`: no site-packages, nothing imported but os, sys and time.
_LAUNCHER = """
import os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as error:
        sys.stderr.write(f"cannot run {argv[0]}: {error}\\n")
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(result, "w") as out:
    out.write(f"{wall} {usage.ru_utime} {usage.ru_stime} {usage.ru_maxrss} {code}")
"""


@dataclass(frozen=True)
class Usage:
    """What one measured process cost."""

    wall_s: float
    user_s: float
    sys_s: float
    max_rss_kib: int  # ru_maxrss is in KiB on Linux
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
    with (
        tempfile.TemporaryDirectory(prefix="measure-") as scratch,
        tempfile.TemporaryFile() as stderr,
        stdin_source as stdin,
    ):
        result = Path(scratch) / "usage"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(result), *argv]
        # stdout is a pipe that this process drains, as the next program of a pipeline (or
        # Meltano) does: writing into a pipe costs what users pay (one system call per
        # unbuffered write, the reader woken), which /dev/null would hide.
        with subprocess.Popen(
            launcher, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd
        ) as process:
            drain = process.stdout
            while drain is not None and drain.read(_DRAIN_BYTES):
                pass
        if process.returncode != 0:
            raise subprocess.CalledProcessError(process.returncode, launcher)
        wall, user, system, max_rss, code = result.read_text().split()
        tail = b""
        if int(code) != 0:
            stderr.seek(max(0, stderr.tell() - _STDERR_TAIL))
            tail = stderr.read()
    return Usage(
        wall_s=float(wall),
        user_s=float(user),
        sys_s=float(system),
        max_rss_kib=int(max_rss),
        returncode=int(code),
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
