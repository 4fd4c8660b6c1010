"""The image-folder dataset: sorted PNG/JPEG files, content fingerprint, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.datasets.images import ImageFolderDataset
from bench.errors import DatasetError


def write(folder, name, seed, size=(20, 30), mode="RGB"):
    arr = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(folder / name)
    return arr


def test_sorted_png_and_jpeg_only(tmp_path):
    a = write(tmp_path, "b.png", 1)
    write(tmp_path, "a.jpg", 2)
    write(tmp_path, "c.JPEG", 3, mode="L")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "d.png", 4)
    ds = ImageFolderDataset(root=str(tmp_path))
    assert ds.ids() == ["a.jpg", "b.png", "c.JPEG"]
    sample = ds.load("b.png")
    assert np.array_equal(sample.image, a) and sample.id == "b.png"
    assert ds.load("c.JPEG").image.shape == (20, 30, 3)  # grey converted to RGB
    assert ImageFolderDataset(root=str(tmp_path), recursive=True).ids()[-1] == "sub/d.png"
    assert ImageFolderDataset(root=str(tmp_path), limit=2).ids() == ["a.jpg", "b.png"]


def test_fingerprint_follows_content(tmp_path):
    write(tmp_path, "x.png", 1)
    write(tmp_path, "y.png", 2)
    before = ImageFolderDataset(root=str(tmp_path)).fingerprint()
    assert ImageFolderDataset(root=str(tmp_path)).fingerprint() == before
    write(tmp_path, "y.png", 3)
    assert ImageFolderDataset(root=str(tmp_path)).fingerprint() != before


def test_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        ImageFolderDataset(root=str(tmp_path / "none"))
    with pytest.raises(DatasetError, match="holds no PNG/JPEG"):
        ImageFolderDataset(root=str(tmp_path)).ids()
    write(tmp_path, "x.png", 1)
    with pytest.raises(DatasetError, match="outside the image folder"):
        ImageFolderDataset(root=str(tmp_path)).load("../x.png")


def test_registered_and_usable_with_the_pixel_task(tmp_path):
    from bench.registry import DATASETS

    write(tmp_path, "x.png", 1)
    ds = DATASETS.build("images", {"root": str(tmp_path)})
    assert ds.params()["root"] == str(tmp_path) and ds.ids() == ["x.png"]


def test_synthetic_folder_holds_the_demo_images(tmp_path):
    from bench.datasets.synthetic_coco import SyntheticCocoDataset

    root = tmp_path / "synth"
    ds = ImageFolderDataset(root=str(root), synthetic={"n_images": 2, "width": 96, "height": 64})
    assert ds.ids() == ["000001.png", "000002.png"]
    coco = SyntheticCocoDataset(n_images=2, width=96, height=64, root=str(tmp_path / "coco"))
    assert np.array_equal(ds.load("000002.png").image, coco.load(coco.ids()[1]).image)
    again = ImageFolderDataset(root=str(root), synthetic={"n_images": 5})  # exists: kept
    assert again.ids() == ds.ids() and again.params()["synthetic"] == {"n_images": 5}
