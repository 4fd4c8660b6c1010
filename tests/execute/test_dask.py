import pytest

from bench.execute.executors import LOCAL_CLUSTER_CONFIG, make_executor
from bench.execute.runner import run_spec
from bench.spec import validate_spec


def test_dask_local_cluster_runs_the_spec(tmp_path):
    raw = {
        "name": "d",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": 4, "width": 64, "height": 64, "root": str(tmp_path / "data")}},
        "codecs": [{"name": "id", "type": "identity", "points": [0]}],
        "execute": {"executor": "dask", "workers": 2, "shard_size": 2},
    }
    out = run_spec(validate_spec(raw), tmp_path / "results", None, progress=False)
    assert out.jobs_run == 2 and out.jobs_failed == 0
    (p,) = out.points
    assert p.bpp == pytest.approx(24.0)
    assert p.complete


def _worker_settings():
    import dask

    return {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}


def test_the_local_cluster_runs_without_the_dashboard_samplers():
    with make_executor("dask", 1) as (ex, n):
        settings = ex.submit(_worker_settings).result(timeout=60)
    assert n == 1
    assert settings == LOCAL_CLUSTER_CONFIG
    assert settings["distributed.worker.profile.enabled"] is False
