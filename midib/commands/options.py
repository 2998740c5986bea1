"""Argument types shared by several commands."""

from __future__ import annotations

import argparse
import os
import sys

#: worker processes per CPU beyond which --jobs is lowered: CPU-bound workers past the CPUs only
#: add memory (each holds the scorer's context), and --jobs 100000 forked until the kernel's
#: out-of-memory killer stopped the machine
JOBS_PER_CPU = 4


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(text: str) -> int:
    """--jobs: a whole number of at least 1, lowered (with a note) to :data:`JOBS_PER_CPU`
    times the usable CPUs; argparse turns a bad value into its usage line and exit 2."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    limit = JOBS_PER_CPU * usable_cpus()
    if value > limit:
        print(f"midib: note: --jobs {value} is more than {limit} ({JOBS_PER_CPU} per CPU here): "
              f"using {limit}", file=sys.stderr)
        return limit
    return value
