"""COCO detection / instance segmentation: the evaluator, the torchvision-style task base
with its "fpn" split point, and the built-in small Mask R-CNN task ("detection").

Predictions of one image are COCO result dicts: image_id, category_id (the dataset's
ids), bbox [x, y, w, h] in original pixels, score, and for mask models a
"segmentation" RLE whose counts are a str. Features at "fpn" are P2..P5 ("p2".."p5",
float32 C x H x W); the head recomputes P6 ("pool") from P5 as torchvision's
LastLevelMaxPool does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.errors import TaskError
from bench.tasks.base import Evaluator, Task
from bench.types import MetricInfo, Sample, SplitDesc

FPN_LEVELS = ("p2", "p3", "p4", "p5")
# bench.models.detector.DEFAULT_WEIGHTS, without importing torch to plan a run
DEFAULT_DETECTOR_WEIGHTS = (Path(__file__).resolve().parent.parent / "models" / "weights"
                            / "detector.pt")


class CocoDetectionEvaluator(Evaluator):
    """COCO bbox / segm mAP (pycocotools) over the dataset's selected images."""

    def __init__(self, dataset: Any, iou_types: Iterable[str] = ("bbox", "segm"),
                 backend: str = "pycocotools"):
        self.dataset = dataset
        self.iou_types = tuple(iou_types)
        self.backend = backend
        self._gt: dict | None = None

    def metrics(self) -> list[MetricInfo]:
        from bench.metrics.coco import coco_metric_infos

        return [m for t in self.iou_types for m in coco_metric_infos(t)]

    def ground_truth(self) -> dict:
        """The instances dict restricted to the selected images (COCOeval's imgIds)."""
        if self._gt is None:
            coco = self.dataset.coco()
            wanted = set(self.dataset.image_ids())
            full = coco.dataset
            self._gt = {
                "images": [im for im in full["images"] if im["id"] in wanted],
                "annotations": [a for a in full["annotations"] if a["image_id"] in wanted],
                "categories": list(full["categories"]),
            }
        return self._gt

    def evaluate(self, predictions: dict[str, Any]) -> dict[str, float]:
        from bench.metrics.coco import coco_evaluate

        results = [d for preds in predictions.values() for d in (preds or [])]
        self._check_categories(results)
        out: dict[str, float] = {}
        for iou_type in self.iou_types:
            dets = results
            if iou_type == "segm":
                dets = [d for d in results if "segmentation" in d]
                if results and not dets:
                    raise TaskError("segm evaluation needs mask predictions; this task gives "
                                    "boxes only: set iou_types to ['bbox']")
            stats = coco_evaluate(self.ground_truth(), dets, iou_type, backend=self.backend)
            out.update({f"{iou_type}/{k}": v for k, v in stats.items()})
        return out

    def evaluate_resampled(self, predictions: dict[str, Any], ids: Sequence[str]
                           ) -> dict[str, float]:
        """Metrics over the item list `ids` (a bootstrap draw; an item drawn twice counts as
        two images): a ground truth with one image per draw, through pycocotools."""
        from bench.analysis.resample import coco_resampled_reference

        results = [d for i in dict.fromkeys(ids) for d in (predictions.get(i) or [])]
        self._check_categories(results)
        return coco_resampled_reference(self.ground_truth(), results, [int(i) for i in ids],
                                        self.iou_types)

    def resampler(self, predictions: dict[str, Any]) -> Callable[[Sequence[str]], dict[str, float]]:
        """`evaluate_resampled(predictions, ids)` for many draws: per-image matching once."""
        from bench.analysis.resample import CocoResampler

        results = [d for preds in predictions.values() for d in (preds or [])]
        self._check_categories(results)
        fast = CocoResampler(self.ground_truth(), results, self.iou_types)
        return lambda ids: fast([int(i) for i in ids])

    def _check_categories(self, results: list[dict]) -> None:
        known = {c["id"] for c in self.ground_truth()["categories"]}
        strangers = sorted({d["category_id"] for d in results} - known)
        if strangers:
            raise TaskError(
                f"predictions use category ids {strangers[:10]} that the dataset does not have "
                f"(its ids: {sorted(known)[:20]}); map the network's classes with the task's "
                "`category_map` param, e.g. {class name or label: dataset category id}"
            )


def resolve_category_map(class_names: list[str], default: Mapping[int, int],
                         category_map: Mapping[Any, Any] | None) -> dict[int, int]:
    """Network label -> dataset category id.

    Without `category_map`, `default`. With it, only the listed classes are kept; keys
    are class names or labels (ints or digit strings), values dataset category ids.
    """
    if not category_map:
        return dict(default)
    out: dict[int, int] = {}
    for key, value in category_map.items():
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            label = int(key)
            if not 0 < label < len(class_names):
                raise TaskError(f"category_map label {key!r} is not 1..{len(class_names) - 1}")
        elif key in class_names:
            label = class_names.index(key)
        else:
            raise TaskError(f"category_map key {key!r} is not a class of the network; "
                            f"classes: {', '.join(class_names[1:][:30])}")
        try:
            out[label] = int(value)
        except (TypeError, ValueError) as exc:
            raise TaskError(f"category_map[{key!r}] = {value!r} is not a category id") from exc
    return out


def to_coco_results(output: Mapping[str, Any], image_id: int,
                    label_to_category: Mapping[int, int]) -> list[dict]:
    """One image's torchvision detections (xyxy boxes, labels, scores, masks) as COCO results."""
    from pycocotools import mask as mask_utils

    boxes = output["boxes"].detach().cpu().numpy().astype(np.float64)
    labels = output["labels"].detach().cpu().numpy()
    scores = output["scores"].detach().cpu().numpy().astype(np.float64)
    masks = output.get("masks")
    binary = None if masks is None else (masks[:, 0] > 0.5).cpu().numpy()
    results = []
    for k, label in enumerate(labels):
        if int(label) not in label_to_category:
            continue
        x0, y0, x1, y1 = boxes[k]
        det = {"image_id": image_id, "category_id": label_to_category[int(label)],
               "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
               "score": float(scores[k])}
        if binary is not None:
            rle = mask_utils.encode(np.asfortranarray(binary[k].astype(np.uint8)))
            det["segmentation"] = {"size": [int(s) for s in rle["size"]],
                                   "counts": rle["counts"].decode("ascii")}
        results.append(det)
    return results


def same_size_batches(samples: list[Sample], batch_size: int) -> list[list[int]]:
    """Indices of `samples` in batches of at most `batch_size` images of one size."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, s in enumerate(samples):
        groups.setdefault(tuple(s.image.shape), []).append(i)
    return [idx[j:j + batch_size] for idx in groups.values() for j in range(0, len(idx), batch_size)]


def coco_image_id(sample: Sample) -> int:
    """The COCO image id of a sample (meta "coco_id", else its id)."""
    if "coco_id" in sample.meta:
        return int(sample.meta["coco_id"])
    try:
        return int(sample.id)
    except ValueError as exc:
        raise TaskError(f"sample {sample.id!r} has no COCO image id (meta 'coco_id')") from exc


def padded_canvas(p2: Any, device: Any) -> Any:
    """A zero-cost stand-in for the padded input batch (1 x 3 x 4H x 4W of P2)."""
    import torch

    return torch.zeros(1, device=device).expand(1, 3, p2.shape[-2] * 4, p2.shape[-1] * 4)


def pick_device(device: str) -> Any:
    """'auto' -> cuda when present, else cpu; otherwise the named torch device."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise TaskError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TaskError(f"device {device!r} asked for, but torch sees no CUDA GPU here")
    return dev


class TorchvisionStyleTask(Task):
    """A torchvision GeneralizedRCNN (Faster / Mask R-CNN) with the "fpn" split point.

    Building the task is cheap: the network loads on first use (`model`), so planning,
    reports and evaluation never load it. Subclasses implement `_load()`, which sets
    `_model`, `class_names` (index = label) and `default_labels` (label -> dataset
    category id), and declare `mask_head`.
    """

    split_points: ClassVar[tuple[str, ...]] = ("fpn",)
    mask_head: ClassVar[bool] = True
    class_names: list[str]
    default_labels: dict[int, int]
    weights_path: Path | None = None

    def __init__(self, device: str = "auto", score_thresh: float = 0.05,
                 detections_per_image: int = 100, batch_size: int = 4,
                 category_map: Mapping[Any, Any] | None = None,
                 iou_types: list[str] | None = None):
        if not 0 <= score_thresh < 1 or detections_per_image < 1 or batch_size < 1:
            raise TaskError(
                "need 0 <= score_thresh < 1, detections_per_image >= 1 and batch_size >= 1")
        default = ["bbox", "segm"] if self.mask_head else ["bbox"]
        iou_types = list(iou_types) if iou_types else default
        bad = [t for t in iou_types if t not in default]
        if bad:
            raise TaskError(f"iou_types {bad} not available from this network (it gives "
                            f"{', '.join(default)})")
        self.iou_types = iou_types
        self.device_name = device
        self.score_thresh = float(score_thresh)
        self.detections_per_image = int(detections_per_image)
        self.batch_size = int(batch_size)
        self.category_map = dict(category_map) if category_map else None
        self._weights_hash: str | None = None
        self._model: Any = None
        self._device: Any = None

    @property
    def device(self) -> Any:
        """The torch device ("auto" resolved on first use)."""
        if self._device is None:
            self._device = pick_device(self.device_name)
        return self._device

    def _load(self) -> None:
        raise NotImplementedError

    @property
    def model(self) -> Any:
        """The network, loaded on first use and moved to the task's device."""
        if self._model is None:
            self._load()
            self._finish_setup()
        return self._model

    def _finish_setup(self) -> None:
        self._model.roi_heads.score_thresh = self.score_thresh
        self._model.roi_heads.detections_per_img = self.detections_per_image
        self._model.eval().to(self.device)
        self._label_to_category = resolve_category_map(
            self.class_names, self.default_labels, self.category_map)

    @property
    def label_to_category(self) -> dict[int, int]:
        """Network label -> dataset category id (loads the network)."""
        self.model  # noqa: B018 - loads it
        return self._label_to_category

    @property
    def has_masks(self) -> bool:
        """Whether the loaded network has a mask head."""
        return getattr(self.model.roi_heads, "mask_predictor", None) is not None

    def check(self) -> None:
        """The weights file exists and carries no pickled code (the network is not built)."""
        from bench.checkpoint import CheckpointError, check_no_code

        if self.weights_path is None:
            return
        if not Path(self.weights_path).is_file():
            raise TaskError(f"{self.name}: weights file {str(self.weights_path)!r} does not exist")
        try:
            check_no_code(self.weights_path)
        except CheckpointError as exc:
            raise TaskError(f"{self.name}: {exc}") from None

    def split_desc(self, split: str) -> SplitDesc:
        self._check_split(split)
        channels = int(self.model.backbone.out_channels)
        return SplitDesc(split, FPN_LEVELS, (channels,) * 4, (4, 8, 16, 32))

    def _tensor(self, image: np.ndarray) -> Any:
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(image)).to(self.device)
        return tensor.permute(2, 0, 1) / 255.0

    def predict(self, sample: Sample) -> list[dict]:
        return self.predict_batch([sample])[0]

    def predict_batch(self, samples: list[Sample]) -> list[list[dict]]:
        """The network's own forward over batches of up to `batch_size` images.

        Only images of one size share a batch: torchvision pads a batch to its largest
        image, so mixing sizes would make an image's detections depend on its neighbours.
        """
        import torch

        out: dict[int, list[dict]] = {}
        for chunk in same_size_batches(samples, self.batch_size):
            with torch.inference_mode():
                dets = self.model([self._tensor(samples[i].image) for i in chunk])
            for d, i in zip(dets, chunk):
                out[i] = to_coco_results(d, coco_image_id(samples[i]), self.label_to_category)
        return [out[i] for i in range(len(samples))]

    def _check_split(self, split: str) -> None:
        if split not in self.split_points:
            raise TaskError(f"task {self.name!r} has no split point {split!r}; "
                            f"it has: {', '.join(self.split_points)}")

    def features(self, sample: Sample, split: str = "fpn") -> dict[str, np.ndarray]:
        """P2..P5 of the FPN, each float32 C x H x W."""
        import torch

        self._check_split(split)
        with torch.inference_mode():
            images, _ = self.model.transform([self._tensor(sample.image)])
            feats = self.model.backbone(images.tensors)
        return {name: feats[str(k)][0].float().cpu().numpy()
                for k, name in enumerate(FPN_LEVELS)}

    def head(self, features: dict[str, np.ndarray], sample: Sample,
             split: str = "fpn") -> list[dict]:
        """RPN, ROI heads and postprocessing from P2..P5 (P6 recomputed from P5)."""
        import torch
        import torch.nn.functional as F
        from torchvision.models.detection.image_list import ImageList

        self._check_split(split)
        missing = [n for n in FPN_LEVELS if n not in features]
        if missing:
            raise TaskError(
                f"head at 'fpn' needs features {', '.join(FPN_LEVELS)}; missing {missing}")
        h, w = sample.image.shape[:2]
        with torch.inference_mode():
            feats = OrderedDict(
                (str(k), torch.as_tensor(np.asarray(features[n], dtype=np.float32),
                                         device=self.device)[None])
                for k, n in enumerate(FPN_LEVELS))
            feats["pool"] = F.max_pool2d(feats["3"], kernel_size=1, stride=2, padding=0)
            resized = tuple(self.model.transform.resize(torch.zeros(1, h, w), None)[0].shape[-2:])
            p2 = feats["0"]
            images = ImageList(padded_canvas(p2, self.device), [resized])
            proposals, _ = self.model.rpn(images, feats)
            dets, _ = self.model.roi_heads(feats, proposals, images.image_sizes)
            dets = self.model.transform.postprocess(dets, images.image_sizes, [(h, w)])
        return to_coco_results(dets[0], coco_image_id(sample), self.label_to_category)

    def evaluator(self, dataset: Any) -> Evaluator:
        return CocoDetectionEvaluator(dataset, self.iou_types)

    def weights_hash(self) -> str:
        if self._weights_hash is None:
            from bench.checkpoint import file_sha256

            self._weights_hash = file_sha256(self.weights_path) if self.weights_path else ""
        return self._weights_hash

    def params(self) -> dict[str, Any]:
        return {"device": self.device_name, "score_thresh": self.score_thresh,
                "detections_per_image": self.detections_per_image, "batch_size": self.batch_size,
                "category_map": self.category_map, "iou_types": self.iou_types}


class DetectionTask(TorchvisionStyleTask):
    """The built-in small Mask R-CNN trained on synthetic-coco (bench/models)."""

    name: ClassVar[str] = "detection"
    version: ClassVar[str] = "1"

    def __init__(self, weights: str | Path | None = None, device: str = "auto",
                 score_thresh: float = 0.05, detections_per_image: int = 100,
                 batch_size: int = 4, category_map: Mapping[Any, Any] | None = None,
                 iou_types: list[str] | None = None):
        super().__init__(device, score_thresh, detections_per_image, batch_size, category_map,
                         iou_types)

        self.weights = None if weights is None else str(weights)
        self.weights_path = Path(weights).expanduser() if weights else DEFAULT_DETECTOR_WEIGHTS

    def _load(self) -> None:
        from bench.models.detector import load_detector

        self._model, meta = load_detector(self.weights_path)
        self.class_names = list(meta["class_names"])
        self.default_labels = {i + 1: int(c) for i, c in enumerate(meta["category_ids"])}

    def params(self) -> dict[str, Any]:
        return {"weights": self.weights, **super().params()}
