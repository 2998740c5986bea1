"""scripts/render_check.py: the static URL scan, and a real headless Chromium pass when installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from midib.cli import main
from test_report_support import check_row, make_run

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "render_check.py"


@pytest.fixture(scope="module")
def render_check():
    spec = importlib.util.spec_from_file_location("render_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_static_scan_finds_external_urls(render_check):
    html = ('<img src="data:image/png;base64,AA"><a href="#run-1">x</a>'
            '<script src="https://cdn.example/x.js"></script><link href="//fonts.example/f.css">'
            '<style>body{background:url("http://e.example/b.png")}</style>')
    assert sorted(render_check.external_urls(html)) == [
        "//fonts.example/f.css", "http://e.example/b.png", "https://cdn.example/x.js"]


def test_log_scan_reports_console_errors_and_page_requests(render_check):
    log = "\n".join([
        '[1:1:INFO:CONSOLE:3] "MIDIB-CONSOLE-ERROR: boom", source: file:///x.html (3)',
        '[1:1:INFO:CONSOLE:4] "MIDIB-RESOURCE: https://e.example/a.png", source: file:///x.html (4)',
        '[1:1:INFO:CONSOLE:4] "MIDIB-RESOURCE: data:image/png;base64,AA", source: file:///x.html (4)',
        "[1:1:VERBOSE1:network_delegate.cc:38] NetworkDelegate::NotifyBeforeURLRequest: https://update.googleapis.com/x",
        "[1:1:VERBOSE1:network_delegate.cc:38] NetworkDelegate::NotifyBeforeURLRequest: https://e.example/a.png"])
    problems = render_check.log_problems(log)
    assert problems == ["console: \"MIDIB-CONSOLE-ERROR: boom\", source: file:///x.html (3)",
                        "page request: https://e.example/a.png", "network: https://e.example/a.png"]


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium not installed")
def test_report_renders_clean_in_chromium(tmp_path, render_check):
    runs = [make_run(tmp_path / "a", "a", [check_row("x", False, observed="<script>alert(1)</script>")]),
            make_run(tmp_path / "b", "b", [check_row("x", True)])]
    out = tmp_path / "r.html"
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    assert render_check.main([str(out), "--png", str(tmp_path / "r.png"), "--height", "800"]) == 0
    assert (tmp_path / "r.png").stat().st_size > 10_000
