"""A deterministic synthetic COCO-format set: textured backgrounds with shapes.

Each image holds several shapes (circle, square, triangle, star, ring, cross) of
varied colour, size (12..120 px across) and rotation on a textured background
(gradient, smooth noise, stripes, grain, thin clutter lines). Later shapes occlude
earlier ones; boxes, areas and RLE masks describe the visible parts, as COCO does.
The set is generated once, atomically, under root/synthetic-coco-<split>-<hash>/.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.coco import CocoDataset
from bench.errors import DatasetError

GENERATOR_VERSION = "1"
SHAPES = ("circle", "square", "triangle", "star", "ring", "cross")
MIN_SIZE, MAX_SIZE = 12, 120  # shape size range, px across (capped at half the short side)
MIN_SIDE = 64
MIN_VISIBLE = 0.5  # an instance keeps at least this fraction of its area visible


def split_seed(seed: int, split: str) -> int:
    """The generator seed of one split, derived from the user's seed and the split name."""
    digest = hashlib.sha256(f"synthetic-coco:{seed}:{split}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Bilinearly upsampled random grid in [-1, 1]: low-frequency texture."""
    gh, gw = cells + 1, int(cells * w / h) + 2
    grid = rng.uniform(-1, 1, size=(gh, gw))
    ys = np.linspace(0, gh - 1.001, h)
    xs = np.linspace(0, gw - 1.001, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def render_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured H x W x 3 float background in [0, 255]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    t = (np.cos(angle) * xx + np.sin(angle) * yy) / max(h, w)
    c0, c1 = rng.uniform(30, 225, size=3), rng.uniform(30, 225, size=3)
    img = c0 + (c1 - c0) * np.clip(t, 0, 1)[..., None]
    for _ in range(2):
        amp = rng.uniform(10, 35, size=3)
        img += _smooth_noise(rng, h, w, int(rng.integers(3, 12)))[..., None] * amp
    if rng.random() < 0.6:
        period = rng.uniform(4, 24)
        sa = rng.uniform(0, np.pi)
        phase = (np.cos(sa) * xx + np.sin(sa) * yy) * 2 * np.pi / period
        img += (np.sin(phase) * rng.uniform(6, 22))[..., None]
    img += rng.normal(0, rng.uniform(2, 9), size=(h, w, 3))
    return img


def _polygon(cx: float, cy: float, r: float, rot: float, shape: str) -> list[tuple[float, float]]:
    if shape == "square":
        angles, radii = rot + np.pi / 4 + np.arange(4) * np.pi / 2, np.full(4, r)
    elif shape == "triangle":
        angles, radii = rot + np.arange(3) * 2 * np.pi / 3, np.full(3, r)
    elif shape == "star":
        angles = rot + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, 0.42 * r)
    else:  # cross: a plus sign of arm half-width 0.3 r
        a = 0.3 * r
        pts = [(a, r), (a, a), (r, a), (r, -a), (a, -a), (a, -r),
               (-a, -r), (-a, -a), (-r, -a), (-r, a), (-a, a), (-a, r)]
        c, s = np.cos(rot), np.sin(rot)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]
    return [(cx + rr * np.cos(t), cy + rr * np.sin(t)) for t, rr in zip(angles, radii)]


def render_shape_mask(shape: str, cx: float, cy: float, size: float, rot: float,
                      h: int, w: int) -> np.ndarray:
    """The full (unoccluded) boolean mask of one shape, `size` px across."""
    r = size / 2
    if shape in ("circle", "ring"):
        yy, xx = np.ogrid[0:h, 0:w]
        d2 = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2
        mask = d2 <= r * r
        if shape == "ring":
            mask &= d2 >= (0.55 * r) ** 2
        return mask
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (w, h), 0)
    ImageDraw.Draw(canvas).polygon(_polygon(cx, cy, r, rot, shape), fill=1)
    return np.asarray(canvas, dtype=bool)


def _shape_colour(rng: np.random.Generator, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A random colour far enough from the background under the shape."""
    under = background[mask].mean(axis=0)
    colour = rng.uniform(0, 255, size=3)
    for _ in range(20):
        if np.abs(colour - under).sum() > 120:
            break
        colour = rng.uniform(0, 255, size=3)
    return colour


def _place(rng, shape, h, w, visible, full_areas):
    """Try to place one shape without hiding more than half of any earlier one."""
    for _ in range(40):
        largest = min(MAX_SIZE, h // 2, w // 2)
        size = float(np.exp(rng.uniform(np.log(MIN_SIZE), np.log(largest))))
        r = size / 2
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        mask = render_shape_mask(shape, cx, cy, size, rng.uniform(0, 2 * np.pi), h, w)
        if mask.sum() < 40:
            continue
        if all((v & ~mask).sum() >= MIN_VISIBLE * a for v, a in zip(visible, full_areas)):
            return mask
    return None


def render_image(rng: np.random.Generator, h: int, w: int, n_categories: int):
    """One image and its instances [(category index, visible mask)], bottom to top."""
    img = render_background(rng, h, w)
    _draw_clutter(rng, img, h, w)
    visible: list[np.ndarray] = []
    full_areas: list[int] = []
    cats: list[int] = []
    for _ in range(int(rng.integers(3, 9))):
        cat = int(rng.integers(0, n_categories))
        mask = _place(rng, SHAPES[cat], h, w, visible, full_areas)
        if mask is None:
            continue
        colour = _shape_colour(rng, img, mask)
        shade = _smooth_noise(rng, h, w, 4)[..., None] * rng.uniform(5, 25)
        fill = colour + shade + rng.normal(0, 4, size=(h, w, 3))
        img[mask] = fill[mask]
        visible = [v & ~mask for v in visible]
        visible.append(mask)
        full_areas.append(int(mask.sum()))
        cats.append(cat)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), list(zip(cats, visible))


def _draw_clutter(rng: np.random.Generator, img: np.ndarray, h: int, w: int) -> None:
    """A few thin lines across the image: distractors that are not objects."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(0, 4))):
        x0, x1 = rng.uniform(0, w, size=2)
        y0, y1 = rng.uniform(0, h, size=2)
        draw.line([(x0, y0), (x1, y1)], fill=1, width=1)
    lines = np.asarray(canvas, dtype=bool)
    img[lines] = rng.uniform(0, 255, size=3)


def instance_annotation(mask: np.ndarray, ann_id: int, image_id: int, category_id: int) -> dict:
    """A COCO annotation (compressed RLE, area, bbox, iscrowd=0) of one visible mask."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = [float(v) for v in mask_utils.toBbox(rle)]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode()},
        "area": float(mask_utils.area(rle)),
        "bbox": bbox,
        "iscrowd": 0,
    }


def generate(out_dir: Path, n_images: int, width: int, height: int, seed: int, split: str,
             n_categories: int) -> None:
    """Write annotations.json and images/*.png of one synthetic set into `out_dir`."""
    from PIL import Image

    base = split_seed(seed, split)
    (out_dir / "images").mkdir(parents=True)
    images, annotations = [], []
    for index in range(n_images):
        image_id = index + 1
        rng = np.random.default_rng([base, index])
        img, instances = render_image(rng, height, width, n_categories)
        file_name = f"{image_id:06d}.png"
        Image.fromarray(img).save(out_dir / "images" / file_name, format="PNG", optimize=False)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        for cat, mask in instances:
            annotations.append(instance_annotation(mask, len(annotations) + 1, image_id, cat + 1))
    categories = [{"id": i + 1, "name": SHAPES[i], "supercategory": "shape"}
                  for i in range(n_categories)]
    info = {"description": "icm-bench synthetic COCO-format shapes",
            "generator_version": GENERATOR_VERSION, "seed": seed, "split": split}
    doc = {"info": info, "licenses": [], "images": images, "annotations": annotations,
           "categories": categories}
    (out_dir / "annotations.json").write_text(json.dumps(doc, sort_keys=True, indent=1))


def ensure_generated(target: Path, **params: Any) -> Path:
    """Generate the set into `target` unless it exists; atomic (temp dir, then rename)."""
    if (target / "annotations.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        generate(tmp / "set", **params)
        try:
            os.rename(tmp / "set", target)
        except OSError:
            if not (target / "annotations.json").is_file():
                raise
    except OSError as exc:
        raise DatasetError(f"cannot write the synthetic set to {str(target)!r}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class SyntheticCocoDataset(CocoDataset):
    """The synthetic shapes set as a COCO-format dataset (generated on first use)."""

    def __init__(
        self,
        n_images: int = 24,
        width: int = 320,
        height: int = 240,
        seed: int = 0,
        split: str = "val",
        root: str | Path = "datasets",
        limit: int | None = None,
        ids_file: str | Path | None = None,
        n_categories: int = 5,
    ):
        self.generator_params = _check_params(n_images, width, height, seed, split, n_categories)
        self.set_dir = Path(root) / f"synthetic-coco-{split}-{self.params_hash()}"
        ensure_generated(self.set_dir, **self.generator_params)
        super().__init__(
            annotations=self.set_dir / "annotations.json",
            images=self.set_dir / "images",
            limit=limit,
            ids_file=ids_file,
        )

    def params_hash(self) -> str:
        """A short hash of the generator parameters and GENERATOR_VERSION."""
        doc = json.dumps({**self.generator_params, "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(doc.encode()).hexdigest()[:10]

    def params(self) -> dict[str, Any]:
        return {
            **self.generator_params,
            "root": str(self.set_dir.parent),
            "limit": self.limit,
            "ids_file": None if self.ids_file is None else str(self.ids_file),
        }


def _check_params(n_images, width, height, seed, split, n_categories) -> dict[str, Any]:
    if not isinstance(n_images, int) or n_images < 1:
        raise DatasetError(f"synthetic-coco n_images must be an integer >= 1, got {n_images!r}")
    for key, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or not MIN_SIDE <= value <= 4096:
            raise DatasetError(
                f"synthetic-coco {key} must be an integer in {MIN_SIDE}..4096, got {value!r}"
            )
    if not isinstance(seed, int):
        raise DatasetError(f"synthetic-coco seed must be an integer, got {seed!r}")
    if not isinstance(split, str) or not re.fullmatch(r"[a-z0-9]+", split):
        raise DatasetError(
            f"synthetic-coco split must be a lowercase word such as 'train' or 'val', got {split!r}"
        )
    if not isinstance(n_categories, int) or not 1 <= n_categories <= len(SHAPES):
        raise DatasetError(
            f"synthetic-coco n_categories must be 1..{len(SHAPES)}, got {n_categories!r}"
        )
    return {"n_images": n_images, "width": width, "height": height, "seed": seed,
            "split": split, "n_categories": n_categories}
