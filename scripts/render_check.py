#!/usr/bin/env python3
"""Open a midib HTML report in headless Chromium: screenshot, console errors, network requests.

Usage: scripts/render_check.py REPORT.html [--png OUT.png] [--width 1400] [--height 2400]

Why this way: playwright is not installed, so we drive Debian's /usr/bin/chromium directly.
1. Static check: no http(s):// or protocol-relative URL in any src/href/action attribute or CSS
   url(), so the page cannot ask another host for anything.
2. Dynamic check: a copy of the page gets a tiny probe script as its first element, which tags
   console.error/warn output and uncaught errors, and on load lists every resource the page
   fetched (Performance API). Chromium runs with every host name mapped to NOTFOUND and verbose
   logging; tagged console lines, "Uncaught" errors, resources other than file:/data: and any
   URL request in the network log to a host other than Chromium's own background services
   (update, accounts: the browser's, not the page's) are reported.
Exit status: 0 clean, 1 problems found, 2 could not run Chromium.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=1",
         "--hide-scrollbars"]
BROWSER_OWN = re.compile(r"https?://[^/]*(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)/")
PROBE = """<script>(function () {
  var log = console.log.bind(console);
  ["error", "warn"].forEach(function (k) { console[k] = function () {
    log("MIDIB-CONSOLE-" + k.toUpperCase() + ": " + Array.prototype.join.call(arguments, " ")); }; });
  window.addEventListener("error", function (e) { log("MIDIB-CONSOLE-ERROR: " + e.message); });
  window.addEventListener("load", function () {
    performance.getEntriesByType("resource").forEach(function (r) { log("MIDIB-RESOURCE: " + r.name); });
  });
})();</script>"""
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)


class _Links(HTMLParser):
    """Collects every URL-carrying attribute value and inline style url()."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data", "xlink:href") and value:
                self.urls.append(value)


def external_urls(html: str) -> list[str]:
    """URLs in the page that would reach another host."""
    parser = _Links()
    parser.feed(html)
    css_urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", html)
    return [u for u in parser.urls + css_urls if EXTERNAL.match(u)]


def run_chromium(page: Path, png: Path, width: int, height: int) -> tuple[int, str]:
    """Screenshot a probed copy of the page (same folder: same relative URLs); return (code, log)."""
    probed = page.with_name(f".{page.stem}.render-check.html")
    probed.write_text(PROBE + page.read_text(encoding="utf-8"), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="midib-chromium-") as profile:
            cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                   f"--screenshot={png.resolve()}", probed.resolve().as_uri()]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        probed.unlink(missing_ok=True)
    return proc.returncode, proc.stderr + proc.stdout


def log_problems(log: str) -> list[str]:
    """Console errors and network attempts found in Chromium's log."""
    problems = []
    for line in log.splitlines():
        if "CONSOLE" in line and re.search(r"MIDIB-CONSOLE-|Uncaught", line):
            problems.append("console: " + line.split("] ", 1)[-1].strip())
        elif "MIDIB-RESOURCE:" in line and not re.search(r"MIDIB-RESOURCE: (file|data):", line):
            problems.append("page request: " + line.split("MIDIB-RESOURCE:", 1)[1].split('"')[0].strip())
        elif "NotifyBeforeURLRequest:" in line:
            url = line.split("NotifyBeforeURLRequest:", 1)[1].strip()
            if not url.startswith(("file:", "data:")) and not BROWSER_OWN.match(url):
                problems.append("network: " + url[:200])
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--png", type=Path, help="screenshot path (default: REPORT.png)")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args(argv)
    if not args.html.is_file():
        print(f"render_check: no such file: {args.html}", file=sys.stderr)
        return 2
    png = args.png or args.html.with_suffix(".png")
    problems = [f"external URL: {u}" for u in external_urls(args.html.read_text(encoding="utf-8"))]
    try:
        code, log = run_chromium(args.html, png, args.width, args.height)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"render_check: cannot run {CHROMIUM}: {e}", file=sys.stderr)
        return 2
    problems += log_problems(log)
    if code != 0 or not png.is_file():
        print(f"render_check: chromium exited {code} without a screenshot", file=sys.stderr)
        return 2
    print(f"screenshot: {png}")
    for p in problems:
        print(p)
    print("clean: no console errors, no external requests" if not problems
          else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
