"""COCO metrics of a resampled image list (with repeats), for the bootstrap of BD values.

A bootstrap replicate draws the dataset's images with replacement; an image drawn
twice counts as two images. `coco_resampled_reference` does that literally: a ground
truth with one image per draw (ids 1..n) and the draws' detections, through
`coco_evaluate`. `CocoResampler` gives the same numbers faster: pycocotools matches
detections per image and category (`COCOeval.evaluate`), which a repeated image
repeats, so the matching runs once per point; each replicate then re-accumulates the
per-image records in draw order with pycocotools' `accumulate` and `summarize`
arithmetic (same sorting, same precision envelope, same means), vectorised over the
IoU thresholds. Tests require equality with the definition.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.metrics.coco import (
    COCO_STATS,
    coco_evaluate,
    empty_results,
    load_coco_gt,
    prepare_results,
    quiet,
)


def resampled_ground_truth(gt: dict, image_ids: Sequence[int]) -> tuple[dict, dict[int, list[int]]]:
    """The instances dict of the draws (image n -> id n + 1) and original id -> new ids."""
    images = {im["id"]: im for im in gt["images"]}
    anns: dict[int, list[dict]] = {}
    for a in gt["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    out_images, out_anns, new_ids = [], [], {}
    for n, image_id in enumerate(image_ids):
        new = n + 1
        new_ids.setdefault(int(image_id), []).append(new)
        out_images.append({**images[int(image_id)], "id": new})
        for a in anns.get(int(image_id), []):
            out_anns.append({**a, "id": len(out_anns) + 1, "image_id": new})
    return ({"images": out_images, "annotations": out_anns,
             "categories": list(gt["categories"])}, new_ids)


def coco_resampled_reference(gt: dict, results: list[dict], image_ids: Sequence[int],
                             iou_types: Sequence[str]) -> dict[str, float]:
    """COCO stats of the draws `image_ids`, each draw a distinct image (the definition)."""
    gt_draws, new_ids = resampled_ground_truth(gt, image_ids)
    dets = []
    for d in results:
        for new in new_ids.get(int(d["image_id"]), []):
            dets.append({**d, "image_id": new})
    out: dict[str, float] = {}
    for iou_type in iou_types:
        chosen = dets if iou_type == "bbox" else [d for d in dets if "segmentation" in d]
        stats = coco_evaluate(gt_draws, chosen, iou_type)
        out.update({f"{iou_type}/{k}": v for k, v in stats.items()})
    return out


class CocoResampler:
    """One point's per-image COCO matching, re-accumulated for any draw of its images."""

    def __init__(self, gt: dict, results: list[dict], iou_types: Sequence[str]):
        from pycocotools.cocoeval import COCOeval

        self.iou_types = tuple(iou_types)
        self._records: dict[str, _Records] = {}
        for iou_type in self.iou_types:
            coco_gt = load_coco_gt(copy.deepcopy(gt))  # COCOeval marks ground truth in place
            ids, cats = set(coco_gt.getImgIds()), set(coco_gt.getCatIds())
            dets = results if iou_type == "bbox" else [d for d in results if "segmentation" in d]
            dets = prepare_results(dets, iou_type, ids, cats)
            with quiet():
                coco_dt = coco_gt.loadRes(dets) if dets else _empty(coco_gt)
                ev = COCOeval(coco_gt, coco_dt, iou_type)
                ev.evaluate()
            self._records[iou_type] = _Records(ev)

    def __call__(self, image_ids: Sequence[int]) -> dict[str, float]:
        """The COCO stats of the draws `image_ids` (COCO image ids, repeats allowed)."""
        out: dict[str, float] = {}
        for iou_type, records in self._records.items():
            stats = records.stats(image_ids)
            out.update({f"{iou_type}/{k}": float(v) for k, v in zip(COCO_STATS, stats)})
        return out


class _Cell:
    """The records of one (category, area range): per image counts, flat detection arrays."""

    def __init__(self, k: int, a: int, recs: list[Any], n_thr: int):
        self.k, self.a = k, a
        self.lens = np.array([len(e["dtScores"]) if e else 0 for e in recs], dtype=int)
        self.starts = np.concatenate(([0], np.cumsum(self.lens)[:-1])).astype(int)
        self.ngt = np.array([np.count_nonzero(np.asarray(e["gtIgnore"]) == 0) if e else 0
                             for e in recs], dtype=int)
        used = [e for e in recs if e and len(e["dtScores"])]
        empty = np.zeros((n_thr, 0))
        self.scores = np.concatenate([e["dtScores"] for e in used]) if used else np.zeros(0)
        self.matches = np.concatenate([e["dtMatches"] for e in used], 1) if used else empty
        self.ignore = np.concatenate([e["dtIgnore"] for e in used], 1) if used else empty
        self.rank = np.concatenate([np.arange(n) for n in self.lens]).astype(int)

    def ragged(self, draw: np.ndarray) -> np.ndarray:
        """Flat indices of the drawn images' detections, image after image."""
        lens = self.lens[draw]
        total = int(lens.sum())
        if not total:
            return np.zeros(0, dtype=int)
        ends = np.cumsum(lens)
        return np.arange(total) + np.repeat(self.starts[draw] - (ends - lens), lens)


class _Records:
    """COCOeval's per-image records of one IoU type as flat arrays per (category, area)."""

    def __init__(self, ev: Any):
        p = ev._paramsEval
        self.iou_thrs, self.rec_thrs = np.asarray(p.iouThrs), np.asarray(p.recThrs)
        self.max_dets, self.area_lbl = list(p.maxDets), list(p.areaRngLbl)
        self.index = {int(i): n for n, i in enumerate(p.imgIds)}
        n_img, n_area, n_cat = len(p.imgIds), len(p.areaRng), len(p.catIds)
        self.cells = [
            _Cell(k, a, ev.evalImgs[(k * n_area + a) * n_img:(k * n_area + a + 1) * n_img],
                  len(self.iou_thrs))
            for k in range(n_cat) for a in range(n_area)]
        self.shape = (len(self.iou_thrs), len(self.rec_thrs), n_cat, n_area, len(self.max_dets))

    def stats(self, image_ids: Sequence[int]) -> list[float]:
        """accumulate() then summarize() of pycocotools over the draws, in draw order."""
        try:
            draw = np.array([self.index[int(i)] for i in image_ids], dtype=int)
        except KeyError as exc:
            raise KeyError(f"image {exc.args[0]} is not in the evaluated ground truth") from None
        n_thr, _, n_cat, n_area, n_m = self.shape
        precision = -np.ones(self.shape)
        recall = -np.ones((n_thr, n_cat, n_area, n_m))
        for cell in self.cells:
            npig = int(cell.ngt[draw].sum())
            if npig == 0:
                continue
            idx = cell.ragged(draw)
            pr, rec = self._curve(cell, idx, npig)  # the largest maxDets: all detections
            precision[:, :, cell.k, cell.a, n_m - 1] = pr
            recall[:, cell.k, cell.a, n_m - 1] = rec
            if self.area_lbl[cell.a] != "all":
                continue  # summarize reads smaller maxDets only as recall over all areas
            for m, max_det in enumerate(self.max_dets[:-1]):
                keep = idx[cell.rank[idx] < max_det]
                tp = np.count_nonzero((cell.matches[:, keep] != 0) & (cell.ignore[:, keep] == 0),
                                      axis=1)
                recall[:, cell.k, cell.a, m] = tp / npig if len(keep) else 0.0
        return self._summarize(precision, recall)

    def _curve(self, cell: _Cell, keep: np.ndarray, npig: int) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated precision at the recall thresholds (T x R) and the final recall."""
        n_thr = len(self.iou_thrs)
        order = np.argsort(-cell.scores[keep], kind="mergesort")
        dtm = cell.matches[:, keep][:, order] != 0
        dt_ig = cell.ignore[:, keep][:, order] != 0
        tps = np.cumsum(dtm & ~dt_ig, axis=1).astype(float)
        fps = np.cumsum(~dtm & ~dt_ig, axis=1).astype(float)
        nd = tps.shape[1]
        q = np.zeros((n_thr, len(self.rec_thrs)))
        if not nd:
            return q, np.zeros(n_thr)
        pr = tps / (fps + tps + np.spacing(1))
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # the precision envelope
        rc = tps / npig
        for t in range(n_thr):
            inds = np.searchsorted(rc[t], self.rec_thrs, side="left")
            ok = inds < nd
            q[t, ok] = pr[t, inds[ok]]
        return q, rc[:, -1]

    def _summarize(self, precision: np.ndarray, recall: np.ndarray) -> list[float]:
        """pycocotools' summarize(): means over the entries > -1 (-1 when there are none)."""
        big = self.max_dets[2]
        plan = [(1, None, "all", big), (1, 0.5, "all", big), (1, 0.75, "all", big),
                (1, None, "small", big), (1, None, "medium", big), (1, None, "large", big),
                (0, None, "all", self.max_dets[0]), (0, None, "all", self.max_dets[1]),
                (0, None, "all", big), (0, None, "small", big), (0, None, "medium", big),
                (0, None, "large", big)]
        out = []
        for ap, thr, area, max_det in plan:
            aind = [i for i, lbl in enumerate(self.area_lbl) if lbl == area]
            mind = [i for i, d in enumerate(self.max_dets) if d == max_det]
            s = precision if ap else recall
            if thr is not None:
                s = s[np.where(thr == self.iou_thrs)[0]]
            s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
            out.append(float(np.mean(s[s > -1])) if len(s[s > -1]) else -1.0)
        return out


def _empty(coco_gt: Any) -> Any:
    """A detection set with no detections over the ground truth's images and categories."""
    from pycocotools.coco import COCO

    return empty_results(COCO, coco_gt.dataset)
