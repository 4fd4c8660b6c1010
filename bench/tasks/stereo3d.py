"""Stereo 3D object detection on KITTI-layout data, and its KITTI AP evaluator.

Predictions of one frame are a JSON-able list of detections, one dict per object
with the 16 fields of a KITTI result line: ``type``, ``truncated``, ``occluded``,
``alpha``, ``bbox`` [x1, y1, x2, y2] (original image pixels), ``dimensions``
[h, w, l] (metres, label order), ``location`` [x, y, z] (bottom centre, rectified
camera frame), ``rotation_y`` and ``score``.

Split point "stereo": the backbone's f0 (1/4), f1 (1/8) and f2 (1/16) of both
views, named "left/f0" ... "right/f2", float32 C x H x W (no batch axis).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.errors import TaskError
from bench.tasks.base import Evaluator, Task
from bench.types import MetricInfo, Sample, SplitDesc

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "models" / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "stereo3d.pt"
WEIGHTS_FORMAT = "icm-bench/stereo3d/1"
DETECTION_KEYS = ("type", "truncated", "occluded", "alpha", "bbox", "dimensions", "location",
                  "rotation_y", "score")


def load_stereo3d(path: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """The network from a weights file (bench.checkpoint: weights only) and its summary."""
    from bench.models.stereo3d import build_model

    path = Path(path)
    if not path.is_file():
        raise TaskError(f"stereo3d weights {str(path)!r} do not exist; train them with "
                        "`icm-bench train stereo3d --set out=PATH` or pass `weights`")
    from bench.checkpoint import CheckpointError, load_checkpoint

    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as exc:
        raise TaskError(f"cannot load the stereo3d weights: {exc}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != WEIGHTS_FORMAT:
        raise TaskError(f"{str(path)!r} is not a stereo3d weights file (format "
                        f"{WEIGHTS_FORMAT!r}, as written by `icm-bench train stereo3d`)")
    model = build_model(ckpt.get("config"))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise TaskError(f"stereo3d weights {str(path)!r} do not fit the network: {exc}") from None
    return model.to(device).eval(), dict(ckpt.get("summary") or {})


class Stereo3DTask(Task):
    """The project's stereo 3D detector (bench.models.stereo3d) on a KITTI-layout dataset.

    Args:
        weights: a weights file; default the committed bench/models/weights/stereo3d.pt.
        device: "auto" (CUDA when available), "cpu" or "cuda[:n]".
        score_thresh: detections scoring below are dropped.
        topk: at most this many detections per frame.
    """

    name: ClassVar[str] = "stereo3d"
    version: ClassVar[str] = "1"
    split_points: ClassVar[tuple[str, ...]] = ("stereo",)
    stereo_splits: ClassVar[tuple[str, ...]] = ("stereo",)

    def __init__(self, weights: str | Path | None = None, device: str = "auto",
                 score_thresh: float = 0.05, topk: int = 50):
        self.weights = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        if not self.weights.is_file():
            raise TaskError(f"stereo3d weights {str(self.weights)!r} do not exist; train them "
                            "with `icm-bench train stereo3d --set out=PATH` or pass `weights`")
        self.device = self.device_name = device
        self.score_thresh = float(score_thresh)
        self.topk = int(topk)
        self._model: Any = None
        self._hash: str | None = None

    def model(self) -> Any:
        if self._model is None:
            import torch

            device = self.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model, _ = load_stereo3d(self.weights, device)
            self._torch_device = device
        return self._model

    def _inputs(self, sample: Sample):
        from bench.models.stereo3d_decode import image_tensor, net_geometry

        if not sample.stereo or not {"P2", "P3"} <= set(sample.calib or {}):
            raise TaskError(f"stereo3d needs a stereo sample with P2/P3 calibration (a KITTI "
                            f"dataset); item {sample.id!r} has {len(sample.images)} view(s)")
        h, w = sample.images[0].shape[:2]
        geo = net_geometry((w, h), sample.calib)
        self.model()
        left, right = (image_tensor(im, geo).to(self._torch_device) for im in sample.images)
        return geo, left, right

    def predict(self, sample: Sample) -> list[dict[str, Any]]:
        import torch

        from bench.models.stereo3d_decode import decode_detections

        geo, left, right = self._inputs(sample)
        with torch.no_grad():
            out = {k: v.cpu() for k, v in self.model()(left, right).items()}
        return decode_detections(out, geo, self.score_thresh, self.topk)

    def features(self, sample: Sample, split: str) -> dict[str, np.ndarray]:
        import torch

        self._check_split(split)
        _, left, right = self._inputs(sample)
        with torch.no_grad():
            feats = self.model().features(left, right)
        return {k: v[0].float().cpu().numpy().astype(np.float32) for k, v in feats.items()}

    def head(self, features: dict[str, np.ndarray], sample: Sample,
             split: str) -> list[dict[str, Any]]:
        import torch

        from bench.models.stereo3d_decode import decode_detections, net_geometry

        self._check_split(split)
        h, w = sample.images[0].shape[:2] if sample.images else sample.meta["image_size"][::-1]
        geo = net_geometry((w, h), sample.calib or {})
        self._check_features(features, geo)
        model = self.model()
        feats = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))[None]
                 .to(self._torch_device) for k, v in features.items()}
        with torch.no_grad():
            out = {k: v.cpu() for k, v in model.head(feats).items()}
        return decode_detections(out, geo, self.score_thresh, self.topk)

    def split_desc(self, split: str) -> SplitDesc:
        """left/f0..f2 and right/f0..f2 with the network's widths, strides 4/8/16."""
        from bench.models.stereo3d import FEATURE_NAMES, STRIDES

        self._check_split(split)
        widths = list(self.model().config["widths"])
        names = tuple(f"{side}/{n}" for side in ("left", "right") for n in FEATURE_NAMES)
        return SplitDesc(split, names, tuple(widths) * 2,
                         tuple(STRIDES[n] for n in FEATURE_NAMES) * 2, stereo=True)

    def check(self) -> None:
        from bench.checkpoint import CheckpointError, check_no_code

        try:
            check_no_code(self.weights)
        except CheckpointError as exc:
            raise TaskError(f"stereo3d weights: {exc}") from None

    def _check_split(self, split: str) -> None:
        if split not in self.split_points:
            raise TaskError(f"task 'stereo3d' has no split point {split!r} (it has: stereo)")

    def _check_features(self, features: dict[str, np.ndarray], geo: Any) -> None:
        from bench.models.stereo3d import FEATURE_NAMES, STRIDES

        widths = self.model().config["widths"]
        pw, ph = geo.padded_size
        for side in ("left", "right"):
            for name, ch in zip(FEATURE_NAMES, widths):
                key, s = f"{side}/{name}", STRIDES[name]
                want = (ch, ph // s, pw // s)
                got = tuple(np.shape(features.get(key, ())))
                if got != want:
                    raise TaskError(f"stereo3d head: feature {key!r} has shape {got}, expected "
                                    f"{want} for a {geo.image_size[0]}x{geo.image_size[1]} frame")

    def evaluator(self, dataset: Any) -> Evaluator:
        return KittiEvaluator(dataset)

    def weights_hash(self) -> str:
        if self._hash is None:
            from bench.checkpoint import file_sha256

            self._hash = file_sha256(self.weights)
        return self._hash

    def params(self) -> dict[str, Any]:
        return {"weights": str(self.weights), "score_thresh": self.score_thresh, "topk": self.topk}


class KittiEvaluator(Evaluator):
    """KITTI AP2D / APBEV / AP3D / AOS (R40 and R11, easy/moderate/hard) of bench.metrics.kitti."""

    def __init__(self, dataset: Any, classes: tuple[str, ...] = ("Car", "Pedestrian", "Cyclist"),
                 overlaps: str = "strict"):
        if not hasattr(dataset, "label_annos"):
            raise TaskError("the KITTI evaluator needs a KITTI dataset (kitti or synthetic-kitti), "
                            f"got {type(dataset).__name__}")
        self.dataset = dataset
        self.classes = tuple(classes)
        self.overlaps = overlaps

    def metrics(self) -> list[MetricInfo]:
        from bench.metrics.kitti import kitti_metric_infos

        return kitti_metric_infos(self.classes)

    def evaluate(self, predictions: dict[str, Any]) -> dict[str, float]:
        from bench.metrics.kitti import flatten_kitti, kitti_evaluate
        from bench.models.stereo3d_decode import detections_to_anno

        known = set(self.dataset.ids())
        unknown = [i for i in predictions if i not in known]
        if unknown:
            raise TaskError(f"predictions for {len(unknown)} item(s) not in the dataset, "
                            f"e.g. {unknown[:3]}")
        ids = [i for i in self.dataset.ids() if i in predictions]
        dt = [detections_to_anno(check_detections(predictions[i], i)) for i in ids]
        result = kitti_evaluate(self.dataset.label_annos(ids), dt, self.classes, self.overlaps)
        return flatten_kitti(result)

    def evaluate_resampled(self, predictions: dict[str, Any], ids: Sequence[str]
                           ) -> dict[str, float]:
        """Metrics over the frame list `ids` (a bootstrap draw: a frame drawn twice counts as
        two frames); frames without predictions (failed) are left out, as in `evaluate`."""
        return self.resampler(predictions)(ids)

    def resampler(self, predictions: dict[str, Any]) -> Callable[[Sequence[str]], dict[str, float]]:
        """`evaluate_resampled(predictions, ids)` for many draws: labels read once."""
        from bench.metrics.kitti import flatten_kitti, kitti_evaluate
        from bench.models.stereo3d_decode import detections_to_anno

        known = set(self.dataset.ids())
        unknown = [i for i in predictions if i not in known]
        if unknown:
            raise TaskError(f"predictions for {len(unknown)} item(s) not in the dataset, "
                            f"e.g. {unknown[:3]}")
        ids = [i for i in self.dataset.ids() if i in predictions]
        gt = dict(zip(ids, self.dataset.label_annos(ids)))
        dt = {i: detections_to_anno(check_detections(predictions[i], i)) for i in ids}

        def score(draw: Sequence[str]) -> dict[str, float]:
            kept = [i for i in draw if i in dt]
            return flatten_kitti(kitti_evaluate([gt[i] for i in kept], [dt[i] for i in kept],
                                                self.classes, self.overlaps))

        return score


def check_detections(dets: Any, item_id: str) -> list[dict[str, Any]]:
    """Raise TaskError unless `dets` is a list of KITTI detection dicts."""
    if not isinstance(dets, list):
        raise TaskError(f"predictions of item {item_id!r} must be a list of detection dicts, "
                        f"got {type(dets).__name__}")
    for n, det in enumerate(dets):
        missing = [k for k in DETECTION_KEYS if not isinstance(det, dict) or k not in det]
        if missing:
            raise TaskError(f"item {item_id!r}, detection #{n} lacks {', '.join(missing)}")
    return dets
