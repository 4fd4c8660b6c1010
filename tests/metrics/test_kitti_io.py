"""KITTI label files: reading, writing and the errors a user sees."""

import numpy as np
import pytest

from bench.errors import DatasetError
from bench.metrics import MetricError
from bench.metrics.kitti_io import (
    check_anno,
    empty_anno,
    label_dir_ids,
    read_label_dir,
    read_label_file,
    write_label_file,
)

GT_LINES = (
    "Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"
    "Pedestrian 0.30 1 0.21 423.17 173.67 433.17 224.03 1.60 0.39 0.64 -5.28 1.56 29.80 0.03\n"
    "DontCare -1 -1 -10 0.00 183.53 169.97 229.78 -1 -1 -1 -1000 -1000 -1000 -10\n"
)


def test_ground_truth_file_has_no_score_and_keeps_label_order(tmp_path):
    path = tmp_path / "000001.txt"
    path.write_text(GT_LINES)
    anno = read_label_file(path)
    assert "score" not in anno
    assert list(anno["name"]) == ["Car", "Pedestrian", "DontCare"]
    assert anno["occluded"].dtype.kind == "i" and anno["occluded"][1] == 1
    assert anno["bbox"][0] == pytest.approx([587.01, 173.33, 614.12, 200.12])
    assert anno["dimensions"][0] == pytest.approx([1.65, 1.67, 3.64])  # h, w, l
    assert anno["location"][1] == pytest.approx([-5.28, 1.56, 29.80])
    assert anno["rotation_y"] == pytest.approx([-1.59, 0.03, -10])


def test_detection_file_round_trips_with_its_score(tmp_path):
    path = tmp_path / "det.txt"
    path.write_text("".join(ln.rstrip("\n") + " 0.875\n" for ln in GT_LINES.splitlines()))
    anno = read_label_file(path)
    assert anno["score"] == pytest.approx([0.875] * 3)
    out = tmp_path / "again.txt"
    write_label_file(out, anno)
    again = read_label_file(out)
    for key, value in anno.items():
        assert np.array_equal(again[key], value), key
    assert all(len(line.split()) == 16 for line in out.read_text().splitlines())


def test_ground_truth_is_written_with_15_columns(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(GT_LINES)
    write_label_file(tmp_path / "out.txt", read_label_file(path))
    assert all(len(ln.split()) == 15 for ln in (tmp_path / "out.txt").read_text().splitlines())


def test_empty_file_and_empty_anno(tmp_path):
    (tmp_path / "e.txt").write_text("\n")
    anno = read_label_file(tmp_path / "e.txt")
    assert len(anno["name"]) == 0 and anno["bbox"].shape == (0, 4)
    write_label_file(tmp_path / "w.txt", empty_anno())
    assert (tmp_path / "w.txt").read_text() == ""


@pytest.mark.parametrize("text,match", [
    ("Car 0 0 0 1 2 3 4 1 1 1 0 0 0\n", "has 14 columns"),
    (GT_LINES.splitlines()[0] + " 0.9\n" + GT_LINES.splitlines()[1] + "\n", "same in every line"),
    ("Car zero 0 0 1 2 3 4 1 1 1 0 0 0 0\n", "numeric"),
])
def test_malformed_files_name_the_file(tmp_path, text, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DatasetError, match=match) as err:
        read_label_file(path)
    assert "bad.txt" in str(err.value)


def test_missing_file_and_directory_are_user_errors(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_label_file(tmp_path / "nope.txt")
    with pytest.raises(DatasetError, match="does not exist"):
        label_dir_ids(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="no KITTI label files"):
        label_dir_ids(tmp_path)


def test_label_dir_ids_and_missing_predictions(tmp_path):
    for i in ("000002", "000000", "000001"):
        (tmp_path / f"{i}.txt").write_text(GT_LINES)
    assert label_dir_ids(tmp_path) == ["000000", "000001", "000002"]
    ids_file = tmp_path / "val.ids"
    ids_file.write_text("000001\n000002\n")
    assert label_dir_ids(tmp_path, ids_file) == ["000001", "000002"]
    preds = tmp_path / "preds"
    preds.mkdir()
    with pytest.raises(DatasetError, match="2 label file"):
        read_label_dir(preds, ["000001", "000002"])


def test_check_anno_rejects_inconsistent_rows():
    anno = empty_anno()
    anno["name"] = np.array(["Car"], dtype=object)
    with pytest.raises(MetricError, match="'truncated' has 0 rows"):
        check_anno(anno, need_score=True, source="frame 0")
