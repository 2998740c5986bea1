"""The process an adapter runs in: ``python -m midib.run.child SPEC.json``.

The runner starts this module in a new session (its own process group) so that a time limit
kills everything the tool started, and memory is measured over that whole tree, whatever the
adapter does inside. The child loads the adapter, runs it, and writes what happened to the
result file named in the spec. Exit codes tell the parent how it ended:
0 = ok, 3 = the adapter raised ToolFailed, 4 = any other exception (crashed).
A death by signal, or an exit without a result file, is also a crash.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

from midib.run.adapter import RunContext, ToolAdapter, ToolFailed, ToolOutcome

EXIT_OK = 0
EXIT_FAILED = 3
EXIT_CRASHED = 4


def build_adapter(spec: dict[str, Any]) -> ToolAdapter:
    """The adapter the spec names: a ``--cmd`` template, or a registry name / module:Class."""
    if spec.get("template"):
        from midib.run.tools.command import TemplateAdapter

        return TemplateAdapter(spec["template"])
    from midib.run.registry import get_tool

    entry = get_tool(spec["tool"])
    if entry.adapter is None:
        raise RuntimeError(entry.load_error)
    return entry.adapter


def context_from(spec: dict[str, Any]) -> RunContext:
    bench = spec.get("benchmark_dir")
    return RunContext(options=dict(spec.get("options", {})), work_dir=Path(spec["work_dir"]),
                      log_dir=Path(spec["log_dir"]), seed=int(spec.get("seed", 0)),
                      benchmark_dir=Path(bench) if bench else None)


def outcome_record(outcome: ToolOutcome) -> dict[str, Any]:
    return {"status": "ok", "reason": "", "exit_code": 0, "command": outcome.command,
            "uid_mapping": outcome.uid_mapping, "patid_mapping": outcome.patid_mapping,
            "notes": outcome.notes}


def execute(spec: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Run the adapter; return (child exit code, result record). Never raises."""
    try:
        adapter = build_adapter(spec)
        adapter.configure(dict(spec.get("options", {})))
        outcome = adapter.run(Path(spec["input"]), Path(spec["output"]), context_from(spec))
        return EXIT_OK, outcome_record(outcome or ToolOutcome())
    except ToolFailed as e:
        return EXIT_FAILED, {"status": "failed", "reason": str(e), "exit_code": e.exit_code,
                             "command": e.command or ""}
    except BaseException as e:  # noqa: BLE001 - everything else is a crash, recorded as such
        traceback.print_exc()
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        return EXIT_CRASHED, {"status": "crashed", "reason": f"adapter raised {last}"}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    for entry in reversed(spec.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    code, result = execute(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    tmp = Path(spec["result"]).with_suffix(".tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(spec["result"])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
