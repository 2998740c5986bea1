"""JUnit XML for ``midib compare --junit``: CI shows a new leak as a failed test.

One ``testcase`` per check group (attribute x action) of the NEW run; a group with newly
failing checks gets a ``failure`` element listing them (expected and observed values), so the
CI page names the leaking attribute. Checks that already failed in BASE are reported in
``system-out`` only: the gate is about regressions, not the tool's known gaps.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from midib.errors import MidibError
from midib.report.compare import CheckGroup, Comparison

MAX_LISTED = 50     # checks spelled out per failure element


def _failure_text(group: CheckGroup) -> str:
    lines = [f"{r['check_id']}: expected {r['expected']} observed {r['observed']} {r['reason']}".rstrip()
             for r in group.new_failures[:MAX_LISTED]]
    if len(group.new_failures) > MAX_LISTED:
        lines.append(f"... and {len(group.new_failures) - MAX_LISTED} more")
    return "\n".join(lines)


def junit_tree(cmp: Comparison) -> ET.ElementTree:
    """The XML tree: one testsuite, one testcase per group."""
    failures = sum(1 for g in cmp.groups if g.new_failures)
    suites = ET.Element("testsuites", name="midib compare", tests=str(len(cmp.groups)),
                        failures=str(failures), errors="0")
    suite = ET.SubElement(suites, "testsuite", name="midib.compare", tests=str(len(cmp.groups)),
                          failures=str(failures), errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    for name, value in (("base", cmp.base), ("new", cmp.new), ("checks", str(cmp.n_checks))):
        ET.SubElement(props, "property", name=name, value=value)
    for g in cmp.groups:
        case = ET.SubElement(suite, "testcase", classname=f"midib.{g.action}",
                             name=f"{g.attribute} [{g.action}]")
        if g.new_failures:
            failure = ET.SubElement(case, "failure", type="NewFailure",
                                    message=f"{len(g.new_failures)} of {g.total} checks newly failing")
            failure.text = _failure_text(g)
        if g.still_failing or g.fixed:
            out = ET.SubElement(case, "system-out")
            out.text = (f"{len(g.still_failing)} checks still failing (already failing in base); "
                        f"{len(g.fixed)} fixed")
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(cmp: Comparison, path: Path) -> Path:
    """Write the JUnit file (parent folder created)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        junit_tree(cmp).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as e:
        raise MidibError(f"cannot write JUnit file {path}: {e.strerror}") from e
    return path
