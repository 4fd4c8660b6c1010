import numpy as np
import pytest
from PIL import Image

from bench.datasets.kitti import KittiDataset
from bench.datasets.kitti_calib import format_calib
from bench.datasets.synthetic_kitti import synthetic_calib
from bench.errors import DatasetError

LABEL = ("Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"
         "DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10\n")


def make_kitti(root, ids=("000000", "000001", "000002"), split=("000002", "000000")):
    base = root / "training"
    for sub in ("image_2", "image_3", "calib", "label_2"):
        (base / sub).mkdir(parents=True)
    calib = format_calib(synthetic_calib(64, 32))
    for n, i in enumerate(ids):
        for view, sub in enumerate(("image_2", "image_3")):
            arr = np.full((32, 64, 3), 10 * n + view, dtype=np.uint8)
            Image.fromarray(arr).save(base / sub / f"{i}.png")
        (base / "calib" / f"{i}.txt").write_text(calib)
        (base / "label_2" / f"{i}.txt").write_text(LABEL if n % 2 == 0 else "")
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "val.txt").write_text("\n".join(split) + "\n")
    return root


def test_loads_stereo_pairs_with_calibration_in_split_order(tmp_path):
    ds = KittiDataset(root=make_kitti(tmp_path))
    assert ds.kind == "kitti"
    assert ds.ids() == ["000002", "000000"]
    sample = ds.load("000002")
    assert sample.stereo and sample.images[0].shape == (32, 64, 3)
    assert sample.images[0][0, 0, 0] == 20 and sample.images[1][0, 0, 0] == 21
    assert {"P2", "P3", "R0_rect", "Tr_velo_to_cam"} <= set(sample.calib)
    assert sample.calib["P2"].shape == (3, 4) and sample.calib["R0_rect"].shape == (3, 3)
    assert sample.pixels == 2 * 64 * 32


def test_label_annos_for_the_evaluator(tmp_path):
    ds = KittiDataset(root=make_kitti(tmp_path))
    annos = ds.label_annos(["000000", "000001"])
    assert list(annos[0]["name"]) == ["Car", "DontCare"]
    np.testing.assert_allclose(annos[0]["dimensions"][0], [1.65, 1.67, 3.64])
    np.testing.assert_allclose(annos[0]["location"][0], [-0.65, 1.71, 46.70])
    assert len(annos[1]["name"]) == 0


def test_split_file_choice_limit_and_ids_file(tmp_path):
    root = make_kitti(tmp_path)
    (tmp_path / "two.txt").write_text("000001\n# comment\n000000\n")
    assert KittiDataset(root=root, split_file="two.txt").ids() == ["000001", "000000"]
    assert KittiDataset(root=root, split_file=tmp_path / "two.txt", limit=1).ids() == ["000001"]
    (root / "ImageSets" / "val.txt").unlink()
    assert KittiDataset(root=root).ids() == ["000000", "000001", "000002"]  # all of image_2
    (tmp_path / "pick.txt").write_text("000002\n")
    assert KittiDataset(root=root, ids_file=tmp_path / "pick.txt").ids() == ["000002"]


def test_root_from_environment_and_training_folder(tmp_path, monkeypatch):
    root = make_kitti(tmp_path)
    monkeypatch.setenv("KITTI_ROOT", str(root))
    assert KittiDataset().ids() == ["000002", "000000"]
    assert len(KittiDataset(root=root / "training").ids()) == 3


def test_fingerprint_covers_split_and_labels(tmp_path):
    root = make_kitti(tmp_path)
    fp = KittiDataset(root=root).fingerprint()
    assert fp == KittiDataset(root=root).fingerprint()
    assert KittiDataset(root=root, limit=1).fingerprint() != fp
    (root / "training" / "label_2" / "000000.txt").write_text(LABEL.replace("46.70", "46.71"))
    assert KittiDataset(root=root).fingerprint() != fp


def test_missing_things_raise_dataset_errors_naming_them(tmp_path, monkeypatch):
    monkeypatch.delenv("KITTI_ROOT", raising=False)
    with pytest.raises(DatasetError, match="KITTI_ROOT"):
        KittiDataset()
    with pytest.raises(DatasetError, match="nowhere"):
        KittiDataset(root=tmp_path / "nowhere")
    root = make_kitti(tmp_path / "k")
    with pytest.raises(DatasetError, match="absent.txt"):
        KittiDataset(root=root, split_file="absent.txt")
    (root / "training" / "label_2" / "000002.txt").unlink()
    ds = KittiDataset(root=root)
    with pytest.raises(DatasetError, match="label_2/000002.txt"):
        ds.label_annos()
    (root / "training" / "image_3" / "000000.png").unlink()
    with pytest.raises(DatasetError, match="image_3/000000.png"):
        ds.load("000000")
    (root / "training" / "calib").rename(root / "training" / "calib_gone")
    with pytest.raises(DatasetError, match="training/calib"):
        KittiDataset(root=root)
