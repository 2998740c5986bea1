"""`midib compare`: Compare two scored runs: newly failing, fixed and still failing checks (regression gate)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Compare two scored runs: newly failing, fixed and still failing checks (regression gate)."


def configure(parser: argparse.ArgumentParser) -> None:
    """BASE and NEW scored runs, tolerance, optional JUnit file."""
    parser.add_argument("base", type=Path, metavar="BASE_RUN", help="scored run to compare against")
    parser.add_argument("new", type=Path, metavar="NEW_RUN", help="scored run under test")
    parser.add_argument("--tolerance", default="0", metavar="X",
                        help="newly failing checks accepted before exit 1: a whole number of "
                             "checks (default 0) or a percentage of NEW's checks, e.g. 0.5%%")
    parser.add_argument("--junit", type=Path, metavar="FILE",
                        help="write JUnit XML: one test case per attribute x action, failed "
                             "when it has newly failing checks")


def run(args: argparse.Namespace) -> int:
    """Exit 1 when more checks newly fail than the tolerance allows, else 0."""
    from midib.report.compare import compare_runs, describe, gate_failed, parse_tolerance
    from midib.report.junit import write_junit
    from midib.report.loading import load_run, refuse_overwriting

    tolerance = parse_tolerance(args.tolerance)
    base, new = load_run(args.base), load_run(args.new)
    if args.junit:
        refuse_overwriting(args.junit, [base, new], "--junit")
    comparison = compare_runs(base, new)
    print("\n".join(describe(comparison, tolerance)))
    if args.junit:
        print(f"junit: {write_junit(comparison, args.junit)}")
    return 1 if gate_failed(comparison, tolerance) else 0
