"""Tests for the COCO-format dataset loader."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from bench.datasets.coco import CocoDataset
from bench.errors import DatasetError


def _write_coco(root, modes=("RGB", "L", "CMYK")):
    """A tiny COCO2017-val-like tree: annotations/instances_val2017.json + val2017/."""
    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    images, anns = [], []
    # image ids deliberately not in file order
    for k, (image_id, mode) in enumerate(zip((42, 7, 1000), modes)):
        name = f"{image_id:012d}.jpg"
        colour = {"RGB": (200, 10, 10), "L": 128, "CMYK": (0, 255, 255, 0)}[mode]
        Image.new(mode, (32 + k, 24), colour).save(root / "val2017" / name)
        images.append({"id": image_id, "file_name": name, "width": 32 + k, "height": 24})
        anns.append({"id": k + 1, "image_id": image_id, "category_id": 3, "bbox": [1, 1, 5, 5],
                     "area": 25.0, "iscrowd": 0, "segmentation": [[1, 1, 6, 1, 6, 6, 1, 6]]})
    doc = {"images": images, "annotations": anns,
           "categories": [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}]}
    path = root / "annotations" / "instances_val2017.json"
    path.write_text(json.dumps(doc))
    return path


def test_root_layout_ids_sorted_and_rgb(tmp_path):
    _write_coco(tmp_path)
    ds = CocoDataset(root=tmp_path)
    assert ds.ids() == ["7", "42", "1000"]
    assert ds.category_ids() == [1, 3]
    for item_id in ds.ids():
        sample = ds.load(item_id)
        assert sample.image.dtype == np.uint8 and sample.image.shape[2] == 3
        assert sample.meta["coco_id"] == int(item_id)
    grey = ds.load("7").image  # the "L" JPEG
    assert np.all(np.abs(grey.astype(int) - 128) <= 2)
    cmyk = ds.load("1000").image
    assert cmyk[..., 0].mean() > 200 and cmyk[..., 1].mean() < 60  # cyan-free red -> red


def test_env_var_root(tmp_path, monkeypatch):
    _write_coco(tmp_path)
    monkeypatch.setenv("COCO_ROOT", str(tmp_path))
    assert CocoDataset().ids() == ["7", "42", "1000"]


def test_missing_files_name_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv("COCO_ROOT", raising=False)
    with pytest.raises(DatasetError, match="COCO_ROOT"):
        CocoDataset()
    with pytest.raises(DatasetError, match="instances_val2017.json"):
        CocoDataset(root=tmp_path)
    path = _write_coco(tmp_path / "c")
    with pytest.raises(DatasetError, match="nowhere"):
        CocoDataset(annotations=path, images=tmp_path / "nowhere")


def test_limit_ids_file_and_fingerprint(tmp_path):
    path = _write_coco(tmp_path)
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("# subset\n1000\n7\n")
    ds = CocoDataset(root=tmp_path, ids_file=ids_file)
    assert ds.ids() == ["1000", "7"]
    assert CocoDataset(root=tmp_path, limit=2).ids() == ["7", "42"]
    full = CocoDataset(root=tmp_path)
    expected = hashlib.sha256(path.read_bytes() + b"7\n42\n1000").hexdigest()
    assert full.fingerprint() == expected
    assert ds.fingerprint() != full.fingerprint()


def test_coco_object_is_cached_and_silent(tmp_path, capsys):
    _write_coco(tmp_path)
    a, b = CocoDataset(root=tmp_path), CocoDataset(root=tmp_path, limit=1)
    assert a.coco() is b.coco()
    assert capsys.readouterr().out == ""


def test_unknown_item_and_bad_json(tmp_path):
    path = _write_coco(tmp_path)
    ds = CocoDataset(root=tmp_path)
    with pytest.raises(DatasetError, match="99"):
        ds.load("99")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DatasetError, match="not a COCO instances file"):
        CocoDataset(annotations=bad, images=path.parent).ids()


def test_missing_image_file(tmp_path):
    _write_coco(tmp_path)
    (tmp_path / "val2017" / f"{42:012d}.jpg").unlink()
    with pytest.raises(DatasetError, match="000000000042.jpg"):
        CocoDataset(root=tmp_path).load("42")
