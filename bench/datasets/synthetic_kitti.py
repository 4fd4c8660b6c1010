"""A deterministic synthetic KITTI stereo set, generated on demand in the devkit layout.

Street scenes (ground plane, sky, buildings, trees, and cars, pedestrians and
cyclists built from textured boxes at 5 to 60 m) are ray-cast into a stereo rig
with KITTI's geometry: focal length 721.5377 px, principal point (609.6, 172.9)
and 1242 x 375 pixels, scaled with `width` / `height`, a 0.54 m baseline. Labels
come from the geometry: 2D boxes are the projected 3D boxes clipped to the image,
truncation is the share of that box outside the image, occlusion the share of the
object's silhouette hidden by nearer surfaces (0: < 15 %, 1: < 50 %, 2: more);
objects showing under 5 % of their silhouette are left out, far traffic (60 to
80 m) is labelled DontCare. Besides the devkit folders, ``training/disp_2`` holds
the left view's true disparity in KITTI stereo format (uint16 PNG, pixels x 256,
0 where there is no surface), used to train the stereo detector.

The same parameters and seed give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.kitti import KittiDataset
from bench.datasets.kitti_calib import (
    alpha_from_rotation_y,
    box2d_from_box3d,
    box3d_corners,
    project_to_image,
    write_calib,
)
from bench.datasets.synthetic_kitti_render import render_view
from bench.datasets.synthetic_kitti_scene import sample_scene
from bench.errors import DatasetError

GENERATOR_VERSION = "1"
KITTI_SIZE = (1242, 375)
KITTI_FOCAL, KITTI_CX, KITTI_CY = 721.5377, 609.5593, 172.854
BASELINE, CAM2_OFFSET = 0.54, 0.06
SENSOR_NOISE = 1.5  # grey levels, independent per view


def synthetic_calib(width: int, height: int) -> dict[str, np.ndarray]:
    """KITTI-like calibration for the rig scaled to width x height."""
    sx, sy = width / KITTI_SIZE[0], height / KITTI_SIZE[1]
    fx, fy = KITTI_FOCAL * sx, KITTI_FOCAL * sy
    k = np.array([[fx, 0.0, (KITTI_CX + 0.5) * sx - 0.5], [0.0, fy, (KITTI_CY + 0.5) * sy - 0.5],
                  [0.0, 0.0, 1.0]])

    def proj(offset: float) -> np.ndarray:
        return np.hstack([k, (k @ np.array([offset, 0.0, 0.0]))[:, None]])

    velo = np.array([[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, -0.08], [1.0, 0.0, 0.0, -0.27]])
    return {
        "P0": proj(0.0), "P1": proj(-BASELINE), "P2": proj(CAM2_OFFSET),
        "P3": proj(CAM2_OFFSET - BASELINE), "R0_rect": np.eye(3), "Tr_velo_to_cam": velo,
        "Tr_imu_to_velo": np.hstack([np.eye(3), np.array([[-0.81], [0.32], [-0.8]])]),
    }


def frame_rng(seed: int, split: str, index: int) -> np.random.Generator:
    split_code = int.from_bytes(hashlib.sha256(split.encode()).digest()[:4], "little")
    return np.random.default_rng([int(seed), split_code, int(index)])


def _to_uint8(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = rgb * 255.0 + rng.normal(0.0, SENSOR_NOISE, rgb.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _label_rows(scene, render, p2: np.ndarray, size: tuple[int, int]) -> list[dict[str, Any]]:
    rows = []
    for k, obj in enumerate(scene.objects):
        if not (obj.labelled or obj.dontcare) or render.silhouette[k] == 0:
            continue
        shown = render.visible[k] / render.silhouette[k]
        if shown < 0.05:
            continue
        uv = project_to_image(box3d_corners(obj.dimensions, obj.location, obj.rotation_y), p2)
        full = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
        box = box2d_from_box3d(obj.dimensions, obj.location, obj.rotation_y, p2, size)
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        area = (full[2] - full[0]) * (full[3] - full[1])
        truncated = 1.0 - (box[2] - box[0]) * (box[3] - box[1]) / area
        if obj.dontcare:
            rows.append({"name": "DontCare", "truncated": -1.0, "occluded": -1, "alpha": -10.0,
                         "bbox": box, "dimensions": [-1.0] * 3, "location": [-1000.0] * 3,
                         "rotation_y": -10.0})
            continue
        hidden = 1.0 - shown
        x, z = obj.location[0], obj.location[2]
        rows.append({
            "name": obj.kind, "truncated": truncated,
            "occluded": 0 if hidden < 0.15 else 1 if hidden < 0.5 else 2,
            "alpha": float(alpha_from_rotation_y(obj.rotation_y, x, z)), "bbox": box,
            "dimensions": obj.dimensions, "location": obj.location, "rotation_y": obj.rotation_y,
        })
    return rows


def _anno(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    from bench.metrics.kitti_io import empty_anno

    if not rows:
        return empty_anno(with_score=False)
    r2 = lambda v: np.round(np.asarray(v, dtype=np.float64), 2)
    return {
        "name": np.array([r["name"] for r in rows], dtype=object),
        "truncated": r2([r["truncated"] for r in rows]),
        "occluded": np.array([r["occluded"] for r in rows], dtype=np.int64),
        "alpha": r2([r["alpha"] for r in rows]),
        "bbox": r2([r["bbox"] for r in rows]),
        "dimensions": r2([r["dimensions"] for r in rows]),
        "location": r2([r["location"] for r in rows]),
        "rotation_y": r2([r["rotation_y"] for r in rows]),
    }


def render_frame(seed: int, split: str, index: int, width: int, height: int) -> dict[str, Any]:
    """One frame: left/right uint8 images, disparity (float32), label anno dict, calib."""
    rng = frame_rng(seed, split, index)
    scene = sample_scene(rng)
    calib = synthetic_calib(width, height)
    left = render_view(scene, calib["P2"], width, height)
    right = render_view(scene, calib["P3"], width, height)
    focal_baseline = calib["P2"][0, 3] - calib["P3"][0, 3]
    with np.errstate(divide="ignore"):
        disparity = np.where(np.isfinite(left.depth), focal_baseline / left.depth, 0.0)
    return {
        "left": _to_uint8(left.rgb, rng), "right": _to_uint8(right.rgb, rng),
        "disparity": disparity.astype(np.float32), "calib": calib,
        "anno": _anno(_label_rows(scene, left, calib["P2"], (width, height))),
    }


def write_frame(base: Path, frame_id: str, frame: dict[str, Any]) -> None:
    """Write one rendered frame into a KITTI ``training`` folder."""
    from PIL import Image

    from bench.metrics.kitti_io import write_label_file

    Image.fromarray(frame["left"]).save(base / "image_2" / f"{frame_id}.png", compress_level=6)
    Image.fromarray(frame["right"]).save(base / "image_3" / f"{frame_id}.png", compress_level=6)
    disp = np.clip(np.rint(frame["disparity"] * 256.0), 0, 65535).astype(np.uint16)
    Image.fromarray(disp).save(base / "disp_2" / f"{frame_id}.png", compress_level=6)
    write_calib(base / "calib" / f"{frame_id}.txt", frame["calib"])
    write_label_file(base / "label_2" / f"{frame_id}.txt", frame["anno"])


def _generate_range(args: tuple) -> None:
    base, seed, split, width, height, start, stop = args
    for i in range(start, stop):
        write_frame(Path(base), f"{i:06d}", render_frame(seed, split, i, width, height))


def generate(folder: Path, n_frames: int, width: int, height: int, seed: int, split: str,
             workers: int = 1) -> None:
    """Render the whole set into `folder` atomically (a temporary folder, then a rename)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        base = tmp / "training"
        for sub in ("image_2", "image_3", "calib", "label_2", "disp_2"):
            (base / sub).mkdir(parents=True)
        workers = max(1, min(workers, n_frames))
        bounds = np.linspace(0, n_frames, workers + 1).astype(int)
        chunks = [(str(base), seed, split, width, height, int(a), int(b))
                  for a, b in zip(bounds[:-1], bounds[1:])]
        if workers == 1:
            _generate_range(chunks[0])
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                list(pool.map(_generate_range, chunks))
        (tmp / "ImageSets").mkdir()
        ids = "".join(f"{i:06d}\n" for i in range(n_frames))
        (tmp / "ImageSets" / f"{split}.txt").write_text(ids)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "ImageSets" / f"{split}.txt").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class SyntheticKittiDataset(KittiDataset):
    """A synthetic KITTI stereo set, rendered under `root` the first time it is asked for.

    Args:
        n_frames: frames in the set.
        width, height: image size; 1242 x 375 is KITTI's, smaller sizes scale the rig.
        seed: the scene seed; the split name is mixed in, so splits never share scenes.
        split: the split's name (ImageSets/<split>.txt).
        root: where the set's folder ``synthetic-kitti-<split>-<hash>`` is created.
        limit, ids_file: frame selection, as for KittiDataset.
        workers: processes used to render (1: in this process).
    """

    def __init__(
        self,
        n_frames: int = 50,
        width: int = KITTI_SIZE[0],
        height: int = KITTI_SIZE[1],
        seed: int = 0,
        split: str = "val",
        root: str | Path = "datasets",
        limit: int | None = None,
        ids_file: str | Path | None = None,
        workers: int = 1,
    ):
        if n_frames < 1 or width < 64 or height < 32:
            raise DatasetError(f"synthetic-kitti needs n_frames >= 1 and an image of at least "
                               f"64 x 32 pixels, got n_frames={n_frames}, {width} x {height}")
        if not split or any(c in split for c in "/\\") or split.startswith("."):
            raise DatasetError(f"synthetic-kitti split {split!r} must be a plain name")
        self.settings = {"n_frames": int(n_frames), "width": int(width), "height": int(height),
                         "seed": int(seed), "split": split}
        self.workers = workers
        folder = Path(root).expanduser() / self.folder_name()
        if not (folder / "ImageSets" / f"{split}.txt").is_file():
            generate(folder, workers=workers, **self.settings)
        super().__init__(root=folder, split_file=folder / "ImageSets" / f"{split}.txt",
                         limit=limit, ids_file=ids_file)

    def folder_name(self) -> str:
        key = json.dumps({"version": GENERATOR_VERSION, **self.settings}, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        return f"synthetic-kitti-{self.settings['split']}-{digest}"

    def disparity(self, item_id: str) -> np.ndarray:
        """The left view's true disparity in pixels (0 where there is no surface)."""
        from PIL import Image

        path = self.path("disp_2", item_id, "png")
        with Image.open(path) as im:
            return np.asarray(im, dtype=np.float32) / 256.0

    def params(self) -> dict[str, Any]:
        return {**self.settings, "root": str(self.root.parent), "limit": self.limit,
                "ids_file": None if self.ids_file is None else str(self.ids_file)}
