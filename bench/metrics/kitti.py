"""The KITTI object benchmark: AP2D, APBEV, AP3D and AOS at R40 and R11.

The rules are those of the official devkit (evaluate_object.cpp) and its widely used
Python port (kitti_object_eval_python):

* difficulties easy / moderate / hard keep ground truth taller than 40 / 25 / 25 px,
  occluded at most 0 / 1 / 2 and truncated at most 0.15 / 0.3 / 0.5; the levels are
  cumulative; other ground truth of the class is "ignored" (neither TP nor FN, but it
  absorbs a detection);
* neighbouring classes (Van for Car, Person_sitting for Pedestrian) are ignored ground
  truth; detections lower than the minimum height are ignored detections, whatever
  their class (as in both references);
* a detection matches when its overlap is strictly greater than the class threshold;
  in 2D, unmatched detections inside a DontCare region (intersection over the
  detection's area above the threshold) are not false positives;
* score thresholds are picked at 41 recall positions from the true positives' scores,
  precision at each is interpolated as the maximum to its right, and AP is the mean
  over positions 1..40 (R40) or 0, 4, ..., 40 (R11), in percent; AOS weighs each true
  positive by (1 + cos(delta alpha)) / 2 (computed when no detection has alpha = -10).

The per-frame greedy matching is run for all frames at once: the k-th ground truth
(with candidates) of every frame is matched in one vectorised step, and the 41 score
thresholds are one more array axis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics import MetricError
from bench.metrics.kitti_io import check_anno, label_dir_ids, read_label_dir
from bench.metrics.kitti_iou import bev_iou_pairs, bev_parts, image_iou_pairs, iou_3d_pairs
from bench.types import MetricInfo

CLASSES = ("Car", "Pedestrian", "Cyclist")
DIFFICULTIES = ("easy", "moderate", "hard")
METRICS = ("bbox", "bev", "3d")
MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
NEIGHBOUR = {"car": "van", "pedestrian": "person_sitting"}
# minimum overlap per class for (bbox, bev, 3d)
MIN_OVERLAPS = {
    "strict": {"car": (0.7, 0.7, 0.7), "pedestrian": (0.5, 0.5, 0.5),
               "cyclist": (0.5, 0.5, 0.5)},
    "loose": {"car": (0.7, 0.5, 0.5), "pedestrian": (0.5, 0.25, 0.25),
              "cyclist": (0.5, 0.25, 0.25)},
}
N_SAMPLE_PTS = 41
_NO_SCORE = -10000000.0  # the references' NO_DETECTION: scores at or below never match


def kitti_evaluate(gt_annos: list[dict], dt_annos: list[dict],
                   classes: tuple[str, ...] | list[str] = CLASSES,
                   overlaps: str = "strict") -> dict[str, Any]:
    """KITTI AP in percent: {class: {"bbox"|"bev"|"3d"|"aos": {difficulty: {"R40", "R11"}}}}.

    Args:
        gt_annos: one ground-truth dict per frame (see `kitti_io.read_label_file`).
        dt_annos: one detection dict per frame, in the same order, with "score".
        classes: any of Car, Pedestrian, Cyclist (case-insensitive).
        overlaps: "strict" (0.7 / 0.5 / 0.5 everywhere) or "loose" (BEV and 3D at
            0.5 / 0.25 / 0.25).

    "aos" is left out when a detection has alpha = -10 (no orientation given).
    """
    names = _check_classes(classes)
    _check_overlaps(overlaps)
    if len(gt_annos) != len(dt_annos):
        raise MetricError(f"{len(gt_annos)} ground-truth frames but {len(dt_annos)} "
                          "detection frames; give one annotation dict per frame, in the same order")
    data = _Frames(gt_annos, dt_annos, names)
    result: dict[str, Any] = {}
    for cls in names:
        per_metric: dict[str, Any] = {}
        for mi, metric in enumerate(METRICS):
            m = MIN_OVERLAPS[overlaps][cls][mi]
            curves = [data.curves(cls, d, mi, m) for d in range(len(DIFFICULTIES))]
            per_metric[metric] = {diff: _ap(c[0]) for diff, c in zip(DIFFICULTIES, curves)}
            if metric == "bbox":
                aos = {diff: _ap(c[1]) for diff, c in zip(DIFFICULTIES, curves)}
        if data.compute_aos:
            per_metric["aos"] = aos
        result[_canonical(cls)] = per_metric
    return result


def flatten_kitti(result: dict[str, Any]) -> dict[str, float]:
    """{"Car/3d/moderate/R40": AP, ...} from a `kitti_evaluate` result."""
    return {f"{cls}/{metric}/{diff}/{ap}": float(v)
            for cls, metrics in result.items() for metric, diffs in metrics.items()
            for diff, aps in diffs.items() for ap, v in aps.items()}


def kitti_metric_infos(classes: tuple[str, ...] | list[str] = CLASSES) -> list[MetricInfo]:
    """The flattened KITTI metrics (all higher-is-better, in percent)."""
    infos = []
    for cls in (_canonical(c) for c in _check_classes(classes)):
        for metric in METRICS + ("aos",):
            for diff in DIFFICULTIES:
                for ap, pts in (("R40", "positions 1..40"), ("R11", "positions 0, 4, ..., 40")):
                    what = "AOS" if metric == "aos" else f"AP {metric}"
                    infos.append(MetricInfo(
                        name=f"{cls}/{metric}/{diff}/{ap}", higher_is_better=True, unit="%",
                        description=f"KITTI {cls} {what}, {diff}, mean over recall {pts}"))
    return infos


def evaluate_label_dirs(label_dir: str | Path, pred_dir: str | Path,
                        ids_file: str | Path | None = None, overlaps: str = "strict",
                        classes: tuple[str, ...] | list[str] = CLASSES) -> dict[str, Any]:
    """`kitti_evaluate` over ``<label_dir>/<id>.txt`` and ``<pred_dir>/<id>.txt``."""
    _check_classes(classes)
    _check_overlaps(overlaps)
    ids = label_dir_ids(label_dir, ids_file)
    gt = read_label_dir(label_dir, ids)
    dt = read_label_dir(pred_dir, ids)
    for i, anno in zip(ids, dt):
        if len(anno["name"]) and "score" not in anno:
            raise MetricError(f"{str(Path(pred_dir) / (i + '.txt'))!r} has 15 columns; "
                              "detections need a 16th column, the score")
    return kitti_evaluate(gt, dt, classes=classes, overlaps=overlaps)


def eval_kitti_cli(label_dir: str | Path, pred_dir: str | Path,
                   ids_file: str | Path | None = None, overlaps: str = "strict",
                   as_json: bool = False) -> str:
    """What `icm-bench eval kitti` prints: a table, or the result as JSON."""
    result = evaluate_label_dirs(label_dir, pred_dir, ids_file, overlaps)
    return json.dumps(result, indent=2) if as_json else format_kitti_table(result, overlaps)


def format_kitti_table(result: dict[str, Any], overlaps: str = "strict") -> str:
    """A plain-text table of a `kitti_evaluate` result."""
    lines = []
    for cls, metrics in result.items():
        thr = MIN_OVERLAPS[overlaps][cls.lower()]
        lines.append(f"{cls}  (IoU > bbox {thr[0]:.2f}, bev {thr[1]:.2f}, 3d {thr[2]:.2f})")
        lines.append(f"  {'':5} {'R40 easy':>9} {'moderate':>9} {'hard':>9}"
                     f"   {'R11 easy':>9} {'moderate':>9} {'hard':>9}")
        for metric, diffs in metrics.items():
            r40 = " ".join(f"{diffs[d]['R40']:9.4f}" for d in DIFFICULTIES)
            r11 = " ".join(f"{diffs[d]['R11']:9.4f}" for d in DIFFICULTIES)
            lines.append(f"  {metric:5} {r40}   {r11}")
    return "\n".join(lines)


def score_thresholds(scores: np.ndarray, n_gt: int, n_points: int = N_SAMPLE_PTS) -> np.ndarray:
    """The true positives' scores nearest to `n_points` evenly spaced recalls (devkit rule)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    n = len(s)
    if n == 0 or n_gt <= 0:
        return np.zeros(0)
    left = np.arange(1, n + 1) / n_gt
    right = np.append(np.arange(2, n + 1) / n_gt, left[-1])
    picked, current, start = [], 0.0, 0
    while start < n:
        skip = (right[start:] - current) < (current - left[start:])
        skip[-1] = False  # the last score is always taken
        j = start + int(np.argmax(~skip))
        picked.append(s[j])
        current += 1.0 / (n_points - 1.0)
        start = j + 1
    return np.array(picked[:n_points])


def _ap(curve: np.ndarray) -> dict[str, float]:
    """R40 and R11 in percent from a 41-point interpolated curve (sequential sums)."""
    r40 = np.cumsum(curve[1:])[-1] / 40 * 100
    r11 = np.cumsum(curve[::4])[-1] / 11 * 100
    return {"R40": float(r40), "R11": float(r11)}


def _canonical(name: str) -> str:
    return {"car": "Car", "pedestrian": "Pedestrian", "cyclist": "Cyclist"}[name.lower()]


def _check_overlaps(overlaps: str) -> None:
    if overlaps not in MIN_OVERLAPS:
        raise MetricError(f"overlaps must be 'strict' or 'loose', got {overlaps!r}")


def _check_classes(classes: tuple[str, ...] | list[str]) -> list[str]:
    if isinstance(classes, str):
        classes = [classes]
    names = [str(c).lower() for c in classes]
    bad = [c for c in classes if str(c).lower() not in MIN_OVERLAPS["strict"]]
    if bad or not names:
        raise MetricError(f"KITTI classes must be among {list(CLASSES)}, got {list(classes)}")
    return list(dict.fromkeys(names))


def _frame_pairs(frame_a: np.ndarray, frame_b: np.ndarray, n_frames: int):
    """All (i, j) with frame_a[i] == frame_b[j], for frame-sorted index arrays."""
    ca = np.bincount(frame_a, minlength=n_frames)
    cb = np.bincount(frame_b, minlength=n_frames)
    sa, sb = np.cumsum(ca) - ca, np.cumsum(cb) - cb
    per = ca * cb
    f = np.repeat(np.arange(n_frames), per)
    q = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    return sa[f] + q // cb[f], sb[f] + q % cb[f]


def _concat(annos: list[dict], key: str, width: int | None = None) -> np.ndarray:
    parts = [a[key] for a in annos]
    if not parts:
        return np.zeros((0, width) if width else 0)
    return np.concatenate(parts, axis=0)


def _boxes7(annos: list[dict]) -> np.ndarray:
    return np.concatenate([_concat(annos, "location", 3), _concat(annos, "dimensions", 3),
                           _concat(annos, "rotation_y")[:, None]], axis=1)


class _Frames:
    """All frames' objects concatenated, and the overlaps of the pairs that can match."""

    def __init__(self, gt_annos: list[dict], dt_annos: list[dict], classes: list[str]):
        gt = [check_anno(a, False, f"ground truth frame {i}") for i, a in enumerate(gt_annos)]
        dt = [check_anno(a, True, f"detection frame {i}") for i, a in enumerate(dt_annos)]
        n_frames = len(gt)
        self.gt_frame = np.repeat(np.arange(n_frames), [len(a["name"]) for a in gt])
        self.dt_frame = np.repeat(np.arange(n_frames), [len(a["name"]) for a in dt])
        self.gt_name = np.char.lower(_concat(gt, "name").astype(str))
        self.dt_name = np.char.lower(_concat(dt, "name").astype(str))
        gt_bbox, dt_bbox = _concat(gt, "bbox", 4), _concat(dt, "bbox", 4)
        self.gt_height = gt_bbox[:, 3] - gt_bbox[:, 1]
        self.dt_height = np.abs(dt_bbox[:, 3] - dt_bbox[:, 1])
        self.occluded, self.truncated = _concat(gt, "occluded"), _concat(gt, "truncated")
        self.gt_alpha, self.dt_alpha = _concat(gt, "alpha"), _concat(dt, "alpha")
        self.score = _concat(dt, "score")
        self.compute_aos = not np.any(self.dt_alpha == -10)
        self.dc_ratio = self._dontcare_ratio(gt_bbox, dt_bbox, n_frames)
        wanted_gt = set(classes) | {NEIGHBOUR[c] for c in classes if c in NEIGHBOUR}
        gi = np.flatnonzero(np.isin(self.gt_name, sorted(wanted_gt)))
        di = np.flatnonzero(np.isin(self.dt_name, classes) | (self.dt_height < max(MIN_HEIGHT)))
        pa, pb = _frame_pairs(self.gt_frame[gi], self.dt_frame[di], n_frames)
        ga, gb = _boxes7(gt)[gi], _boxes7(dt)[di]
        parts = bev_parts(ga, gb, pa, pb)
        ov = np.stack([image_iou_pairs(gt_bbox[gi[pa]], dt_bbox[di[pb]]),
                       bev_iou_pairs(ga, gb, pa, pb, parts),
                       iou_3d_pairs(ga, gb, pa, pb, parts)])
        keep = ov.max(axis=0) > 0
        self.pair_gt, self.pair_dt, self.pair_ov = gi[pa[keep]], di[pb[keep]], ov[:, keep]

    def _dontcare_ratio(self, gt_bbox, dt_bbox, n_frames) -> np.ndarray:
        """Per detection, the largest share of its box inside one DontCare region."""
        dc = np.flatnonzero(self.gt_name == "dontcare")
        ratio = np.zeros(len(dt_bbox))
        i, j = _frame_pairs(self.dt_frame, self.gt_frame[dc], n_frames)
        if len(i):
            a, b = dt_bbox[i], gt_bbox[dc[j]]
            iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
            ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
            area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
            hit = (iw > 0) & (ih > 0) & (area != 0)
            share = np.divide(iw * ih, area, out=np.zeros(len(i)), where=hit)
            np.maximum.at(ratio, i, share)
        return ratio

    def ignore_flags(self, cls: str, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Devkit cleanData: 0 = evaluated, 1 = ignored, -1 = not of this class."""
        own = self.gt_name == cls
        neighbour = self.gt_name == NEIGHBOUR.get(cls, "\0")
        hidden = ((self.occluded > MAX_OCCLUSION[d]) | (self.truncated > MAX_TRUNCATION[d])
                  | (self.gt_height <= MIN_HEIGHT[d]))
        ign_gt = np.where(own & ~hidden, 0, np.where(neighbour | own, 1, -1))
        ign_dt = np.where(self.dt_height < MIN_HEIGHT[d], 1,
                          np.where(self.dt_name == cls, 0, -1))
        return ign_gt, ign_dt

    def curves(self, cls: str, d: int, mi: int, m: float) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated precision and orientation-similarity curves (41 points each)."""
        ign_gt, ign_dt = self.ignore_flags(cls, d)
        n_valid = int(np.count_nonzero(ign_gt == 0))
        ov = self.pair_ov[mi]
        cand = (ov > m) & (ign_gt[self.pair_gt] != -1) & (ign_dt[self.pair_dt] != -1)
        g, t, o = self.pair_gt[cand], self.pair_dt[cand], ov[cand]
        rank = _rank_in_frame(g, self.gt_frame)
        # pass 1: highest-scoring candidate per ground truth -> scores of true positives
        order = np.lexsort((t, -self.score[t], g, rank))
        allowed = (self.score[t[order]] > _NO_SCORE)[None, :]
        gts, pick = _greedy_match(rank[order], g[order], t[order], allowed)
        tp1 = (pick[0] >= 0) & (ign_gt[gts] == 0) & (ign_dt[np.maximum(pick[0], 0)] == 0)
        thresholds = score_thresholds(self.score[pick[0][tp1]], n_valid)
        # pass 2, per threshold: an evaluated detection of largest overlap, else the first
        # ignored one
        ignored = ign_dt[t] == 1
        order = np.lexsort((t, np.where(ignored, 0.0, -o), ignored, g, rank))
        allowed = self.score[t[order]][None, :] >= thresholds[:, None]
        gts, pick = _greedy_match(rank[order], g[order], t[order], allowed)
        found = pick >= 0
        det = np.maximum(pick, 0)
        is_tp = found & (ign_gt[gts] == 0) & (ign_dt[det] == 0)
        tp = is_tp.sum(axis=1)
        in_dontcare = self.dc_ratio > m if mi == 0 else np.zeros(len(ign_dt), dtype=bool)
        counted = (ign_dt == 0) & ~in_dontcare
        above = np.sort(self.score[counted])
        n_above = len(above) - np.searchsorted(above, thresholds, side="left")
        fp = n_above - (found & counted[det]).sum(axis=1)
        similarity = np.where(is_tp, (1.0 + np.cos(self.gt_alpha[gts] - self.dt_alpha[det]))
                              / 2.0, 0.0).sum(axis=1)
        return _interpolate(tp, fp, n_points=N_SAMPLE_PTS), _interpolate(
            tp, fp, similarity, n_points=N_SAMPLE_PTS)


def _interpolate(tp: np.ndarray, fp: np.ndarray, numerator: np.ndarray | None = None,
                 n_points: int = N_SAMPLE_PTS) -> np.ndarray:
    """Numerator / (tp + fp) per threshold, padded to `n_points`, max to the right."""
    num = tp if numerator is None else numerator
    den = (tp + fp).astype(np.float64)
    curve = np.zeros(n_points)
    k = min(len(tp), n_points)
    curve[:k] = np.divide(num[:k], den[:k], out=np.zeros(k), where=den[:k] > 0)
    return np.maximum.accumulate(curve[::-1])[::-1]


def _rank_in_frame(gt: np.ndarray, gt_frame: np.ndarray) -> np.ndarray:
    """For each pair, its ground truth's position among the frame's ground truth with pairs."""
    if len(gt) == 0:
        return np.zeros(0, dtype=np.int64)
    ug, inv = np.unique(gt, return_inverse=True)
    _, first, counts = np.unique(gt_frame[ug], return_index=True, return_counts=True)
    return (np.arange(len(ug)) - np.repeat(first, counts))[inv]


def _greedy_match(rank: np.ndarray, gt: np.ndarray, det: np.ndarray, allowed: np.ndarray):
    """Match each ground truth, in frame order, to its first still-free allowed candidate.

    Pairs come sorted by (rank, ground truth, preference). `allowed` is (T, P): which
    pairs are usable at each of T score thresholds. Returns the ground-truth ids (one per
    run of pairs) and a (T, G) array of the chosen detection (-1 for none).
    """
    n_t = allowed.shape[0]
    if len(gt) == 0:
        return np.zeros(0, dtype=np.int64), np.full((n_t, 0), -1, dtype=np.int64)
    seg = np.flatnonzero(np.r_[True, gt[1:] != gt[:-1]])
    seg_end = np.r_[seg[1:], len(gt)]
    rank_bounds = np.searchsorted(rank[seg], np.arange(rank[-1] + 2))
    _, slot = np.unique(det, return_inverse=True)
    assigned = np.zeros((n_t, slot.max() + 1), dtype=bool)
    pick = np.full((n_t, len(seg)), -1, dtype=np.int64)
    for r in range(len(rank_bounds) - 1):
        s0, s1 = rank_bounds[r], rank_bounds[r + 1]
        p0, p1 = seg[s0], seg_end[s1 - 1]
        free = allowed[:, p0:p1] & ~assigned[:, slot[p0:p1]]
        pos = np.where(free, np.arange(p1 - p0), p1 - p0)
        first = np.minimum.reduceat(pos, seg[s0:s1] - p0, axis=1)
        found = first < (p1 - p0)
        pair = p0 + np.minimum(first, p1 - p0 - 1)
        ti, si = np.nonzero(found)
        assigned[ti, slot[pair[ti, si]]] = True
        pick[:, s0:s1] = np.where(found, det[pair], -1)
    return gt[seg], pick
