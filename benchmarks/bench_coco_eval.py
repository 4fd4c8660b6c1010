"""COCO evaluation speed: pycocotools against faster-coco-eval (run on demand).

    python benchmarks/bench_coco_eval.py [--images 500] [--objects 8] [--fp 12] [--repeat 3]

Builds a deterministic synthetic instances set (W x H images, small/medium/large
boxes and ellipse masks as RLE, 10 categories) and noisy detections, then times
`coco_evaluate` end to end (results loading, evaluate, accumulate, summarize) with
each backend, per IoU type. Prints the median seconds, the speed-up and the largest
difference between the two backends' 12 stats, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
from pycocotools import mask as mask_utils

from bench.metrics.coco import COCO_STATS, coco_evaluate

W, H = 320, 240
N_CATEGORIES = 10


def _ellipse(x: int, y: int, w: int, h: int) -> dict:
    m = np.zeros((H, W), np.uint8)
    yy, xx = np.ogrid[:H, :W]
    m[((xx - x - w / 2) / (w / 2)) ** 2 + ((yy - y - h / 2) / (h / 2)) ** 2 <= 1] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _box(rng: np.random.Generator) -> tuple[int, int, int, int]:
    size = int(rng.choice([20, 60, 140]) * rng.uniform(0.7, 1.3))
    w, h = size, max(6, int(size * rng.uniform(0.5, 1.0)))
    w, h = min(w, W - 1), min(h, H - 1)
    return int(rng.integers(0, W - w)), int(rng.integers(0, H - h)), w, h


def synthetic_set(images: int, objects: int, false_positives: int, seed: int = 0):
    """Ground truth and detections (dicts with both bbox and segmentation)."""
    rng = np.random.default_rng(seed)
    imgs, anns, dets = [], [], []
    for img_id in range(1, images + 1):
        imgs.append({"id": img_id, "width": W, "height": H, "file_name": f"{img_id:06d}.png"})
        for _ in range(int(rng.integers(1, 2 * objects))):
            x, y, w, h = _box(rng)
            cat = int(rng.integers(1, N_CATEGORIES + 1))
            rle = _ellipse(x, y, w, h)
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": cat, "iscrowd": 0,
                         "bbox": [x, y, w, h], "area": float(mask_utils.area(rle)),
                         "segmentation": rle})
            if rng.random() < 0.8:
                dx, dy = (int(v) for v in rng.integers(-5, 6, size=2))
                px, py = min(max(x + dx, 0), W - w), min(max(y + dy, 0), H - h)
                dets.append({"image_id": img_id, "category_id": cat, "bbox": [px, py, w, h],
                             "score": float(rng.uniform(0.3, 1.0)),
                             "segmentation": _ellipse(px, py, w, h)})
        for _ in range(false_positives):
            x, y, w, h = _box(rng)
            dets.append({"image_id": img_id, "category_id": int(rng.integers(1, N_CATEGORIES + 1)),
                         "bbox": [x, y, w, h], "score": float(rng.uniform(0.0, 0.7)),
                         "segmentation": _ellipse(x, y, w, h)})
    cats = [{"id": i, "name": f"class{i}"} for i in range(1, N_CATEGORIES + 1)]
    return {"images": imgs, "annotations": anns, "categories": cats}, dets


def time_backend(gt: dict, dets: list[dict], iou_type: str, backend: str, repeat: int):
    """Median wall and CPU seconds over `repeat` runs, and the stats of the last."""
    times, cpus, stats = [], [], {}
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        stats = coco_evaluate(gt, dets, iou_type, backend=backend)
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(times), statistics.median(cpus), stats


def has_faster_coco_eval() -> bool:
    try:
        import faster_coco_eval  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--objects", type=int, default=8, help="mean objects per image")
    parser.add_argument("--fp", type=int, default=12, help="false positives per image")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gt, dets = synthetic_set(args.images, args.objects, args.fp)
    report = {"images": args.images, "annotations": len(gt["annotations"]), "detections": len(dets),
              "load_avg_1min": round(os.getloadavg()[0], 2)}
    fast_backend = has_faster_coco_eval()
    for iou_type in ("bbox", "segm"):
        drop = "segmentation" if iou_type == "bbox" else "bbox"
        typed = [{k: v for k, v in d.items() if k != drop} for d in dets]
        slow, slow_cpu, ref = time_backend(gt, typed, iou_type, "pycocotools", args.repeat)
        report[iou_type] = {"pycocotools_s": round(slow, 3), "pycocotools_cpu_s": round(slow_cpu, 3),
                            "AP": ref["AP"]}
        if not fast_backend:
            report[iou_type]["faster_coco_eval"] = "not installed"
            continue
        fast, fast_cpu, got = time_backend(gt, typed, iou_type, "faster-coco-eval", args.repeat)
        report[iou_type].update({
            "faster_coco_eval_s": round(fast, 3),
            "faster_coco_eval_cpu_s": round(fast_cpu, 3),
            "speedup": round(slow / fast, 2),
            "max_abs_stat_difference": max(abs(ref[k] - got[k]) for k in COCO_STATS),
        })
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
