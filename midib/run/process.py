"""Run one command as a watched process tree: time limit, peak memory, CPU time.

A de-identifier is rarely one process (a JVM, a shell script, a private server), so the
command is started in a new session and everything measured or killed is the whole tree:
peak memory is the largest *sum* of resident set sizes seen over the tree while polling
(not the kernel's ru_maxrss: Linux carries the forking parent's high-water mark across exec,
so every child would look as big as midib itself), CPU seconds come from the kernel's
accounting of the reaped child (which includes the descendants it waited for) or from
polling, whichever is larger, and a timeout kills the
process group plus every descendant seen, even one that started its own session. While the
command runs this process is its descendants' subreaper (Linux), so a daemon that double-forks
away is still ours to kill when the command ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import psutil

POLL_SECONDS = 0.05


@dataclass
class ProcessStats:
    """How a watched command ended and what it used."""

    exit_code: Optional[int]          # None when killed by a signal
    signal: Optional[int]             # the killing signal, if any
    timed_out: bool
    wall_seconds: float
    cpu_seconds: float
    peak_memory_mb: float


class TreeWatch:
    """Polls a process tree: remembers every descendant, the peak RSS sum and CPU per process."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.seen: dict[int, psutil.Process] = {pid: self.root}
        self.cpu: dict[int, float] = {}
        self.peak_rss = 0

    def tree(self) -> list[psutil.Process]:
        try:
            procs = [self.root] + self.root.children(recursive=True)
        except psutil.Error:
            procs = []
        for p in procs:
            self.seen.setdefault(p.pid, p)
        return procs

    def sample(self) -> None:
        total = 0
        for p in self.tree():
            try:
                with p.oneshot():
                    total += p.memory_info().rss
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, total)

    def kill_all(self) -> None:
        """SIGKILL the process group and every descendant ever seen (still alive)."""
        self.tree()
        try:
            os.killpg(self.root.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for p in self.seen.values():
            try:
                p.kill()
            except psutil.Error:
                pass


#: prctl option: orphaned descendants are re-parented to this process, not to init (Linux 3.4+)
_PR_SET_CHILD_SUBREAPER = 36


def _subreaper(on: bool) -> bool:
    """Make this process the reaper of its orphaned descendants (or stop): a daemon that
    double-forks out of the tool's session between two polls then stays our descendant and
    is killed with the rest, instead of writing into the run folder after run.json. False
    where the OS has no such call (the polling still catches what it sees)."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _kill_new_descendants(before: set[int]) -> None:
    """SIGKILL (and reap) every descendant of this process not in ``before``: what is left of
    the tool once its own tree was killed, such as a daemon re-parented to us."""
    try:
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    except psutil.Error:
        return
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=5)


def _reap(pid: int) -> Optional[tuple[int, float, int]]:
    """(wait status, CPU seconds, max RSS kB) if ``pid`` has exited, else None."""
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done == 0:
        return None
    return status, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def run_watched(argv: Sequence[str], stdout: Path, stderr: Path, timeout: Optional[float],
                env: Optional[dict[str, str]] = None, cwd: Optional[Path] = None) -> ProcessStats:
    """Run ``argv`` in its own session with output to files; enforce ``timeout`` on the tree."""
    start = time.monotonic()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    reaper = _subreaper(True)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env, cwd=cwd)
    watch = TreeWatch(proc.pid)
    timed_out = False
    while True:
        watch.sample()
        reaped = _reap(proc.pid)
        if reaped is not None:
            break
        if timeout is not None and time.monotonic() - start > timeout:
            timed_out = True
            watch.kill_all()
            _, status = os.waitpid(proc.pid, 0)
            reaped = (status, 0.0, 0)
            break
        time.sleep(POLL_SECONDS)
    proc.returncode = 0  # reaped by us; keep Popen from waiting again
    watch.kill_all()     # leftovers (a daemon the tool forgot) never outlive the run
    _kill_new_descendants(before)
    if reaper:
        _subreaper(False)
    status, cpu, _ = reaped
    cpu = max(cpu, sum(watch.cpu.values()))
    peak = watch.peak_rss
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return ProcessStats(exit_code=code, signal=sig, timed_out=timed_out,
                        wall_seconds=round(time.monotonic() - start, 3),
                        cpu_seconds=round(cpu, 3), peak_memory_mb=round(peak / 2**20, 2))
