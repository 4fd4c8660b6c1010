"""Progress lines and the per-codec ETA (no timing: durations are given)."""

import io

import pytest

from bench.execute.job import Job
from bench.execute.progress import EtaModel, Progress, announce, job_group


def job(label, value, shard=0):
    return Job(key=f"{label}{value}{shard}", label=label, codec={},
               point={"kind": "qp", "value": value}, dataset={}, item_ids=[], tasks=[], shard=shard)


def test_eta_uses_the_point_then_the_codec_then_any_job():
    groups = [("a", "qp=1")] * 3 + [("a", "qp=2")] * 2 + [("b", "qp=1")] * 4
    model = EtaModel(groups, workers=2)
    assert model.eta_s() is None
    model.finished(("a", "qp=1"), 10.0)
    # remaining: a/1 x2 (10 each), a/2 x2 (codec a: 10), b/1 x4 (any job: 10) -> 80 / 2
    assert model.eta_s() == pytest.approx(40.0)
    model.finished(("b", "qp=1"), 2.0)
    # a/1 x2 = 20, a/2 x2 = 20 (codec a), b/1 x3 = 6 -> 46 / 2
    assert model.eta_s() == pytest.approx(23.0)
    model.finished(("a", "qp=2"), 4.0)
    assert model.estimate(("a", "qp=2")) == 4.0 and model.estimate(("a", "qp=9")) == 7.0
    assert model.eta_s() == pytest.approx((2 * 10 + 1 * 4 + 3 * 2) / 2)


def test_lines_start_at_once_and_carry_the_eta():
    out = io.StringIO()
    jobs = [job("a", 1, s) for s in range(4)]
    bar = Progress(4, stream=out, jobs=jobs, workers=1, stored=2)
    assert out.getvalue().startswith("running 4 job(s) (2 already stored)")
    bar.advance("a qp=1 #0", job=jobs[0], seconds=30.0)
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("[1/4] a qp=1 #0 ok") and last.endswith("ETA 1m30s")
    bar.set_workers(3)
    bar.advance("a qp=1 #1", ok=False, job=jobs[1], seconds=30.0)
    assert out.getvalue().splitlines()[-1].endswith("FAILED  elapsed 0m00s  ETA 0m20s")
    assert bar.failed == 1 and bar.first_result_s is not None


def test_without_jobs_the_eta_is_the_mean_rate():
    bar = Progress(3, stream=io.StringIO())
    assert bar.eta_s() is None
    bar.advance("x")
    assert bar.eta_s() is not None and bar.eta_s() >= 0


def test_disabled_progress_is_silent():
    out = io.StringIO()
    bar = Progress(2, stream=out, enabled=False, jobs=[job("a", 1)])
    bar.advance("x", job=job("a", 1), seconds=1.0)
    bar.close()
    assert out.getvalue() == ""


def test_announce_and_groups():
    out = io.StringIO()
    announce("planning run demo", out)
    assert out.getvalue() == "planning run demo\n"
    assert job_group(job("vvenc", 22)) == ("vvenc", "qp=22")


def test_first_jobs_of_workers_are_corrected_for_start_up():
    model = EtaModel([("a", "qp=1")] * 4 + [("b", "qp=1")] * 4, workers=1)
    model.finished(("a", "qp=1"), 25.0, cold=True)  # 20 s of start-up + 5 s of work
    assert model.setup_s() is None and model.estimate(("b", "qp=1")) == 25.0  # nothing better
    model.finished(("b", "qp=1"), 24.0, cold=True)
    model.finished(("a", "qp=1"), 5.0)
    assert model.setup_s() == pytest.approx(20.0)  # 25 - 5: the only cold job with a warm mate
    # a: (25 - 20 + 5) / 2 = 5; b: 24 - 20 = 4
    assert model.estimate(("a", "qp=1")) == pytest.approx(5.0)
    assert model.estimate(("b", "qp=1")) == pytest.approx(4.0)
    assert model.eta_s() == pytest.approx(2 * 5.0 + 3 * 4.0)


def test_progress_marks_each_workers_first_job_cold():
    jobs = [job("a", 1, s) for s in range(4)]
    bar = Progress(4, stream=io.StringIO(), jobs=jobs)
    bar.advance("x", job=jobs[0], seconds=30.0, worker="h:1")
    bar.advance("x", job=jobs[1], seconds=10.0, worker="h:1")
    bar.advance("x", job=jobs[2], seconds=32.0, worker="h:2")
    assert [cold for _, _, cold in bar.model.samples] == [True, False, True]
