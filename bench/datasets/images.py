"""`images`: a folder of PNG/JPEG images (Kodak, CLIC, a user's frames), sorted by name.

The way learned codecs are usually compared (CompressAI's `-d DIR`): no annotations,
so it goes with the `pixel` task (or any task that needs only images). Item ids are the
file names relative to `root`; the fingerprint hashes every selected file's bytes, so
replacing an image re-runs what depends on it. With `synthetic`, a folder that holds no
images yet is first filled with synthetic-coco images (the demo's, by default), so a
preset can run on an image folder out of the box.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.datasets.base import Dataset, select_ids
from bench.datasets.coco import read_rgb
from bench.errors import DatasetError
from bench.types import Sample

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageFolderDataset(Dataset):
    """Every PNG/JPEG file of `root` (and its subfolders with `recursive`), sorted by name.

    Args:
        root: the folder.
        recursive: also take images in subfolders (ids are then relative paths).
        limit: only the first N images.
        ids_file: a file listing the ids (file names) to use, one per line.
        synthetic: when `root` holds no images, write synthetic-coco images there first;
            keys of `write_synthetic_folder` (n_images, width, height, seed, split).
    """

    kind = "images"

    def __init__(self, root: str | Path, recursive: bool = False, limit: int | None = None,
                 ids_file: str | Path | None = None, synthetic: dict[str, Any] | None = None):
        self.root = Path(root).expanduser()
        self.synthetic = dict(synthetic) if synthetic is not None else None
        if self.synthetic is not None and not _has_images(self.root):
            write_synthetic_folder(self.root, **self.synthetic)
        if not self.root.is_dir():
            raise DatasetError(f"image folder {str(self.root)!r} does not exist")
        self.recursive = bool(recursive)
        self.limit = limit
        self.ids_file = ids_file
        self._ids: list[str] | None = None
        self._fingerprint: str | None = None

    def all_ids(self) -> list[str]:
        """Every image file's path relative to root, in name order."""
        pattern = "**/*" if self.recursive else "*"
        files = [p for p in self.root.glob(pattern)
                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        return sorted(p.relative_to(self.root).as_posix() for p in files)

    def ids(self) -> list[str]:
        if self._ids is None:
            ids = select_ids(self.all_ids(), self.limit, self.ids_file, source=str(self.root))
            if not ids:
                raise DatasetError(f"image folder {str(self.root)!r} holds no PNG/JPEG images")
            self._ids = ids
        return list(self._ids)

    def load(self, item_id: str) -> Sample:
        path = self.root / item_id
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise DatasetError(f"item {item_id!r} is outside the image folder")
        image = read_rgb(path)
        return Sample(id=item_id, images=(image,), meta={"file_name": item_id})

    def fingerprint(self) -> str:
        """SHA-256 over each selected file's name and content hash."""
        if self._fingerprint is None:
            from bench.checkpoint import files_sha256

            ids = self.ids()
            digests = files_sha256([self.root / i for i in ids])
            h = hashlib.sha256()
            for item_id, digest in zip(ids, digests):
                h.update(f"{item_id}\0{digest}\n".encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def params(self) -> dict[str, Any]:
        return {"root": str(self.root), "recursive": self.recursive, "limit": self.limit,
                "ids_file": None if self.ids_file is None else str(self.ids_file),
                "synthetic": self.synthetic}


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())


def render_synthetic(index: int, width: int = 320, height: int = 240, seed: int = 0,
                     split: str = "val") -> Any:
    """Image `index` of a synthetic-coco split (the pixels its generator writes), in memory."""
    import numpy as np

    from bench.datasets.synthetic_coco import render_image, split_seed

    rng = np.random.default_rng([split_seed(seed, split), index])
    img, _ = render_image(rng, height, width, 5)
    return img


def write_synthetic_folder(root: Path, n_images: int = 24, width: int = 320, height: int = 240,
                           seed: int = 0, split: str = "val") -> Path:
    """Write synthetic-coco images 000001.png ... into `root` (atomically: temp dir, rename)."""
    from PIL import Image

    if not isinstance(n_images, int) or n_images < 1:
        raise DatasetError(f"images: synthetic n_images must be an integer >= 1, got {n_images!r}")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        for i in range(n_images):
            img = render_synthetic(i, width, height, seed, split)
            Image.fromarray(img).save(tmp / f"{i + 1:06d}.png", format="PNG")
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        try:
            os.rename(tmp, root)
        except OSError:
            if not _has_images(root):
                raise
    except OSError as exc:
        raise DatasetError(f"cannot write synthetic images to {str(root)!r}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
