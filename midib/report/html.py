"""``midib report``: one self-contained HTML page for one run, or a leaderboard of several.

Everything the page needs is inside it (CSS, SVG charts, PNG thumbnails as data: URIs, a few
lines of script for sorting and filtering), so it opens from a file, a CI artefact or an email
without a server and without a request to any host. Templates render with StrictUndefined (a
missing field is a bug we want to see, not an empty cell) and autoescape (DICOM values are
attacker-controlled text: ``<script>`` in PatientName must show as text).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional

import jinja2

from midib import __version__
from midib.errors import MidibError
from midib.report.charts import category_chart, leaderboard_chart
from midib.report.leaderboard import BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED, build_leaderboard
from midib.report.loading import ScoredRun
from midib.report.thumbnails import PIXEL_ACTIONS, pixel_failures

MAX_FAILED_ROWS = 1000     # failed checks listed for a single run (the rest are in results.csv)
MAX_THUMBNAILS = 12        # frames with pixel failures pictured for a single run
BOARD_SHARE = 0.3          # a run's share of those caps on a leaderboard page (keeps it a few MB)
MAX_FILES_LISTED = 200     # unmatched / extra / duplicate files listed per run
MAX_ATTRIBUTES = 1000      # per-attribute rows (most failures first)
RUN_FIELDS = ("started", "ended", "wall_seconds", "cpu_seconds", "peak_memory_mb", "exit_code",
              "reason", "input_untouched")


def environment() -> jinja2.Environment:
    """The template environment: package templates, StrictUndefined, autoescaping on."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("midib.report", "templates"),
                             undefined=jinja2.StrictUndefined, autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "—" if v is None else f"{float(v):.2f}"
    return env


def breakdown(mapping: Any, by_failures: bool = False,
              labels: Optional[dict[str, str]] = None) -> list[dict[str, Any]]:
    """A summary mapping name -> {passed, failed, total, percent} as sorted table rows."""
    rows = [{"name": str(name), "label": (labels or {}).get(str(name), ""),
             "passed": int(v.get("passed", 0)), "failed": int(v.get("failed", 0)),
             "total": int(v.get("total", 0)), "percent": v.get("percent")}
            for name, v in (mapping or {}).items() if isinstance(v, dict)]
    key = (lambda r: (-r["failed"], r["name"])) if by_failures else (lambda r: r["name"])
    return sorted(rows, key=key)


def bench_dir(run: ScoredRun, override: Optional[Path]) -> Optional[Path]:
    """The benchmark a run was made from (for source images), if it is still on disk."""
    for candidate in (override, (run.summary or {}).get("benchmark"), (run.run or {}).get("benchmark")):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def as_text(item: Any) -> str:
    """A list entry of summary.json as one line: a path, or a {file, message...} record."""
    if isinstance(item, dict):
        head = item.get("file") or item.get("path") or ""
        rest = "; ".join(f"{v}" for k, v in item.items() if k not in ("file", "path") and v not in (None, ""))
        return f"{head}: {rest}" if head and rest else str(head or rest)
    return str(item)


def _command(run: ScoredRun) -> str:
    cmd = (run.run or {}).get("command") or ""
    return " ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd)


def _failed_rows(run: ScoredRun, cap: int) -> tuple[list[dict[str, Any]], int]:
    """Failed checks (capped) and how many there are in all."""
    df = run.results()
    failed = df[~df["passed"]]
    cols = ["check_id", "source", "modality", "action", "attribute", "tag_name", "category",
            "expected", "observed", "reason", "output_file", "patient_id"]
    return failed.head(cap)[cols].to_dict("records"), int(len(failed))


def _tag_names(run: ScoredRun) -> dict[str, str]:
    """attribute path -> keyword (PatientName...), so the per-attribute table reads without a dictionary."""
    df = run.results()
    named = df[df["tag_name"] != ""].drop_duplicates("attribute")
    return dict(zip(named["attribute"], named["tag_name"]))


def _pixel_rows(run: ScoredRun) -> list[dict[str, Any]]:
    """Every failed burned-in / overlay check (pictured even beyond the failed-check table's cap)."""
    df = run.results()
    rows = df[~df["passed"] & df["action"].isin(PIXEL_ACTIONS)]
    return rows[["check_id", "instance", "expected", "output_file"]].to_dict("records")


def run_context(run: ScoredRun, bench_override: Optional[Path], share: float = 1.0) -> dict[str, Any]:
    """Everything the run section of the template shows, with no undefined field."""
    s = run.summary or {}
    failed_rows, n_failed = _failed_rows(run, int(MAX_FAILED_ROWS * share)) if run.scored else ([], 0)
    pixel_rows = _pixel_rows(run) if run.scored else []
    pixels = pixel_failures(pixel_rows, run.root, bench_dir(run, bench_override),
                            max(1, int(MAX_THUMBNAILS * share)))
    matching, conformance = s.get("matching") or {}, s.get("conformance") or {}
    introduced = conformance.get("introduced_errors")
    return {
        "label": run.label, "anchor": run.anchor, "root": str(run.root), "status": run.status,
        "scored": run.scored, "tool": run.tool, "command": _command(run),
        "meta": {k: (run.run or {}).get(k) for k in RUN_FIELDS},
        "profile": s.get("profile"), "formula": s.get("formula"),
        "overall": s.get("overall") or {}, "weighted": s.get("weighted") or {},
        "by_category": breakdown(s.get("by_category")),
        "category_chart": category_chart(breakdown(s.get("by_category"))),
        "by_action": breakdown(s.get("by_action"), by_failures=True),
        "by_modality": breakdown(s.get("by_modality")),
        "by_hipaa_class": breakdown(s.get("by_hipaa_class"), by_failures=True),
        "by_attribute": breakdown(s.get("by_attribute"), True, _tag_names(run))[:MAX_ATTRIBUTES],
        "failed": failed_rows, "n_failed": n_failed,
        "pixels": pixels, "n_pixel_failed": len(pixel_rows),
        "pixels_shown": sum(len(p.check_ids) for p in pixels),
        "conformance": {"available": conformance.get("available"), "reason": conformance.get("reason"),
                        "errors": [as_text(e) for e in introduced] if isinstance(introduced, list) else [],
                        "count": len(introduced) if isinstance(introduced, list) else introduced},
        "conformance_checks": [r for r in failed_rows if r["source"] == "conformance"],
        "matching": {k: [as_text(f) for f in list(matching.get(k) or [])[:MAX_FILES_LISTED]] for k in
                     MATCHING_LISTS},
        "matching_counts": {k: len(matching.get(k) or []) for k in
                            MATCHING_LISTS},
        "matching_method": matching.get("method"), "matched": matching.get("matched"),
    }


#: summary.json "matching" lists shown on a run's page (older summaries may lack the last two)
MATCHING_LISTS = ("unmatched_inputs", "extra_outputs", "duplicate_outputs", "unreadable_outputs",
                  "rejected_outputs")


def render_report(runs: list[ScoredRun], bench: Optional[Path] = None, title: str = "") -> str:
    """The HTML text for one run (no leaderboard) or several (leaderboard first)."""
    if not runs:
        raise MidibError("no run to report on")
    board = build_leaderboard(runs) if len(runs) > 1 else []
    if board:   # run sections follow the leaderboard's order
        order = {row.anchor: i for i, row in enumerate(board)}
        runs = sorted(runs, key=lambda r: order[r.anchor])
    template = environment().get_template("report.html.j2")
    return template.render(
        title=title or ("midib leaderboard" if board else f"midib report: {runs[0].label}"),
        board=board, board_chart=leaderboard_chart(board), runs=[run_context(r, bench, BOARD_SHARE if board else 1.0) for r in runs],
        bootstrap={"samples": BOOTSTRAP_SAMPLES, "seed": BOOTSTRAP_SEED},
        limits={"failed": MAX_FAILED_ROWS, "thumbnails": MAX_THUMBNAILS, "files": MAX_FILES_LISTED},
        midib_version=__version__,
        generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(runs: list[ScoredRun], out: Path, bench: Optional[Path] = None) -> Path:
    """Render and write the report; the parent folder is created."""
    html = render_report(runs, bench)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as e:
        raise MidibError(f"cannot write report {out}: {e.strerror}") from e
    return out
