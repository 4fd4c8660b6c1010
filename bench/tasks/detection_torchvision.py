"""torchvision Faster R-CNN and Mask R-CNN (R50-FPN, v1 and v2) from a local weights file.

The file is a state dict (as published by torchvision, or {"model": state_dict})
read with torch.load(weights_only=True); nothing is downloaded. With 91 classes the
labels are COCO category ids (torchvision's convention), so COCO2017 needs no
`category_map`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from bench.errors import TaskError
from bench.tasks.detection import TorchvisionStyleTask

BUILDERS = {
    ("fasterrcnn", "v1"): "fasterrcnn_resnet50_fpn",
    ("fasterrcnn", "v2"): "fasterrcnn_resnet50_fpn_v2",
    ("maskrcnn", "v1"): "maskrcnn_resnet50_fpn",
    ("maskrcnn", "v2"): "maskrcnn_resnet50_fpn_v2",
}


def coco_class_names() -> list[str]:
    """torchvision's 91 COCO labels (index = COCO category id; "N/A" for unused ids)."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

    return list(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])


def state_dict_of(doc: Any, path: Path) -> dict[str, Any]:
    """The tensor dict inside a loaded checkpoint (plain, or under "model" / "state_dict")."""
    for key in ("model", "state_dict"):
        if isinstance(doc, dict) and isinstance(doc.get(key), dict):
            doc = doc[key]
    if not isinstance(doc, dict) or not doc:
        raise TaskError(f"{str(path)!r} holds no state dict of tensors")
    return doc


class TorchvisionRCNNTask(TorchvisionStyleTask):
    """A torchvision R50-FPN detector; `arch` is set by the subclass."""

    arch: ClassVar[str] = "maskrcnn"

    def __init__(self, weights: str | Path, variant: str = "v1", num_classes: int | None = None,
                 min_size: int = 800, max_size: int = 1333, device: str = "auto",
                 score_thresh: float = 0.05, detections_per_image: int = 100,
                 batch_size: int = 2, category_map: Mapping[Any, Any] | None = None,
                 iou_types: list[str] | None = None):
        super().__init__(device, score_thresh, detections_per_image, batch_size, category_map,
                         iou_types)
        if (self.arch, variant) not in BUILDERS:
            raise TaskError(f"{self.name}: variant must be 'v1' or 'v2', got {variant!r}")
        self.weights_path = Path(weights).expanduser()
        self.variant, self.min_size, self.max_size = variant, int(min_size), int(max_size)
        self.num_classes = None if num_classes is None else int(num_classes)

    def _load(self) -> None:
        from bench.models.detector import load_state

        state = state_dict_of(load_state(self.weights_path), self.weights_path)
        self.num_classes = int(self.num_classes or _classes_in(state, self.weights_path))
        self._model = self._build(state)
        names = coco_class_names()
        if self.num_classes == len(names):
            self.class_names = names
            self.default_labels = {i: i for i, n in enumerate(names) if i and n != "N/A"}
        else:
            self.class_names = ["__background__"] + [str(i) for i in range(1, self.num_classes)]
            self.default_labels = {i: i for i in range(1, self.num_classes)}

    def _build(self, state: dict[str, Any]) -> Any:
        import torchvision.models.detection as tvd

        builder = getattr(tvd, BUILDERS[(self.arch, self.variant)])
        model = builder(weights=None, weights_backbone=None, num_classes=self.num_classes,
                        min_size=self.min_size, max_size=self.max_size)
        hint = "check `variant` (v1/v2) and the task type (Faster vs Mask R-CNN)"
        try:
            result = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise TaskError(f"{str(self.weights_path)!r} does not fit "
                            f"{BUILDERS[(self.arch, self.variant)]}: {exc}; {hint}") from exc
        if result.missing_keys or result.unexpected_keys:
            raise TaskError(
                f"{str(self.weights_path)!r} does not fit {BUILDERS[(self.arch, self.variant)]}: "
                f"missing {result.missing_keys[:3]}, unexpected "
                f"{result.unexpected_keys[:3]}; {hint}"
            )
        return model

    def params(self) -> dict[str, Any]:
        return {"weights": str(self.weights_path), "variant": self.variant,
                "num_classes": self.num_classes, "min_size": self.min_size,
                "max_size": self.max_size, **super().params()}


def _classes_in(state: dict[str, Any], path: Path) -> int:
    key = "roi_heads.box_predictor.cls_score.weight"
    if key not in state:
        raise TaskError(f"{str(path)!r} is not a torchvision R-CNN state dict (no {key})")
    return int(state[key].shape[0])


class TorchvisionMaskRCNNTask(TorchvisionRCNNTask):
    """torchvision Mask R-CNN R50-FPN (variant v1 or v2): bbox and segm."""

    name: ClassVar[str] = "torchvision-maskrcnn"
    version: ClassVar[str] = "1"
    arch: ClassVar[str] = "maskrcnn"


class TorchvisionFasterRCNNTask(TorchvisionRCNNTask):
    """torchvision Faster R-CNN R50-FPN (variant v1 or v2): bbox."""

    name: ClassVar[str] = "torchvision-fasterrcnn"
    version: ClassVar[str] = "1"
    arch: ClassVar[str] = "fasterrcnn"
    mask_head: ClassVar[bool] = False
