"""The ci-icm program's frozen task networks and data sets, from the task and dataset registries.

Each CI-ICM task (detection, segmentation) has its own frozen network, as in the paper's
set-up (SEEDS.md 1.2: a Faster R-CNN for detection, a Mask R-CNN for segmentation); by
default both are the built-in Mask R-CNN, loaded once. Any registered torchvision-style
detection task works (`detection`, `torchvision-maskrcnn`, `torchvision-fasterrcnn`): its
network gives the FPN features and training losses, and it scores the decoded images.
Training targets carry dataset category ids; `relabel` maps them into each network's labels.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from bench.errors import SpecError

TASK_IOU = {"detection": "bbox", "segmentation": "segm"}


class Ref(BaseModel):
    """A registered component: its type name and constructor params."""

    model_config = ConfigDict(extra="forbid")
    type: str
    params: dict[str, Any] = Field(default_factory=dict)


def build_task_networks(refs: dict[str, Ref], tasks: tuple[str, ...], device: str,
                        default_weights: str | None = None) -> dict[str, Any]:
    """{CI-ICM task: detection task object}; identical refs share one object (one network)."""
    from bench.registry import TASKS
    from bench.tasks.detection import TorchvisionStyleTask

    unknown = set(refs) - set(TASK_IOU)
    if unknown:
        raise SpecError(f"ci-icm: task_networks has unknown tasks {sorted(unknown)}; "
                        f"use {sorted(TASK_IOU)}")
    built: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for task in tasks:
        ref = refs.get(task) or Ref(type="detection", params={"weights": default_weights})
        key = json.dumps(ref.model_dump(mode="json"), sort_keys=True, default=str)
        if key not in built:
            cls = TASKS.get(ref.type)
            if not (isinstance(cls, type) and issubclass(cls, TorchvisionStyleTask)):
                raise SpecError(f"ci-icm: task_networks.{task}: {ref.type!r} is not a "
                                "torchvision-style detection task (detection, "
                                "torchvision-maskrcnn, torchvision-fasterrcnn)")
            built[key] = TASKS.build(ref.type, {**ref.params, "device": device})
        net = built[key]
        if TASK_IOU[task] not in net.iou_types:
            raise SpecError(f"ci-icm: task_networks.{task}: {ref.type!r} gives "
                            f"{net.iou_types}, not {TASK_IOU[task]!r}")
        path = getattr(net, "weights_path", None)
        if path is not None and not path.is_file():
            raise SpecError(f"ci-icm: task_networks.{task}: weights file {str(path)!r} does "
                            f"not exist; give it with --set program.kwargs.task_networks."
                            f"{task}.params.weights=PATH (nothing is downloaded)")
        out[task] = net
    return out


def category_to_label(net: Any) -> dict[int, int]:
    """Dataset category id -> the network's label (loads the network)."""
    return {int(c): int(lab) for lab, c in net.label_to_category.items()}


def relabel(targets: list[dict[str, torch.Tensor]], mapping: dict[int, int]
            ) -> list[dict[str, torch.Tensor]]:
    """Targets with category ids as labels -> the network's labels (unknown categories dropped)."""
    out = []
    for t in targets:
        cats = t["labels"].tolist()
        keep = [i for i, c in enumerate(cats) if int(c) in mapping]
        idx = torch.tensor(keep, dtype=torch.long)
        labels = torch.tensor([mapping[int(cats[i])] for i in keep], dtype=torch.int64)
        out.append({"boxes": t["boxes"][idx], "labels": labels, "masks": t["masks"][idx]})
    return out


def build_dataset(ref: Ref | None, default: dict[str, Any], limit: int | None = None) -> Any:
    """A registered COCO-format dataset (`ref`), or synthetic-coco with `default` params."""
    from bench.registry import DATASETS

    kind, params = ("synthetic-coco", dict(default)) if ref is None else (ref.type,
                                                                           dict(ref.params))
    if limit is not None:
        params["limit"] = limit
    dataset = DATASETS.build(kind, params)
    if not hasattr(dataset, "coco"):
        raise SpecError(f"ci-icm: dataset {kind!r} has no COCO instance annotations; "
                        "use synthetic-coco or coco")
    return dataset


__all__ = ["TASK_IOU", "Ref", "build_dataset", "build_task_networks", "category_to_label",
           "relabel"]
