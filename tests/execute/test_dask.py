import pytest

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
