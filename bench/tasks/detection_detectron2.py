"""detectron2 Faster / Mask R-CNN (e.g. X101-FPN, the networks of the MPEG test
conditions), an optional extra imported lazily.

`config` is a detectron2 YAML (a path, or a model-zoo name such as
"COCO-InstanceSegmentation/mask_rcnn_X_101_32x8d_FPN_3x.yaml" resolved inside the
installed detectron2); `weights` a local .pth (torch.load(weights_only=True)) or a
model-zoo .pkl (read by a restricted unpickler that accepts only numpy arrays).
Split point "fpn": P2..P5; P6 is recomputed from P5 (detectron2's LastLevelMaxPool).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.errors import TaskError
from bench.tasks.base import Evaluator, Task
from bench.tasks.detection import (
    FPN_LEVELS,
    CocoDetectionEvaluator,
    coco_image_id,
    padded_canvas,
    pick_device,
    resolve_category_map,
    same_size_batches,
    to_coco_results,
)
from bench.types import Sample

INSTALL_HINT = (
    "detectron2 is not installed. It is an optional extra: install a build matching your "
    "torch, e.g. `pip install 'git+https://github.com/facebookresearch/detectron2.git'` "
    "(see https://detectron2.readthedocs.io/en/latest/tutorials/install.html)"
)
DEFAULT_CONFIG = "COCO-InstanceSegmentation/mask_rcnn_X_101_32x8d_FPN_3x.yaml"
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
}


def import_detectron2() -> Any:
    """The detectron2 package, or TaskError saying how to install it."""
    try:
        import detectron2
        import detectron2.modeling
    except ImportError as exc:
        raise TaskError(INSTALL_HINT) from exc
    return detectron2


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def load_pkl_weights(path: Path) -> dict[str, np.ndarray]:
    """The "model" dict of a detectron2 model-zoo .pkl, refusing anything but arrays."""
    try:
        with open(path, "rb") as f:
            doc = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        raise TaskError(
            f"refusing to load {str(path)!r}: it is not a plain array pickle ({exc})") from exc
    state = doc.get("model", doc) if isinstance(doc, dict) else None
    if not isinstance(state, dict):
        raise TaskError(f"{str(path)!r} holds no dict of weights")
    return state


def load_weights(path: Path) -> dict[str, Any]:
    """A state dict of tensors from a .pkl (model zoo) or a torch file."""
    import torch

    from bench.models.detector import load_state
    from bench.tasks.detection_torchvision import state_dict_of

    if path.suffix == ".pkl":
        if not path.is_file():
            raise TaskError(f"weights file {str(path)!r} does not exist; give `weights: <path>`")
        return {k: torch.as_tensor(np.asarray(v)) for k, v in load_pkl_weights(path).items()}
    return state_dict_of(load_state(path), path)


class Detectron2Task(Task):
    """A detectron2 GeneralizedRCNN; boxes always, masks when the config has MASK_ON."""

    name: ClassVar[str] = "detectron2"
    version: ClassVar[str] = "1"
    split_points: ClassVar[tuple[str, ...]] = ("fpn",)

    def __init__(self, weights: str | Path, config: str = DEFAULT_CONFIG, device: str = "auto",
                 score_thresh: float = 0.05, detections_per_image: int = 100,
                 batch_size: int = 2, category_map: Mapping[Any, Any] | None = None):
        import_detectron2()
        self.weights_path, self.config = Path(weights).expanduser(), config
        self.device_name, self.device = device, pick_device(device)
        self.score_thresh = float(score_thresh)
        self.detections_per_image = int(detections_per_image)
        self.batch_size, self.category_map = int(batch_size), dict(category_map or {}) or None
        self.cfg = self._config()
        self.model = self._build()
        self._set_labels()

    def _config(self) -> Any:
        from detectron2 import model_zoo
        from detectron2.config import get_cfg

        path = Path(self.config).expanduser()
        if not path.is_file():
            try:
                path = Path(model_zoo.get_config_file(self.config))
            except RuntimeError as exc:
                raise TaskError(f"detectron2 config {self.config!r} is neither a file nor a "
                                "model-zoo config name") from exc
        cfg = get_cfg()
        cfg.merge_from_file(str(path))
        cfg.MODEL.WEIGHTS = ""
        cfg.MODEL.DEVICE = str(self.device)
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = self.score_thresh
        cfg.TEST.DETECTIONS_PER_IMAGE = self.detections_per_image
        cfg.freeze()
        return cfg

    def _build(self) -> Any:
        from detectron2.modeling import build_model

        model = build_model(self.cfg)
        result = model.load_state_dict(load_weights(self.weights_path), strict=False)
        if result.missing_keys:
            raise TaskError(f"{str(self.weights_path)!r} does not fit {self.config!r}: missing "
                            f"{result.missing_keys[:3]}")
        return model.eval()

    def _set_labels(self) -> None:
        from bench.tasks.detection_torchvision import coco_class_names

        n = int(self.cfg.MODEL.ROI_HEADS.NUM_CLASSES)
        coco = [(i, c) for i, c in enumerate(coco_class_names()) if i and c != "N/A"]
        if n == len(coco):  # detectron2's contiguous 0..79 COCO labels
            names, default = ["__background__"] + [c for _, c in coco], {
                k + 1: cid for k, (cid, _) in enumerate(coco)}
        else:
            names, default = ["__background__"] + [str(i) for i in range(n)], {
                k + 1: k for k in range(n)}
        self.class_names = names
        self.label_to_category = resolve_category_map(names, default, self.category_map)

    def _input(self, sample: Sample) -> dict[str, Any]:
        import torch
        from detectron2.data import transforms as T

        image = sample.image[:, :, ::-1] if self.cfg.INPUT.FORMAT == "BGR" else sample.image
        short, longest = self.cfg.INPUT.MIN_SIZE_TEST, self.cfg.INPUT.MAX_SIZE_TEST
        resize = T.ResizeShortestEdge([short, short], longest)
        resized = resize.get_transform(image).apply_image(np.ascontiguousarray(image))
        tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
        h, w = sample.image.shape[:2]
        return {"image": tensor, "height": h, "width": w}

    def _results(self, output: dict[str, Any], sample: Sample) -> list[dict]:
        inst = output["instances"].to("cpu")
        dets = {"boxes": inst.pred_boxes.tensor, "labels": inst.pred_classes + 1,
                "scores": inst.scores}
        if inst.has("pred_masks"):
            dets["masks"] = inst.pred_masks[:, None].float()
        return to_coco_results(dets, coco_image_id(sample), self.label_to_category)

    def predict(self, sample: Sample) -> list[dict]:
        return self.predict_batch([sample])[0]

    def predict_batch(self, samples: list[Sample]) -> list[list[dict]]:
        import torch

        out: dict[int, list[dict]] = {}
        for chunk in same_size_batches(samples, self.batch_size):
            with torch.inference_mode():
                outputs = self.model([self._input(samples[i]) for i in chunk])
            for o, i in zip(outputs, chunk):
                out[i] = self._results(o, samples[i])
        return [out[i] for i in range(len(samples))]

    def features(self, sample: Sample, split: str = "fpn") -> dict[str, np.ndarray]:
        import torch

        self._check_split(split)
        with torch.inference_mode():
            images = self.model.preprocess_image([self._input(sample)])
            feats = self.model.backbone(images.tensor)
        return {n: feats[n][0].float().cpu().numpy() for n in FPN_LEVELS}

    def head(self, features: dict[str, np.ndarray], sample: Sample,
             split: str = "fpn") -> list[dict]:
        import torch
        import torch.nn.functional as F
        from detectron2.structures import ImageList

        self._check_split(split)
        inp = self._input(sample)
        with torch.inference_mode():
            missing = [n for n in FPN_LEVELS if n not in features]
            if missing:
                raise TaskError(f"head at 'fpn' needs features p2..p5; missing {missing}")
            feats = {n: torch.as_tensor(np.asarray(features[n], np.float32),
                                        device=self.device)[None] for n in FPN_LEVELS}
            feats["p6"] = F.max_pool2d(feats["p5"], kernel_size=1, stride=2, padding=0)
            p2 = feats["p2"]
            images = ImageList(padded_canvas(p2, self.device), [tuple(inp["image"].shape[-2:])])
            proposals, _ = self.model.proposal_generator(images, feats, None)
            instances, _ = self.model.roi_heads(images, feats, proposals, None)
            results = self.model._postprocess(instances, [inp], images.image_sizes)
        return self._results(results[0], sample)

    def _check_split(self, split: str) -> None:
        if split not in self.split_points:
            raise TaskError(f"task {self.name!r} has no split point {split!r}; it has: fpn")

    def evaluator(self, dataset: Any) -> Evaluator:
        iou_types = ("bbox", "segm") if self.cfg.MODEL.MASK_ON else ("bbox",)
        return CocoDetectionEvaluator(dataset, iou_types)

    def weights_hash(self) -> str:
        from bench.models.detector import file_sha256

        return file_sha256(self.weights_path)

    def params(self) -> dict[str, Any]:
        return {"weights": str(self.weights_path), "config": self.config,
                "device": self.device_name, "score_thresh": self.score_thresh,
                "detections_per_image": self.detections_per_image,
                "batch_size": self.batch_size, "category_map": self.category_map}
