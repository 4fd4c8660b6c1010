"""Time the KITTI evaluation on 3769 frames of synthetic labels (the size of KITTI val).

Run on demand: ``python benchmarks/bench_kitti_eval.py [--frames N] [--dets-per-frame D]``.
Prints the wall and CPU seconds for reading the label files and for `kitti_evaluate`
(strict and loose), the load average, and the headline numbers so a run can be checked
for sanity (on a shared machine the CPU seconds are the figure to compare). Target: under
10 s for the evaluation on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.metrics.kitti import flatten_kitti, kitti_evaluate
from bench.metrics.kitti_io import read_label_file, write_label_file

# per-frame mean counts, roughly those of the KITTI training labels
MEAN_OBJECTS = {"Car": 3.8, "Pedestrian": 0.6, "Cyclist": 0.22, "Van": 0.39,
                "Person_sitting": 0.03, "Truck": 0.15, "DontCare": 1.5}
SIZES = {"Car": (1.5, 1.6, 3.9), "Pedestrian": (1.75, 0.65, 0.85), "Cyclist": (1.75, 0.6, 1.8),
         "Van": (2.2, 1.9, 5.1), "Person_sitting": (1.3, 0.6, 0.8), "Truck": (3.2, 2.6, 10.0),
         "DontCare": (1.0, 1.0, 1.0)}
FOCAL = 721.5


def synthetic_frame(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One frame of ground truth: objects in front of the camera, boxes projected."""
    names = [n for n, mean in MEAN_OBJECTS.items() for _ in range(rng.poisson(mean))]
    n = len(names)
    dims = np.array([SIZES[k] for k in names]).reshape(n, 3) * rng.uniform(0.9, 1.1, (n, 3))
    loc = np.c_[rng.uniform(-15, 15, n), rng.uniform(1.4, 1.9, n), rng.uniform(5, 60, n)]
    u = 621 + FOCAL * loc[:, 0] / loc[:, 2]
    v_bottom = 188 + FOCAL * loc[:, 1] / loc[:, 2]
    height = FOCAL * dims[:, 0] / loc[:, 2]
    width = FOCAL * np.maximum(dims[:, 1], dims[:, 2]) / loc[:, 2]
    bbox = np.c_[u - width / 2, v_bottom - height, u + width / 2, v_bottom]
    ry = rng.uniform(-np.pi, np.pi, n)
    return {"name": np.array(names, dtype=object), "truncated": rng.choice([0.0, 0.0, 0.2, 0.4], n),
            "occluded": rng.choice([0, 0, 1, 2], n), "alpha": ry - np.arctan2(loc[:, 0], loc[:, 2]),
            "bbox": bbox, "dimensions": dims, "location": loc, "rotation_y": ry}


def synthetic_detections(rng: np.random.Generator, gt: dict, n_extra: int) -> dict:
    """Noisy copies of most objects plus false positives, with scores."""
    keep = np.flatnonzero((gt["name"] != "DontCare") & (rng.random(len(gt["name"])) < 0.9))
    src = np.concatenate([keep, rng.integers(0, max(len(gt["name"]), 1), n_extra)])
    src = src[src < len(gt["name"])]
    k = len(src)
    noise = rng.choice([0.01, 0.05, 0.15], (k, 1))
    names = np.where(gt["name"][src] == "DontCare", "Car", gt["name"][src])
    names = np.where(np.isin(names, ["Car", "Pedestrian", "Cyclist"]), names, "Car")
    loc = gt["location"][src] + rng.normal(0, 1, (k, 3)) * noise * [2, 0.5, 4]
    return {"name": names.astype(object), "truncated": np.zeros(k), "occluded": np.zeros(k, int),
            "alpha": gt["alpha"][src] + rng.normal(0, 0.3, k),
            "bbox": gt["bbox"][src] + rng.normal(0, 1, (k, 4)) * noise * 60,
            "dimensions": gt["dimensions"][src] * (1 + rng.normal(0, 1, (k, 3)) * noise),
            "location": loc, "rotation_y": gt["rotation_y"][src] + rng.normal(0, 0.2, k),
            "score": np.clip(1 - noise[:, 0] * 3 + rng.normal(0, 0.15, k), 0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=3769)
    parser.add_argument("--extra-dets", type=int, default=12, help="duplicate/false detections")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    gts = [synthetic_frame(rng) for _ in range(args.frames)]
    dts = [synthetic_detections(rng, g, args.extra_dets) for g in gts]
    n_gt = sum(len(g["name"]) for g in gts)
    n_dt = sum(len(d["name"]) for d in dts)
    print(f"{args.frames} frames, {n_gt} ground-truth objects, {n_dt} detections")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (g, d) in enumerate(zip(gts, dts)):
            write_label_file(Path(tmp) / f"gt{i:06d}.txt", g)
            write_label_file(Path(tmp) / f"dt{i:06d}.txt", d)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(args.frames):
            read_label_file(Path(tmp) / f"gt{i:06d}.txt")
            read_label_file(Path(tmp) / f"dt{i:06d}.txt")
        print(f"read {2 * args.frames} label files: {time.perf_counter() - t0:.2f} s "
              f"(CPU {time.process_time() - c0:.2f} s)")
    for overlaps in ("strict", "loose"):
        t0, c0 = time.perf_counter(), time.process_time()
        result = flatten_kitti(kitti_evaluate(gts, dts, overlaps=overlaps))
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        keys = ("Car/3d/moderate/R40", "Car/bev/moderate/R40", "Pedestrian/bbox/moderate/R40")
        head = ", ".join(f"{k} {result[k]:.2f}" for k in keys)
        print(f"kitti_evaluate ({overlaps}): {took:.2f} s (CPU {cpu:.2f} s)   [{head}]")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {len(os.sched_getaffinity(0))} cores")


if __name__ == "__main__":
    main()
