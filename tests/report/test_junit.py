"""JUnit XML of a comparison: one test case per codec x metric, marks per verdict."""

import xml.etree.ElementTree as ET

from bench.analysis.compare import Comparison, Verdict
from bench.report.junit import write_junit


def test_junit_cases_and_counts(tmp_path):
    result = Comparison("base", "new", 1.0, [
        Verdict("vvenc", "psnr_y", "unchanged", 0.1),
        Verdict("x265", "psnr_y", "worse", 3.25, -5.0, -1.75),
        Verdict("jpeg", "psnr_y", "failed", note="incomplete point(s) in NEW: q=8"),
        Verdict("new-codec", "psnr_y", "not comparable", note="no baseline curve for this codec"),
        Verdict("x265", "ms_ssim", "better", -2.0),
    ])
    path = write_junit(result, tmp_path / "sub" / "gate.xml")
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "5", "1", "1", "1")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    worse = cases[("icm-bench.x265", "psnr_y")]
    assert worse.find("failure").get("message") == "BD-rate +3.25 % against baseline exceeds +1 pp"
    assert "change +3.2500 pp" in worse.find("system-out").text
    assert cases[("icm-bench.jpeg", "psnr_y")].find("error").get("message").startswith("incomplete")
    assert cases[("icm-bench.new-codec", "psnr_y")].find("skipped") is not None
    ok = cases[("icm-bench.x265", "ms_ssim")]
    assert ok.find("failure") is None and ok.find("error") is None and ok.find("skipped") is None
