"""COCO detection and instance-segmentation mAP, computed by pycocotools' COCOeval.

The 12 numbers are exactly COCOeval.summarize()'s `stats` (IoU .50:.05:.95, area
ranges all/small/medium/large, maxDets 1/10/100), values in 0..1, with -1 kept where
pycocotools gives it (no ground truth in that area range). Predictions are COCO
result dicts: image_id, category_id, score and "bbox" [x, y, w, h] or "segmentation"
(an RLE, counts as str or bytes, or polygons).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.errors import DatasetError
from bench.metrics import MetricError
from bench.types import MetricInfo

COCO_STATS: tuple[str, ...] = (
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)
IOU_TYPES: tuple[str, ...] = ("bbox", "segm")
BACKENDS: tuple[str, ...] = ("pycocotools", "faster-coco-eval")

_DESCRIPTIONS = {
    "AP": "AP at IoU .50:.05:.95, all areas, 100 detections",
    "AP50": "AP at IoU .50",
    "AP75": "AP at IoU .75",
    "APs": "AP for small objects (area < 32^2)",
    "APm": "AP for medium objects (32^2 <= area < 96^2)",
    "APl": "AP for large objects (area >= 96^2)",
    "AR1": "AR with 1 detection per image",
    "AR10": "AR with 10 detections per image",
    "AR100": "AR with 100 detections per image",
    "ARs": "AR for small objects, 100 detections",
    "ARm": "AR for medium objects, 100 detections",
    "ARl": "AR for large objects, 100 detections",
}
_GT_KEYS = {"bbox": ("id", "image_id", "category_id", "iscrowd", "area", "bbox"),
            "segm": ("id", "image_id", "category_id", "iscrowd", "area", "segmentation")}


def coco_metric_infos(iou_type: str) -> list[MetricInfo]:
    """The 12 metrics of one IoU type, named "<iou_type>/<stat>" (e.g. "segm/AP50")."""
    _check_iou_type(iou_type)
    return [
        MetricInfo(
            f"{iou_type}/{stat}", True, "fraction 0..1", f"COCO {iou_type} {_DESCRIPTIONS[stat]}"
        )
        for stat in COCO_STATS
    ]


def coco_evaluate(
    coco_gt: Any,
    results: list[dict],
    iou_type: str,
    category_map: dict[int, int] | None = None,
    backend: str = "pycocotools",
) -> dict[str, float]:
    """The 12 COCO stats of `results` against `coco_gt` (a pycocotools COCO or a JSON path).

    `category_map` maps the network's label ids to the dataset's category ids; results
    whose label is not in it are dropped. No results at all give what COCOeval gives
    for an empty detection set: 0 wherever there is ground truth, -1 where there is none.
    `backend` "faster-coco-eval" uses that package (if installed) for the same numbers.
    As in pycocotools, COCOeval marks ground-truth annotations in place ("ignore", RLE).
    """
    _check_iou_type(iou_type)
    if backend not in BACKENDS:
        raise MetricError(f"unknown COCO backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    gt = load_coco_gt(coco_gt)
    check_ground_truth(gt.dataset, iou_type)
    image_ids, category_ids = set(gt.getImgIds()), set(gt.getCatIds())
    dets = prepare_results(results, iou_type, image_ids, category_ids, category_map)
    if backend == "faster-coco-eval":
        stats = _run_faster_coco_eval(gt.dataset, dets, iou_type)
    else:
        stats = _run_pycocotools(gt, dets, iou_type)
    return {name: float(value) for name, value in zip(COCO_STATS, stats)}


def load_coco_gt(coco_gt: Any) -> Any:
    """A pycocotools COCO from a COCO object, an instances JSON path, or its dict."""
    from pycocotools.coco import COCO

    if isinstance(coco_gt, COCO):
        return coco_gt
    if isinstance(coco_gt, (str, Path)):
        dataset, source = _read_json(Path(coco_gt), "annotations"), str(coco_gt)
    elif isinstance(coco_gt, dict):
        dataset, source = coco_gt, "(dict)"
    else:
        kind = type(coco_gt).__name__
        raise DatasetError(f"COCO ground truth must be a COCO object or a JSON path, not {kind}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(dataset.get(key) if isinstance(dataset, dict) else None, list):
            raise DatasetError(
                f"COCO annotations {source}: no {key!r} list; "
                "want an instances JSON (images, annotations, categories)"
            )
    gt = COCO()
    gt.dataset = dataset
    with quiet():
        gt.createIndex()
    return gt


def check_ground_truth(dataset: dict, iou_type: str) -> None:
    """Raise DatasetError if an annotation lacks a key COCOeval needs for `iou_type`."""
    for ann in dataset["annotations"]:
        missing = [k for k in _GT_KEYS[iou_type] if k not in ann]
        if missing:
            raise DatasetError(
                f"COCO annotation {ann.get('id', '?')} (image {ann.get('image_id', '?')}) lacks "
                f"{', '.join(missing)}, which {iou_type} evaluation needs"
            )


def prepare_results(
    results: Iterable[Mapping[str, Any]],
    iou_type: str,
    image_ids: set[int],
    category_ids: set[int],
    category_map: Mapping[int, int] | None = None,
) -> list[dict]:
    """Checked copies of `results`, labels mapped to dataset categories, RLE counts as str."""
    if category_map is not None:
        unknown = sorted({v for v in category_map.values() if v not in category_ids})
        if unknown:
            raise MetricError(f"category_map targets {unknown} are not categories of the dataset "
                              f"(its ids: {sorted(category_ids)})")
    geometry = "bbox" if iou_type == "bbox" else "segmentation"
    out = []
    for n, det in enumerate(results):
        if not isinstance(det, Mapping):
            raise MetricError(f"COCO result #{n} is a {type(det).__name__}, not a dict")
        missing = [k for k in ("image_id", "category_id", "score", geometry) if k not in det]
        if missing:
            lacks = ", ".join(missing)
            raise MetricError(f"COCO result #{n} lacks {lacks} (needed for {iou_type})")
        det = dict(det)
        if category_map is not None:
            if det["category_id"] not in category_map:
                continue
            det["category_id"] = category_map[det["category_id"]]
        if iou_type == "segm":
            det["segmentation"] = _rle_as_str(det["segmentation"])
        out.append(det)
    _check_result_images(out, image_ids)
    if iou_type == "segm" and len({"bbox" in d for d in out}) > 1:
        raise MetricError("segm results must all carry a 'bbox' or none of them "
                          "(pycocotools takes the area from the first result's kind)")
    return out


def _rle_as_str(segmentation: Any) -> Any:
    if isinstance(segmentation, Mapping) and isinstance(segmentation.get("counts"), bytes):
        return {**segmentation, "counts": segmentation["counts"].decode("ascii")}
    return segmentation


def _check_result_images(dets: list[dict], image_ids: set[int]) -> None:
    strangers = sorted({d["image_id"] for d in dets} - image_ids, key=str)
    if strangers:
        raise MetricError(f"COCO results name images not in the annotations: {strangers[:10]}"
                          f"{' ...' if len(strangers) > 10 else ''}")


def _run_pycocotools(gt: Any, dets: list[dict], iou_type: str) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with quiet():
        dt = gt.loadRes(dets) if dets else empty_results(COCO, gt.dataset)
        evaluator = COCOeval(gt, dt, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return list(evaluator.stats[: len(COCO_STATS)])


def _run_faster_coco_eval(dataset: dict, dets: list[dict], iou_type: str) -> list[float]:
    try:
        from faster_coco_eval import COCO, COCOeval_faster
    except ImportError as exc:
        raise MetricError("backend 'faster-coco-eval' is not installed: "
                          "pip install 'icm-bench[fast-coco]', or use 'pycocotools'") from exc

    def silent(*_: Any) -> None:
        return None

    with quiet():
        gt = COCO(dataset, use_deepcopy=True, print_function=silent)
        dt = gt.loadRes(dets) if dets else empty_results(COCO, dataset)
        evaluator = COCOeval_faster(gt, dt, iou_type, print_function=silent)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return list(evaluator.stats[: len(COCO_STATS)])


def empty_results(coco_cls: type, dataset: dict) -> Any:
    """A detection set with no detections over the ground truth's images and categories."""
    dt = coco_cls()
    dt.dataset = {"images": list(dataset["images"]), "categories": list(dataset["categories"]),
                  "annotations": []}
    dt.createIndex()
    return dt


@contextlib.contextmanager
def quiet():
    """Silence pycocotools' prints to stdout."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _check_iou_type(iou_type: str) -> None:
    if iou_type not in IOU_TYPES:
        choices = ", ".join(IOU_TYPES)
        raise MetricError(f"unknown COCO IoU type {iou_type!r}: choose one of {choices}")


def _read_json(path: Path, what: str) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise (DatasetError if what == "annotations" else MetricError)(
            f"COCO {what} file not found: {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise (DatasetError if what == "annotations" else MetricError)(
            f"COCO {what} file {path} is not readable JSON: {exc}") from exc


def coco_evaluate_files(
    annotations: str | Path,
    results_json: str | Path,
    iou_type: str,
    backend: str = "pycocotools",
) -> dict[str, float]:
    """The 12 stats for a results JSON file (a list of result dicts) against an instances JSON."""
    gt = load_coco_gt(annotations)
    results = _read_json(Path(results_json), "results")
    if not isinstance(results, list):
        raise MetricError(f"COCO results file {results_json} must hold a JSON list of result dicts")
    return coco_evaluate(gt, results, iou_type, backend=backend)


def format_coco_stats(stats: Mapping[str, float], iou_type: str) -> str:
    """A table of the 12 stats in pycocotools' order, x100 with two decimals (-1: no GT there)."""
    lines = [f"COCO {iou_type}", f"{'metric':<7} {'value':>7}  meaning"]
    for name in COCO_STATS:
        value = stats[name]
        shown = f"{100 * value:7.2f}" if value >= 0 else f"{'n/a':>7}"
        lines.append(f"{name:<7} {shown}  {_DESCRIPTIONS[name]}")
    return "\n".join(lines)


def eval_coco_cli(
    annotations: str | Path, results_json: str | Path, iou_type: str, backend: str, as_json: bool
) -> str:
    """What `icm-bench eval coco` prints: a table, or the stats as JSON."""
    stats = coco_evaluate_files(annotations, results_json, iou_type, backend)
    return json.dumps(stats, indent=2) if as_json else format_coco_stats(stats, iou_type)
