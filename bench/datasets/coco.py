"""COCO-format datasets: an instances JSON plus an image folder (COCO2017 val as is)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.base import Dataset, hash_file, select_ids
from bench.errors import DatasetError
from bench.types import Sample

COCO_ROOT_ENV = "COCO_ROOT"
DEFAULT_ANNOTATIONS = "annotations/instances_val2017.json"
DEFAULT_IMAGES = "val2017"

_cache_lock = threading.Lock()
_coco_cache: dict[tuple[str, int, int], Any] = {}


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


def load_coco(annotation_file: Path) -> Any:
    """A pycocotools COCO object for `annotation_file`, parsed once per process, silently."""
    from pycocotools.coco import COCO

    key = _file_key(annotation_file)
    with _cache_lock:
        if key in _coco_cache:
            return _coco_cache[key]
        try:
            with open(annotation_file, "rb") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise DatasetError(
                f"cannot read COCO annotations {str(annotation_file)!r}: {exc}") from exc
        if not isinstance(data, dict) or "images" not in data:
            raise DatasetError(
                f"{str(annotation_file)!r} is not a COCO instances file (no 'images' list)"
            )
        data.setdefault("annotations", [])
        data.setdefault("categories", [])
        check_structure(data, annotation_file)
        coco = COCO()
        coco.dataset = data
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                coco.createIndex()
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{str(annotation_file)!r} is not a valid COCO instances file: "
                               f"{type(exc).__name__} {exc} while indexing it") from None
        _coco_cache[key] = coco
        return coco


def check_structure(data: dict[str, Any], path: Path) -> None:
    """DatasetError unless the lists are lists of objects with ids, and every annotation
    names an image and a category the file lists.

    pycocotools silently drops annotations of unknown categories (an evaluation then
    scores fewer objects than the file holds), so they are refused here, with examples.
    """
    where = repr(str(path))
    for key in ("images", "annotations", "categories"):
        entries = data[key]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise DatasetError(f"{where}: {key!r} must be a list of objects")
        missing = next((i for i, e in enumerate(entries) if "id" not in e), None)
        if missing is not None:
            raise DatasetError(f"{where}: {key}[{missing}] has no 'id'")
    cats = {c["id"] for c in data["categories"]}
    imgs = {im["id"] for im in data["images"]}
    unknown = [a for a in data["annotations"] if a.get("category_id") not in cats]
    if unknown:
        ids = sorted({str(a.get("category_id")) for a in unknown})
        raise DatasetError(
            f"{where}: {len(unknown)} annotation(s) name a category id that is not in its "
            f"'categories' list (ids {', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}; "
            f"first: annotation {unknown[0]['id']!r} of image {unknown[0].get('image_id')!r}); "
            "add the categories or remove those annotations (they would be silently dropped "
            "from the evaluation)")
    for a in data["annotations"]:
        box = a.get("bbox")
        if not (isinstance(box, list) and len(box) == 4
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
            raise DatasetError(f"{where}: annotation {a['id']!r} needs a 'bbox' of 4 numbers "
                               f"[x, y, width, height], got {box!r:.60}")
        a.setdefault("area", float(box[2]) * float(box[3]))  # as COCO's own tools assume
        a.setdefault("iscrowd", 0)
    orphans = [a for a in data["annotations"] if a.get("image_id") not in imgs]
    if orphans:
        raise DatasetError(
            f"{where}: {len(orphans)} annotation(s) name an image id that is not in its "
            f"'images' list (first: annotation {orphans[0]['id']!r}, image "
            f"{orphans[0].get('image_id')!r})")


def _resolve(path: str | Path | None, root: Path | None, default: str) -> Path:
    if path is None:
        return root / default  # type: ignore[operator]
    p = Path(path).expanduser()
    if not p.is_absolute() and root is not None:
        p = root / p
    return p


def read_rgb(path: Path) -> np.ndarray:
    """An image file as H x W x 3 uint8 RGB (grayscale, palette, CMYK, RGBA converted)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError as exc:
        raise DatasetError(f"image {str(path)!r} does not exist") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read image {str(path)!r}: {exc}") from exc


class CocoDataset(Dataset):
    """A COCO instances JSON and its image folder.

    Given `root` (or the COCO_ROOT environment variable), the defaults are COCO2017
    val: root/annotations/instances_val2017.json and root/val2017. Relative
    `annotations` / `images` paths are taken relative to `root` when one is known.
    Item ids are str(image_id) in ascending image-id order.
    """

    kind = "coco"

    def __init__(
        self,
        annotations: str | Path | None = None,
        images: str | Path | None = None,
        root: str | Path | None = None,
        limit: int | None = None,
        ids_file: str | Path | None = None,
    ):
        root_path = self._root(root, need=annotations is None or images is None)
        self.root = root_path
        self.annotation_file: Path = _resolve(annotations, root_path, DEFAULT_ANNOTATIONS)
        self.image_dir: Path = _resolve(images, root_path, DEFAULT_IMAGES)
        self.limit = limit
        self.ids_file = ids_file
        self._check_paths()
        self._ids: list[str] | None = None
        self._fingerprint: str | None = None

    @staticmethod
    def _root(root: str | Path | None, need: bool) -> Path | None:
        if root is not None:
            return Path(root).expanduser()
        env = os.environ.get(COCO_ROOT_ENV)
        if env:
            return Path(env).expanduser()
        if need:
            raise DatasetError(
                "COCO dataset location unknown: give the dataset 'root' (holding "
                f"{DEFAULT_ANNOTATIONS} and {DEFAULT_IMAGES}/), set the {COCO_ROOT_ENV} "
                "environment variable, or give both 'annotations' and 'images'"
            )
        return None

    def _check_paths(self) -> None:
        hint = (
            f"set the dataset's 'root' or the {COCO_ROOT_ENV} environment variable, "
            "or give 'annotations' / 'images' explicitly"
        )
        if not self.annotation_file.is_file():
            raise DatasetError(
                f"COCO annotation file {str(self.annotation_file)!r} does not exist; {hint}"
            )
        if not self.image_dir.is_dir():
            raise DatasetError(f"COCO image folder {str(self.image_dir)!r} does not exist; {hint}")

    def coco(self) -> Any:
        """The pycocotools COCO object of the annotation file (cached per process)."""
        return load_coco(self.annotation_file)

    def all_ids(self) -> list[str]:
        """Every image id in the annotation file, ascending."""
        return [str(i) for i in sorted(self.coco().imgs)]

    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = select_ids(
                self.all_ids(), self.limit, self.ids_file, source=str(self.annotation_file)
            )
        return list(self._ids)

    def image_ids(self) -> list[int]:
        """The selected COCO image ids (ints), in item order."""
        return [int(i) for i in self.ids()]

    def category_ids(self) -> list[int]:
        """The dataset's category ids, ascending."""
        return sorted(int(c) for c in self.coco().cats)

    def category_names(self) -> dict[int, str]:
        """Category id -> name."""
        return {int(c): str(v["name"]) for c, v in self.coco().cats.items()}

    def image_info(self, item_id: str) -> dict[str, Any]:
        """The 'images' entry of one item."""
        try:
            return self.coco().imgs[int(item_id)]
        except (KeyError, ValueError) as exc:
            raise DatasetError(
                f"item {item_id!r} is not an image id of {str(self.annotation_file)!r}"
            ) from exc

    def image_files(self, item_id: str) -> list[Path]:
        """The file holding the item's pixels (its content enters the run's fingerprint)."""
        return [self.image_dir / self.image_info(item_id)["file_name"]]

    def load(self, item_id: str) -> Sample:
        info = self.image_info(item_id)
        path = self.image_dir / info["file_name"]
        image = read_rgb(path)
        return Sample(
            id=str(item_id),
            images=(image,),
            meta={"coco_id": int(info["id"]), "file_name": str(info["file_name"])},
        )

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            h = hashlib.sha256()
            hash_file(self.annotation_file, h)
            h.update("\n".join(self.ids()).encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def params(self) -> dict[str, Any]:
        return {
            "annotations": str(self.annotation_file),
            "images": str(self.image_dir),
            "limit": self.limit,
            "ids_file": None if self.ids_file is None else str(self.ids_file),
        }
