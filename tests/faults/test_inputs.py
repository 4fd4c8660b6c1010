"""Bad inputs: missing, corrupt and truncated images fail their items visibly (the run
exits 1 unless --allow-failures, the reasons name the files); corrupt, truncated or
inconsistent annotation files stop the run at planning with one line."""

import json
import shutil

import pytest
from faultkit import one_line_error, points_json, run_cli, write_spec

from bench.datasets.coco import CocoDataset
from bench.datasets.synthetic_coco import SyntheticCocoDataset
from bench.errors import DatasetError


@pytest.fixture
def coco_copy(tmp_path):
    """A 4-image COCO-format set (annotations.json + images/) we may damage."""
    src = SyntheticCocoDataset(n_images=4, width=64, height=64, root=tmp_path / "gen")
    dst = tmp_path / "coco"
    shutil.copytree(src.set_dir, dst)
    return dst


def coco_spec(tmp_path, root, name="bad"):
    return write_spec(tmp_path, {
        "name": name,
        "dataset": {"type": "coco", "params": {"annotations": str(root / "annotations.json"),
                                               "images": str(root / "images")}},
        "codecs": [{"name": "q", "type": "fake_codecs:QuantZlibCodec", "points": [8]}],
        "execute": {"executor": "serial", "shard_size": 1},
        "report": {"formats": ["md"]},
    })


def run(tmp_path, spec, *extra):
    return run_cli("run", str(spec), "--results-dir", str(tmp_path / "r"),
                   "--reports-dir", str(tmp_path / "rep"), *extra)


def test_missing_image_stops_planning_with_one_line(tmp_path, coco_copy):
    """Planning hashes every image (the dataset's fingerprint): a missing one is named."""
    missing = sorted((coco_copy / "images").iterdir())[0]
    missing.unlink()
    proc = run(tmp_path, coco_spec(tmp_path, coco_copy))
    assert proc.returncode != 0
    line = one_line_error(proc.stderr)
    assert str(missing) in line and "No such file" in line


def test_corrupt_and_truncated_images_fail_their_items_visibly(tmp_path, coco_copy):
    images = sorted((coco_copy / "images").iterdir())
    images[1].write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)   # corrupt
    data = images[2].read_bytes()
    images[2].write_bytes(data[: len(data) // 2])      # truncated
    spec = coco_spec(tmp_path, coco_copy)
    proc = run(tmp_path, spec)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Failed jobs" in proc.stderr and "2 job(s) failed" in proc.stderr
    for path in images[1:3]:
        assert path.name in proc.stderr  # each reason names its file
    show = run_cli("show", "bad", "--results-dir", str(tmp_path / "r"))
    assert "cannot read image" in show.stdout
    (point,) = points_json(tmp_path / "r", "bad")
    assert point["complete"] is False
    assert sum(f["n_items"] for f in point["failures"]) == 2
    again = run(tmp_path, spec, "--allow-failures")
    assert again.returncode == 0, again.stderr


def test_truncated_annotation_file_is_one_line(tmp_path, coco_copy):
    ann = coco_copy / "annotations.json"
    text = ann.read_text()
    ann.write_text(text[: len(text) // 2])
    proc = run(tmp_path, coco_spec(tmp_path, coco_copy))
    assert proc.returncode == 2
    line = one_line_error(proc.stderr)
    assert "cannot read COCO annotations" in line and str(ann) in line


@pytest.mark.parametrize("damage,words", [
    (lambda d: d["annotations"][0].update(category_id=999), "category id that is not in"),
    (lambda d: d["annotations"][0].update(image_id=123456), "image id that is not in"),
    (lambda d: d.update(images="not a list"), "'images' must be a list"),
    (lambda d: d["categories"][0].pop("id"), "categories[0] has no 'id'"),
    (lambda d: d["annotations"][0].pop("bbox"), "needs a .bbox. of 4 numbers"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, "x", 4]), "needs a .bbox. of 4 numbers"),
])
def test_inconsistent_annotations_are_refused(tmp_path, coco_copy, damage, words):
    ann = coco_copy / "annotations.json"
    data = json.loads(ann.read_text())
    damage(data)
    ann.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=words.replace("[", r"\[").replace("]", r"\]")):
        CocoDataset(annotations=ann, images=coco_copy / "images").ids()


def test_unknown_category_stops_the_run_with_one_line(tmp_path, coco_copy):
    ann = coco_copy / "annotations.json"
    data = json.loads(ann.read_text())
    data["annotations"][0]["category_id"] = 999
    ann.write_text(json.dumps(data))
    proc = run(tmp_path, coco_spec(tmp_path, coco_copy))
    assert proc.returncode == 2
    assert "category id" in one_line_error(proc.stderr)
