"""`icm-bench eval kitti` on label directories written under tmp_path."""

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import BenchError
from bench.metrics.kitti import evaluate_label_dirs, kitti_evaluate
from bench.metrics.kitti_io import read_label_file, write_label_file


def car(slot, height=50.0):
    return ["Car", 0.0, 0, 0.1, 100.0 * slot, 100.0, 100.0 * slot + 60, 100.0 + height,
            1.5, 1.6, 3.9, 10.0 * slot, 1.6, 20.0, 0.2]


def write_frames(tmp_path, n_frames=7, per_frame=6, drop=()):
    labels, preds = tmp_path / "label_2", tmp_path / "pred"
    labels.mkdir()
    preds.mkdir()
    for f in range(n_frames):
        rows = [car(f * per_frame + k) for k in range(per_frame)]
        gt_lines = [" ".join(map(str, r)) for r in rows]
        dt_lines = [ln + f" {0.9 - 0.01 * i}" for i, ln in enumerate(gt_lines)
                    if (f, i) not in drop]
        (labels / f"{f:06d}.txt").write_text("\n".join(gt_lines) + "\n")
        (preds / f"{f:06d}.txt").write_text("\n".join(dt_lines) + ("\n" if dt_lines else ""))
    return labels, preds


def test_json_output_has_the_documented_layout(tmp_path):
    labels, preds = write_frames(tmp_path)  # 42 cars, all found
    out = CliRunner().invoke(app, ["eval", "kitti", str(labels), str(preds), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert list(data) == ["Car", "Pedestrian", "Cyclist"]
    assert list(data["Car"]) == ["bbox", "bev", "3d", "aos"]
    assert list(data["Car"]["3d"]) == ["easy", "moderate", "hard"]
    assert data["Car"]["3d"]["moderate"] == pytest.approx({"R40": 100.0, "R11": 100.0})


def test_ids_file_overlaps_and_table(tmp_path):
    labels, preds = write_frames(tmp_path, drop={(0, 0)})
    ids = tmp_path / "val.txt"
    ids.write_text("000000\n000001\n")
    out = CliRunner().invoke(app, ["eval", "kitti", str(labels), str(preds), "--ids", str(ids),
                                   "--overlaps", "loose"])
    assert out.exit_code == 0, out.output
    assert "Car  (IoU > bbox 0.70, bev 0.50, 3d 0.50)" in out.output
    assert "R40 easy" in out.output
    gts = [read_label_file(labels / f"00000{i}.txt") for i in (0, 1)]
    dts = [read_label_file(preds / f"00000{i}.txt") for i in (0, 1)]
    expected = kitti_evaluate(gts, dts, overlaps="loose")
    assert evaluate_label_dirs(labels, preds, ids, "loose") == expected
    assert f"{expected['Car']['bev']['easy']['R40']:9.4f}" in out.output


def test_files_round_trip_to_the_same_result(tmp_path):
    labels, preds = write_frames(tmp_path, drop={(1, 2), (3, 0)})
    direct = evaluate_label_dirs(labels, preds)
    again = tmp_path / "again"
    again.mkdir()
    for path in sorted(preds.glob("*.txt")):
        write_label_file(again / path.name, read_label_file(path))
    assert evaluate_label_dirs(labels, again) == direct
    assert direct["Car"]["bbox"]["easy"]["R40"] < 100.0


def test_user_errors(tmp_path):
    labels, preds = write_frames(tmp_path)
    (preds / "000003.txt").unlink()
    with pytest.raises(BenchError, match="000003.txt"):
        evaluate_label_dirs(labels, preds)
    (preds / "000003.txt").write_text(" ".join(map(str, car(0))) + "\n")  # no score column
    with pytest.raises(BenchError, match="16th column"):
        evaluate_label_dirs(labels, preds)
    with pytest.raises(BenchError, match="overlaps"):
        evaluate_label_dirs(labels, preds, overlaps="tight")
