"""JUnit XML of a baseline comparison, so CI systems list each verdict as a test case.

One test case per codec x metric (classname ``icm-bench.<codec>``, name the metric):
``worse`` is a failure, ``failed`` an error, ``not comparable`` skipped; ``better`` and
``unchanged`` pass. Every case carries its numbers in system-out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from bench.analysis.compare import Comparison, Verdict


def _numbers(v: Verdict, tolerance: float) -> str:
    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.4f}"

    return (
        f"verdict: {v.verdict}\nBD-rate vs baseline: {fmt(v.bd_rate_percent)} % "
        f"(tolerance {tolerance:g} pp)\nBD-rate vs anchor: baseline {fmt(v.anchor_bd_baseline)} %, "
        f"new {fmt(v.anchor_bd_new)} %, change {fmt(v.anchor_delta)} pp\n"
        + (f"note: {v.note}\n" if v.note else "")
    )


def junit_tree(result: Comparison) -> ET.ElementTree:
    """The <testsuites> document of a comparison."""
    suites = ET.Element("testsuites", name="icm-bench compare")
    suite = ET.SubElement(
        suites, "testsuite",
        name=f"icm-bench compare {result.baseline} -> {result.new}",
        tests=str(len(result.verdicts)),
        failures=str(result.count("worse")),
        errors=str(result.count("failed")),
        skipped=str(result.count("not comparable")),
        time="0",
    )
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"icm-bench.{v.codec}", name=v.metric,
                             time="0")
        summary = v.note or v.verdict
        if v.verdict == "worse":
            ET.SubElement(case, "failure", type="worse",
                          message=f"BD-rate {v.bd_rate_percent:+.2f} % against baseline "
                                  f"exceeds +{result.tolerance:g} pp")
        elif v.verdict == "failed":
            ET.SubElement(case, "error", type="failed", message=summary)
        elif v.verdict == "not comparable":
            ET.SubElement(case, "skipped", message=f"not comparable: {summary}")
        ET.SubElement(case, "system-out").text = _numbers(v, result.tolerance)
    return ET.ElementTree(suites)


def write_junit(result: Comparison, path: str | Path) -> Path:
    """Write the JUnit XML of `result` to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_tree(result)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
