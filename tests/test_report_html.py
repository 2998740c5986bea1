"""`midib report`: the HTML says what summary.json says, escapes values, inlines everything."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from midib.cli import main
from midib.report.leaderboard import bootstrap_interval, build_leaderboard
from midib.report.loading import load_run, load_runs
from test_report_support import PIXEL_BOX, check_row, copy_output, make_pixel_bench, make_run

EVIL = "<script>alert('phi')</script>"


class Page(HTMLParser):
    """Tiny DOM digest: attributes of every tag, text by element id, script bodies."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)

    def attrs(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]


@pytest.fixture()
def scored(tmp_path: Path) -> dict[str, Path]:
    """Three runs: one with a leak, a pixel failure and an evil value; identity; unavailable."""
    bench, rel = make_pixel_bench(tmp_path)
    pixel = dict(action="pixels_hidden", attribute="(7fe0,0010)", output_file=rel.as_posix(),
                 expected={"text": "DOE^JOHN", "box": PIXEL_BOX, "frame": 0})
    good = make_run(tmp_path / "good", "dicognito", [
        check_row("a", True), check_row("b", False, observed=EVIL), check_row("pix1", False, **pixel),
        check_row("c", True, patient="P2", category="dicom"), check_row("d", True, patient="P3")],
        bench=bench)
    copy_output(good, rel)
    floor = make_run(tmp_path / "floor", "identity", [
        check_row("a", False), check_row("b", False), check_row("c", True, patient="P2")], bench=bench)
    missing = make_run(tmp_path / "missing", "pixelmed", [], status="unavailable", scored=False)
    return {"good": good, "floor": floor, "missing": missing, "bench": bench}


def render(tmp_path: Path, *runs: Path) -> tuple[str, Page]:
    out = tmp_path / "report.html"
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    return html, Page(html)


def test_single_run_scores_match_summary(tmp_path, scored):
    html, page = render(tmp_path, scored["good"])
    summary = json.loads((scored["good"] / "score" / "summary.json").read_text())
    text = " ".join(page.text)
    assert f"{summary['overall']['percent']:.2f}%" in text
    assert f"{summary['weighted']['percent']:.2f}%" in text
    assert f"{summary['by_category']['hipaa']['percent']:.2f}" in text
    assert "Leaderboard" not in text
    assert "CT/missing.dcm" in text and "Missing attribute Type 1" in text


def test_dicom_values_are_escaped(tmp_path, scored):
    html, page = render(tmp_path, scored["good"])
    assert EVIL not in html
    assert "&lt;script&gt;alert(" in html
    assert all("alert('phi')" not in s for s in page.scripts)
    assert "extra<b>.dcm" not in html and "extra&lt;b&gt;.dcm" in html


def test_pixel_failure_has_before_and_after_thumbnails(tmp_path, scored):
    _, page = render(tmp_path, scored["good"])
    figures = [a for a in page.attrs("figure") if a.get("data-check") == "pix1"]
    images = [a["src"] for a in page.attrs("img") if a["src"].startswith("data:image/png;base64,")]
    assert figures and len(images) == 2


def test_no_external_urls(tmp_path, scored):
    _, page = render(tmp_path, scored["good"], scored["floor"], scored["missing"])
    urls = [v for _, a in page.tags for k, v in a.items() if k in ("src", "href", "action")]
    assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))]


def test_leaderboard_order_links_and_failed_run(tmp_path, scored):
    _, page = render(tmp_path, scored["floor"], scored["missing"], scored["good"])
    rows = [a for a in page.attrs("tr") if "data-anchor" in a]
    anchors = [a["data-anchor"] for a in rows]
    assert [a.split("-", 2)[2] for a in anchors] == ["dicognito", "identity", "pixelmed"]
    ids = {a.get("id") for _, a in page.tags}
    links = {a["href"][1:] for a in page.attrs("a") if a.get("href", "").startswith("#")}
    assert set(anchors) <= ids and set(anchors) <= links
    assert "status-unavailable" in rows[-1]["class"]


def test_plain_scored_folder_and_score_folder_load(tmp_path, scored):
    plain = make_run(tmp_path / "plain", "plain", [check_row("a", True)], run_json=False)
    assert load_run(plain).status == "ok" and load_run(plain).tool["name"] == "plain"
    assert load_run(scored["good"] / "score").root == scored["good"]
    html, _ = render(tmp_path, plain)
    assert "100.00%" in html


def test_not_a_run_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r.html")]) == 2
    assert "neither a run folder" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_bootstrap_interval_is_seeded_and_brackets_the_score(scored):
    runs = load_runs([scored["good"], scored["floor"]])
    board = build_leaderboard(runs)
    top = board[0]
    assert top.ci[0] <= top.score <= top.ci[1]
    assert bootstrap_interval([1, 2, 3], [2, 2, 4]) == bootstrap_interval([1, 2, 3], [2, 2, 4])
    assert bootstrap_interval([5, 5], [5, 5]) == (100.0, 100.0)
    assert bootstrap_interval([], []) is None


def test_markdown_leaderboard(tmp_path, scored):
    md = tmp_path / "board.md"
    out = tmp_path / "board.html"
    assert main(["report", str(scored["floor"]), str(scored["good"]), "--out", str(out),
                 "--markdown", str(md)]) == 0
    lines = [line for line in md.read_text().splitlines() if line.startswith("| ")]
    assert lines[1].startswith("| 1 | dicognito") and lines[2].startswith("| 2 | identity")


def test_leaderboard_cells_match_each_summary(tmp_path, scored):
    _, page = render(tmp_path, scored["good"], scored["floor"])
    text = page.text
    for run in (scored["good"], scored["floor"]):
        summary = json.loads((run / "score" / "summary.json").read_text())
        assert f"{summary['overall']['percent']:.2f}" in text
        assert f"{summary['weighted']['percent']:.2f}" in text


def test_rejected_and_unreadable_outputs_are_listed_escaped(tmp_path, scored):
    """File names in a submission are hostile input too: listed with their reason, as text."""
    summary_path = scored["good"] / "score" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["matching"]["rejected_outputs"] = [{"file": EVIL + ".dcm", "reason": "symbolic link to outside the submission"}]
    summary["matching"]["unreadable_outputs"] = [{"file": "junk.dcm", "reason": "not a DICOM dataset"}]
    summary_path.write_text(json.dumps(summary))
    html, page = render(tmp_path, scored["good"])
    text = " ".join(page.text)
    assert "rejected outputs" in text and "junk.dcm: not a DICOM dataset" in text
    assert EVIL + ".dcm: symbolic link to outside the submission" in text
    assert not any("alert('phi')" in s for s in page.scripts)


def test_markdown_cells_from_a_tool_are_escaped() -> None:
    """A tool names itself and its version: raw HTML in the .md ran where it was shown."""
    from midib.report.leaderboard import BoardRow, leaderboard_markdown
    row = BoardRow(rank=1, label="<script>alert(1)</script>", anchor="a", tool="x",
                   version="1.0 | evil\nrow", status="ok", score=50.0, ci=None, weighted=None)
    md = leaderboard_markdown([row])
    assert "<script>" not in md and "&lt;script&gt;" in md
    body = [line for line in md.splitlines() if line.startswith("| 1 ")]
    assert len(body) == 1 and body[0].count(" | ") == md.splitlines()[2].count(" | ")
