"""The vectorised KITTI evaluation against a plain transcription of the devkit rules.

The reference below loops per frame and per score threshold, as evaluate_object.cpp
does, and measures overlaps with shapely; it shares no code with bench.metrics.kitti.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import Polygon

from bench.metrics.kitti import kitti_evaluate

MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)


def _footprint(loc, dims, ry):
    h, w, l = dims
    c, s = math.cos(ry), math.sin(ry)
    pts = []
    for dx, dz in ((l / 2, w / 2), (-l / 2, w / 2), (-l / 2, -w / 2), (l / 2, -w / 2)):
        pts.append((loc[0] + c * dx + s * dz, loc[2] - s * dx + c * dz))
    return Polygon(pts)


def overlap(gt, i, dt, j, metric):
    if metric == 0:
        a, b = gt["bbox"][i], dt["bbox"][j]
        iw = min(a[2], b[2]) - max(a[0], b[0])
        ih = min(a[3], b[3]) - max(a[1], b[1])
        if iw <= 0 or ih <= 0:
            return 0.0
        inter = iw * ih
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
    pa = _footprint(gt["location"][i], gt["dimensions"][i], gt["rotation_y"][i])
    pb = _footprint(dt["location"][j], dt["dimensions"][j], dt["rotation_y"][j])
    inter = pa.intersection(pb).area
    if metric == 1:
        return inter / (pa.area + pb.area - inter)
    ya, ha = gt["location"][i][1], gt["dimensions"][i][0]
    yb, hb = dt["location"][j][1], dt["dimensions"][j][0]
    vol = inter * max(0.0, min(ya, yb) - max(ya - ha, yb - hb))
    return vol / (pa.area * ha + pb.area * hb - vol)


def clean(gt, dt, cls, d):
    ign_gt, ign_dt, dc, n = [], [], [], 0
    for i, name in enumerate(gt["name"]):
        name = name.lower()
        b = gt["bbox"][i]
        if name == cls:
            valid = 1
        elif (cls, name) in (("pedestrian", "person_sitting"), ("car", "van")):
            valid = 0
        else:
            valid = -1
        hidden = (gt["occluded"][i] > MAX_OCCLUSION[d] or gt["truncated"][i] > MAX_TRUNCATION[d]
                  or b[3] - b[1] <= MIN_HEIGHT[d])
        if valid == 1 and not hidden:
            ign_gt.append(0)
            n += 1
        elif valid == 0 or (valid == 1 and hidden):
            ign_gt.append(1)
        else:
            ign_gt.append(-1)
        if name == "dontcare":
            dc.append(b)
    for j, name in enumerate(dt["name"]):
        b = dt["bbox"][j]
        if abs(b[3] - b[1]) < MIN_HEIGHT[d]:
            ign_dt.append(1)
        elif name.lower() == cls:
            ign_dt.append(0)
        else:
            ign_dt.append(-1)
    return ign_gt, ign_dt, dc, n


def statistics(ov, gt, dt, ign_gt, ign_dt, dc, metric, m, thresh, compute_fp):
    NO = -10000000
    nd = len(dt["name"])
    assigned = [False] * nd
    low = [compute_fp and dt["score"][j] < thresh for j in range(nd)]
    tp = fp = fn = 0
    sims, scores = [], []
    for i in range(len(gt["name"])):
        if ign_gt[i] == -1:
            continue
        det, best, max_ov, took_ignored = -1, NO, 0.0, False
        for j in range(nd):
            if ign_dt[j] == -1 or assigned[j] or low[j]:
                continue
            o, s = ov[i][j], dt["score"][j]
            if not compute_fp and o > m and s > best:
                det, best = j, s
            elif compute_fp and o > m and (o > max_ov or took_ignored) and ign_dt[j] == 0:
                max_ov, det, best, took_ignored = o, j, 1, False
            elif compute_fp and o > m and best == NO and ign_dt[j] == 1:
                det, best, took_ignored = j, 1, True
        if best == NO and ign_gt[i] == 0:
            fn += 1
        elif best != NO and (ign_gt[i] == 1 or ign_dt[det] == 1):
            assigned[det] = True
        elif best != NO:
            tp += 1
            scores.append(dt["score"][det])
            sims.append((1 + math.cos(gt["alpha"][i] - dt["alpha"][det])) / 2)
            assigned[det] = True
    if compute_fp:
        fp = sum(1 for j in range(nd) if not (assigned[j] or ign_dt[j] != 0 or low[j]))
        if metric == 0:
            for box in dc:
                for j in range(nd):
                    if assigned[j] or ign_dt[j] != 0 or low[j]:
                        continue
                    b = dt["bbox"][j]
                    iw = min(b[2], box[2]) - max(b[0], box[0])
                    ih = min(b[3], box[3]) - max(b[1], box[1])
                    if iw > 0 and ih > 0 and iw * ih / ((b[2] - b[0]) * (b[3] - b[1])) > m:
                        assigned[j] = True
                        fp -= 1
    return tp, fp, fn, sum(sims), scores


def thresholds(scores, n_gt):
    scores = sorted(scores, reverse=True)
    out, current = [], 0.0
    for i, s in enumerate(scores):
        left = (i + 1) / n_gt
        right = (i + 2) / n_gt if i < len(scores) - 1 else left
        if (right - current) < (current - left) and i < len(scores) - 1:
            continue
        out.append(s)
        current += 1 / 40.0
    return out


def reference_ap(gts, dts, cls, d, metric, m):
    """(precision curve, aos curve), 41 points each, interpolated."""
    cls = cls.lower()
    frames = []
    all_scores, n_gt = [], 0
    for gt, dt in zip(gts, dts):
        ign_gt, ign_dt, dc, n = clean(gt, dt, cls, d)
        ov = [[overlap(gt, i, dt, j, metric) for j in range(len(dt["name"]))]
              for i in range(len(gt["name"]))]
        frames.append((gt, dt, ign_gt, ign_dt, dc, ov))
        n_gt += n
        all_scores += statistics(ov, gt, dt, ign_gt, ign_dt, dc, metric, m, 0.0, False)[4]
    thr = thresholds(all_scores, n_gt) if n_gt else []
    prec, aos = np.zeros(41), np.zeros(41)
    for k, t in enumerate(thr):
        tp = fp = 0
        sim = 0.0
        for gt, dt, ign_gt, ign_dt, dc, ov in frames:
            a, b, _, s, _ = statistics(ov, gt, dt, ign_gt, ign_dt, dc, metric, m, t, True)
            tp, fp, sim = tp + a, fp + b, sim + s
        prec[k] = tp / (tp + fp) if tp + fp else 0.0
        aos[k] = sim / (tp + fp) if tp + fp else 0.0
    for k in range(len(thr)):
        prec[k] = prec[k:].max()
        aos[k] = aos[k:].max()
    return prec, aos


def reference_result(gts, dts, cls, d, metric, m):
    prec, aos = reference_ap(gts, dts, cls, d, metric, m)
    r40 = lambda c: sum(c[1:]) / 40 * 100
    r11 = lambda c: sum(c[::4]) / 11 * 100
    return {"R40": r40(prec), "R11": r11(prec)}, {"R40": r40(aos), "R11": r11(aos)}


# ---------------------------------------------------------------- random scenes

NAMES = ["Car", "Car", "Car", "Van", "Pedestrian", "Pedestrian", "Person_sitting", "Cyclist",
         "Truck", "DontCare"]


def random_scene(rng: np.random.Generator, n_frames: int):
    """Crowded frames: ground truth of all classes and detections that overlap several."""
    gts, dts = [], []
    for _ in range(n_frames):
        n = int(rng.integers(0, 9))
        names = rng.choice(NAMES, n)
        x1 = rng.uniform(0, 300, n)
        y1 = rng.uniform(0, 100, n)
        hgt = rng.choice([20.0, 25.0, 30.0, 40.0, 45.0, 60.0], n) + rng.choice([0, 0, 2.5], n)
        wid = rng.uniform(20, 80, n)
        dims = np.c_[rng.uniform(1.4, 1.8, n), rng.uniform(0.6, 1.9, n), rng.uniform(0.6, 4.5, n)]
        loc = np.c_[rng.uniform(-4, 4, n), rng.uniform(1.0, 2.0, n), rng.uniform(5, 12, n)]
        gt = {"name": names, "truncated": rng.choice([0.0, 0.0, 0.1, 0.2, 0.4, 0.7], n),
              "occluded": rng.choice([0, 0, 0, 1, 2, 3], n),
              "alpha": rng.uniform(-np.pi, np.pi, n),
              "bbox": np.c_[x1, y1, x1 + wid, y1 + hgt], "dimensions": dims, "location": loc,
              "rotation_y": rng.uniform(-np.pi, np.pi, n)}
        found = rng.permutation(n)[: int(rng.integers(n // 2, n + 1))]
        dupes = rng.integers(0, max(n, 1), int(rng.integers(0, 3))) if n else []
        src = np.concatenate([found, dupes]).astype(int)
        k = len(src)
        noise = rng.choice([0.003, 0.01, 0.05, 0.2], (k, 1))  # from near-perfect to poor
        jit = rng.normal(0, 1, (k, 4)) * noise * 40
        det_names = np.where(rng.random(k) < 0.8, gt["name"][src],
                             rng.choice(["Car", "Pedestrian", "Cyclist"], k))
        det_names = np.where(det_names == "DontCare", "Car", det_names)
        dt = {"name": det_names.astype(object), "truncated": np.zeros(k),
              "occluded": np.zeros(k, int),
              "alpha": gt["alpha"][src] + rng.normal(0, 0.5, k),
              "bbox": gt["bbox"][src] + jit,
              "dimensions": dims[src] * (1 + rng.normal(0, 1, (k, 3)) * noise),
              "location": loc[src] + rng.normal(0, 1, (k, 3)) * noise * 2,
              "rotation_y": gt["rotation_y"][src] + rng.normal(0, 1, k) * noise[:, 0],
              "score": np.round(rng.uniform(0, 1, k), 1)}  # rounded: many tied scores
        gts.append(gt)
        dts.append(dt)
    return gts, dts


# ---------------------------------------------------------------- the comparison

OVERLAPS = {"strict": {"car": (0.7, 0.7, 0.7), "pedestrian": (0.5, 0.5, 0.5),
                       "cyclist": (0.5, 0.5, 0.5)},
            "loose": {"car": (0.7, 0.5, 0.5), "pedestrian": (0.5, 0.25, 0.25),
                      "cyclist": (0.5, 0.25, 0.25)}}


@pytest.mark.parametrize("seed,overlaps", [(0, "strict"), (1, "loose"), (2, "strict")])
def test_vectorised_evaluation_matches_the_per_frame_reference(seed, overlaps):
    gts, dts = random_scene(np.random.default_rng(seed), 40)
    ours = kitti_evaluate(gts, dts, overlaps=overlaps)
    nonzero = 0
    for cls in ("Car", "Pedestrian", "Cyclist"):
        for mi, metric in enumerate(("bbox", "bev", "3d")):
            m = OVERLAPS[overlaps][cls.lower()][mi]
            for d, diff in enumerate(("easy", "moderate", "hard")):
                ap, aos = reference_result(gts, dts, cls, d, mi, m)
                assert ours[cls][metric][diff] == pytest.approx(ap, abs=1e-9), (cls, metric, diff)
                if metric == "bbox":
                    assert ours[cls]["aos"][diff] == pytest.approx(aos, abs=1e-9), (cls, diff)
                nonzero += ap["R40"] > 0
    assert nonzero >= 20  # the scene is not trivially empty
