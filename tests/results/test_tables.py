import pandas as pd
import pytest

from bench.errors import BenchError
from bench.execute.runner import run_spec
from bench.results.tables import export_tables
from bench.spec import validate_spec


def test_records_and_points_tables_agree_with_the_points(tmp_path):
    spec = validate_spec({
        "name": "rec",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": 3, "width": 64, "height": 64, "root": str(tmp_path / "data")}},
        "codecs": [{"name": "q", "type": "fake_codecs:QuantZlibCodec", "points": [4, 32]}],
        "execute": {"executor": "serial", "shard_size": 2},
    })
    out = run_spec(spec, tmp_path / "results", None, progress=False)
    written = dict(export_tables("rec", tmp_path / "results", tmp_path / "r.parquet", tmp_path / "p.csv"))
    records = pd.read_parquet(written["records"])
    points = pd.read_csv(written["points"])
    assert len(records) == 6 and set(records["status"]) == {"ok"}
    for p in out.points:
        mine = records[records["point"] == p.point.value]
        assert mine["bits"].sum() / mine["pixels"].sum() == pytest.approx(p.bpp)
        assert mine["psnr_rgb"].mean() == pytest.approx(p.metrics["psnr_rgb"])
        row = points[points["point"] == p.point.value].iloc[0]
        assert row["bpp"] == pytest.approx(p.bpp) and row["psnr_rgb"] == pytest.approx(p.metrics["psnr_rgb"])
    with pytest.raises(BenchError, match="csv or .parquet"):
        export_tables("rec", tmp_path / "results", tmp_path / "r.xlsx", None)
