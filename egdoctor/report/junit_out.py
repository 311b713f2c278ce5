"""`-o junit`: JUnit XML for CI servers (Jenkins, GitLab, GitHub test reporters).

One testsuite per check; in it one testcase per object the check has findings about, and one passing
testcase for the check's other objects. A testcase fails when one of its findings is at or above
`--fail-on`, so the test report and the exit code agree; findings below it are written to the
testcase's system-out. The failure carries the codes, messages and fixes. A check that could not run is
a skipped testcase that says why.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from egdoctor.report.document import Document, finding_object_name
from egdoctor.report.safe_text import MESSAGE_LIMIT, clean

_RANK = {"info": 0, "warning": 1, "error": 2}
# XML 1.0 allows neither surrogates nor U+FFFE/U+FFFF; `clean` already shows the C0/C1 controls as escapes
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", clean(value, MESSAGE_LIMIT))


def _fails(finding: Mapping[str, Any], fail_on: str) -> bool:
    return fail_on != "none" and _RANK[finding["severity"]] >= _RANK[fail_on]


def _finding_block(f: Mapping[str, Any]) -> str:
    lines = [f"{f['code']} {f['severity']}: {_text(f['message'])}", f"  fix: {_text(f['hint'])}"]
    cause = f.get("causedBy")
    if cause:
        lines.append(f"  caused by {cause['code']}")
    if f.get("fix"):
        lines.append(f"  command: {_text(f['fix']['command'])}")
    if f.get("recordedAt"):
        lines.append(
            f"  recorded evidence: probe result recorded at {_text(f['recordedAt'])}, read from a bundle"
        )
    return "\n".join(lines)


def _testcase(
    suite: ET.Element, check: str, name: str, findings: Sequence[Mapping[str, Any]], fail_on: str
) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=f"egdoctor.{check}", name=_text(name), time="0")
    failing = [f for f in findings if _fails(f, fail_on)]
    if failing:
        first = failing[0]
        failure = ET.SubElement(
            case,
            "failure",
            type=first["code"],
            message=_text(f"{first['code']}: {first['message']}"),
        )
        failure.text = "\n".join(_finding_block(f) for f in failing)
    passing = [f for f in findings if not _fails(f, fail_on)]
    if passing:
        ET.SubElement(case, "system-out").text = "\n".join(_finding_block(f) for f in passing)
    return case


def junit_tree(doc: Document) -> ET.Element:
    data = doc.data
    fail_on = data["summary"]["failOn"]
    by_check: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for f in data["findings"]:
        by_check.setdefault(f["check"] or "access", {}).setdefault(finding_object_name(f), []).append(f)
    skipped: Mapping[str, str] = data.get("skippedChecks") or {}
    checks = list(dict.fromkeys([*doc.checks_run, *skipped, *by_check]))
    if data.get("probes") or "probe" in by_check:
        checks = list(dict.fromkeys([*checks, "probe"]))
    root = ET.Element("testsuites", name="egdoctor")
    for check in checks:
        suite = ET.SubElement(root, "testsuite", name=f"egdoctor.{check}")
        if check in skipped:
            case = _testcase(suite, check, f"check {check}", [], fail_on)
            ET.SubElement(case, "skipped", message=_text(skipped[check]))
        for name, findings in by_check.get(check, {}).items():
            _testcase(suite, check, name, findings, fail_on)
        if check not in skipped:
            others = "every other object" if check in by_check else "every object"
            _testcase(suite, check, f"{others} passes {check}", [], fail_on)
        _count(suite)
    _suppressed_suite(root, data)
    _what_if_suite(root, data)
    # the Jenkins/Ant shape has no `skipped` on <testsuites>: only the suites count them
    for attr in ("tests", "failures", "errors"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    root.set("time", "0")
    return root


def _suppressed_suite(root: ET.Element, data: Mapping[str, Any]) -> None:
    """Suppressed findings as skipped testcases saying which rule silenced them, and the number of
    findings below --min-severity, so that a CI dashboard shows what was chosen not to fail."""
    suppressed = data.get("suppressed") or []
    hidden = data["summary"].get("belowMinSeverity") or 0
    if not suppressed and not hidden:
        return
    suite = ET.SubElement(root, "testsuite", name="egdoctor.suppressed")
    for s in suppressed:
        name = f"{s['code']} {finding_object_name(s)}"
        case = ET.SubElement(suite, "testcase", classname="egdoctor.suppressed", name=_text(name), time="0")
        ET.SubElement(case, "skipped", message=_text(f"suppressed by {s['rule']}: {s['message']}"))
    if hidden:
        name = f"{hidden} finding{'s' if hidden != 1 else ''} below --min-severity"
        case = ET.SubElement(suite, "testcase", classname="egdoctor.suppressed", name=name, time="0")
        ET.SubElement(case, "skipped", message="not shown (--min-severity); still counted by --fail-on")
    _count(suite)


def _what_if_suite(root: ET.Element, data: Mapping[str, Any]) -> None:
    """--with-file: one testcase per finding the change would bring (failing at or above --fail-on) and
    one passing testcase per finding it would end."""
    what = data.get("whatIf")
    if not what:
        return
    fail_on = data["summary"]["failOn"]
    suite = ET.SubElement(root, "testsuite", name="egdoctor.what-if")
    for f in what["appear"]:
        _testcase(suite, "what-if", f"would appear: {f['code']} {finding_object_name(f)}", [f], fail_on)
    for f in what["goAway"]:
        case = _testcase(
            suite, "what-if", f"would go away: {f['code']} {finding_object_name(f)}", [], fail_on
        )
        ET.SubElement(case, "system-out").text = _finding_block(f)
    if not what["appear"] and not what["goAway"]:
        _testcase(suite, "what-if", "the change brings no finding and ends none", [], fail_on)
    _count(suite)


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", "0")
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", "0")


def render_junit(doc: Document, out: TextIO | None = None) -> None:
    tree = junit_tree(doc)
    ET.indent(tree)
    stream = out or sys.stdout
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(tree, encoding="unicode"))
    stream.write("\n")
