"""KITTI 3D object stereo: the devkit folder layout with an ImageSets-style split file.

Layout under `root` (the KITTI_ROOT environment variable by default)::

    training/image_2/<id>.png   left colour camera
    training/image_3/<id>.png   right colour camera
    training/calib/<id>.txt     P0..P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo
    training/label_2/<id>.txt   ground truth in KITTI label format
    ImageSets/val.txt           frame ids, one a line (any split file may be given)

`root` may also point at the ``training`` folder itself.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.base import Dataset, select_ids
from bench.datasets.kitti_calib import read_calib
from bench.errors import DatasetError
from bench.types import Sample

KITTI_ROOT_ENV = "KITTI_ROOT"
DEFAULT_SPLIT = "ImageSets/val.txt"


def read_rgb_png(path: Path) -> np.ndarray:
    """An image file as H x W x 3 uint8 RGB; DatasetError naming the file if unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise DatasetError(f"KITTI image {str(path)!r} does not exist") from None
    except OSError as exc:
        raise DatasetError(f"cannot read KITTI image {str(path)!r}: {exc}") from None


def read_split_file(path: Path) -> list[str]:
    """Frame ids of an ImageSets-style file (one a line, '#' comments, blanks skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise DatasetError(f"cannot read KITTI split file {str(path)!r}: {exc.strerror}") from None
    ids = [ln.split("#")[0].strip() for ln in lines]
    ids = [i for i in ids if i]
    if not ids:
        raise DatasetError(f"KITTI split file {str(path)!r} lists no frame ids")
    return ids


class KittiDataset(Dataset):
    """Stereo pairs, calibration and labels of the KITTI 3D object benchmark.

    Args:
        root: the KITTI object folder (holding ``training/``); default $KITTI_ROOT.
        split_file: an ImageSets-style id list; relative paths are tried in the
            working directory, then under `root`. Default: ``ImageSets/val.txt``
            under `root` when present, else every frame in ``training/image_2``.
        limit: use only the first N frames of the split.
        ids_file: a further id list selecting frames of the split.
    """

    kind = "kitti"

    def __init__(
        self,
        root: str | Path | None = None,
        split_file: str | Path | None = None,
        limit: int | None = None,
        ids_file: str | Path | None = None,
    ):
        self.root = self._root(root)
        self.base = self.root if (self.root / "image_2").is_dir() else self.root / "training"
        for sub in ("image_2", "image_3", "calib"):
            if not (self.base / sub).is_dir():
                raise DatasetError(
                    f"KITTI folder {str(self.base / sub)!r} does not exist; point the dataset's "
                    f"'root' (or {KITTI_ROOT_ENV}) at the KITTI object folder that holds "
                    "training/image_2, image_3, calib and label_2")
        self.split_file = self._split_path(split_file)
        self.limit = limit
        self.ids_file = ids_file
        self._ids: list[str] | None = None
        self._fingerprint: str | None = None

    @staticmethod
    def _root(root: str | Path | None) -> Path:
        if root is None:
            env = os.environ.get(KITTI_ROOT_ENV)
            if not env:
                raise DatasetError(
                    "KITTI dataset location unknown: give the dataset 'root' (the folder "
                    f"holding training/image_2 ...) or set the {KITTI_ROOT_ENV} environment "
                    "variable")
            root = env
        path = Path(root).expanduser()
        if not path.is_dir():
            raise DatasetError(f"KITTI root {str(path)!r} does not exist; set the dataset's "
                               f"'root' or {KITTI_ROOT_ENV}")
        return path

    def _split_path(self, split_file: str | Path | None) -> Path | None:
        if split_file is None:
            default = self.root / DEFAULT_SPLIT
            return default if default.is_file() else None
        path = Path(split_file).expanduser()
        if not path.is_file() and not path.is_absolute() and (self.root / path).is_file():
            path = self.root / path
        if not path.is_file():
            raise DatasetError(
                f"KITTI split file {str(split_file)!r} does not exist (looked in the working "
                f"directory and under {str(self.root)!r}); give an ImageSets-style file of "
                "frame ids, one a line")
        return path

    def all_ids(self) -> list[str]:
        """The split's frame ids (every image_2 frame when there is no split file)."""
        if self.split_file is not None:
            return read_split_file(self.split_file)
        ids = sorted(p.stem for p in (self.base / "image_2").glob("*.png"))
        if not ids:
            raise DatasetError(f"no PNG images in {str(self.base / 'image_2')!r}")
        return ids

    def ids(self) -> list[str]:
        if self._ids is None:
            source = str(self.split_file or self.base / "image_2")
            self._ids = select_ids(self.all_ids(), self.limit, self.ids_file, source=source)
        return list(self._ids)

    def path(self, folder: str, item_id: str, ext: str) -> Path:
        """training/<folder>/<id>.<ext>."""
        return self.base / folder / f"{item_id}.{ext}"

    def calib(self, item_id: str) -> dict[str, np.ndarray]:
        """The frame's calibration: P2, P3, R0_rect, Tr_velo_to_cam and any other entries."""
        return read_calib(self.path("calib", item_id, "txt"))

    def image_files(self, item_id: str) -> list[Path]:
        """The left and right images (their content enters the run's fingerprint)."""
        return [self.path("image_2", item_id, "png"), self.path("image_3", item_id, "png")]

    def load(self, item_id: str) -> Sample:
        left = read_rgb_png(self.path("image_2", item_id, "png"))
        right = read_rgb_png(self.path("image_3", item_id, "png"))
        if left.shape != right.shape:
            raise DatasetError(f"KITTI frame {item_id!r}: image_2 is {left.shape[1]}x"
                               f"{left.shape[0]} but image_3 is {right.shape[1]}x{right.shape[0]}")
        return Sample(id=str(item_id), images=(left, right), calib=self.calib(item_id),
                      meta={"image_size": (int(left.shape[1]), int(left.shape[0]))})

    def label_path(self, item_id: str) -> Path:
        path = self.path("label_2", item_id, "txt")
        if not path.is_file():
            raise DatasetError(f"KITTI label file {str(path)!r} does not exist; evaluation "
                               "needs training/label_2 for every frame of the split")
        return path

    def label_annos(self, ids: list[str] | None = None) -> list[dict[str, np.ndarray]]:
        """Ground-truth annotation dicts (bench.metrics.kitti_io layout) of `ids`, in order."""
        from bench.metrics.kitti_io import read_label_file

        return [read_label_file(self.label_path(i)) for i in (self.ids() if ids is None else ids)]

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            h = hashlib.sha256(b"kitti-object-v1\n")
            for item_id in self.ids():
                h.update(item_id.encode() + b"\n")
                h.update(self.label_path(item_id).read_bytes())
                calib = self.path("calib", item_id, "txt")
                if not calib.is_file():
                    raise DatasetError(f"KITTI calibration file {str(calib)!r} does not exist")
                h.update(calib.read_bytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def params(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "split_file": None if self.split_file is None else str(self.split_file),
            "limit": self.limit,
            "ids_file": None if self.ids_file is None else str(self.ids_file),
        }
