"""`ci-icm`: training CI-ICM (and its all-off baseline) against a frozen Mask R-CNN.

Two stages share this program. `mse`: rate + lambda * 255^2 * MSE (the MSE-trained
ELIC that SEEDS.md 1.4 starts from). `task`: rate + lambda * D_t, where for the task t
of the batch (detection and segmentation alternate batch by batch)
D_t = feature_scale * sum_{P2..P6} MSE(F(x_hat_t), F(x)) + pixel_weight * 255^2 * MSE(x_hat_t, x)
      + gt_weight * (detector losses of t on ground truth),
plus, with CIG, order_weight * L_order + importance_weight * ||w / sum w - I||^2 (I: running
Taylor saliency of the distortion w.r.t. the decoded latent). One rate level (and its
lambda) is drawn per batch; the model is variable-rate (lambda-conditioned gains).
Evaluation codes held-out images for real through the `ci-icm` codec.

Each task has its own frozen network (`task_networks`, any registered torchvision-style
detection task; default: the built-in Mask R-CNN for both) and the data can be any
COCO-format set (`train_dataset`, `val_dataset`; default: synthetic-coco), so the `paper`
configuration trains on COCO against torchvision's Faster and Mask R-CNN
(bench/train/recipes/ci-icm-paper*.yaml; ci_icm_nets.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from bench.errors import SpecError
from bench.train.program import TrainProgram
from bench.train.programs.ci_icm_nets import Ref

# The parameters `module_lr_scale` applies to: the four modules' own networks and ELIC's
# channel context (which CI-CTX widens). The baseline has the channel context too, so
# the rule treats every configuration alike.
MODULE_PREFIXES = ("cig.", "fcgs.", "tsca.", "latent_codec.y.channel_context.")


class CiIcmKwargs(BaseModel):
    """The program's kwargs (validated; unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")
    config: Literal["small", "paper"] = "small"
    modules: dict[str, bool] = Field(default_factory=dict, description="cig/fcgs/ci_ctx/tsca")
    stage: Literal["mse", "task"] = "task"
    init: str | None = Field(None, description="weights to start from (a CI-ICM checkpoint)")
    lambdas: list[float] = Field(..., min_length=1, description="one per rate level, ascending")
    feature_scale: float = Field(1.0, ge=0)
    pixel_weight: float = Field(0.1, ge=0)
    gt_weight: float = Field(0.0, ge=0)
    order_weight: float = Field(0.1, ge=0)
    order_margin: float = Field(1e-3, ge=0)
    importance_weight: float = Field(1.0, ge=0)
    module_lr_scale: float = Field(
        1.0, gt=0, description="lr multiplier of the CI-ICM modules and the channel context "
        "(names in MODULE_PREFIXES; the same rule in every configuration, baseline included)")
    crop: int = Field(128, ge=64, multiple_of=64)
    batch_size: int = Field(8, ge=1)
    train_images: int = Field(1600, ge=1)
    eval_images: int = Field(16, ge=1, description="the first images of the val set coded")
    val_images: int = Field(48, ge=1, description="size of the synthetic-coco val set")
    eval_levels: list[float] | None = None
    data_root: str = "datasets"
    detector: str | None = Field(None, description="built-in detector weights (default: "
                                 "committed), for tasks not in task_networks")
    task_networks: dict[str, Ref] = Field(
        default_factory=dict, description="per task (detection, segmentation): a registered "
        "detection task whose frozen network gives D_t and scores the evaluation")
    train_dataset: Ref | None = Field(None, description="a COCO-format dataset to train on "
                                      "(default: synthetic-coco train, train_images)")
    val_dataset: Ref | None = Field(None, description="the evaluation set (default: "
                                    "synthetic-coco val, val_images)")


class CiIcmProgram(TrainProgram):
    """CI-ICM / baseline training (see the module docstring)."""

    def __init__(self, recipe: Any, device: str = "cpu", **kwargs: Any):
        super().__init__(recipe, device, **kwargs)
        self.opts = CiIcmKwargs(**kwargs)
        self.skipped_targets = 0

    # ---------------------------------------------------------------- set-up

    def setup(self) -> None:
        from bench.models.ci_icm import CiIcm, get_config
        from bench.models.ci_icm.importance import ImportanceTarget
        from bench.models.ci_icm.train_data import CropSampler
        from bench.train.programs.ci_icm_nets import build_dataset, build_task_networks

        o = self.opts
        unknown = set(o.modules) - {"cig", "fcgs", "ci_ctx", "tsca"}
        if unknown:
            raise SpecError(f"ci-icm: unknown modules {sorted(unknown)}")
        try:
            self.config = get_config(o.config, rate_levels=len(o.lambdas), **o.modules)
        except ValueError as exc:
            raise SpecError(f"ci-icm: {exc}") from None
        self.model = CiIcm(self.config).to(self.device)
        self.init_report = self._load_init() if o.init else None
        self.target = ImportanceTarget(self.config.M).to(self.device) if self.config.cig else None
        self.nets = build_task_networks(o.task_networks, self.config.tasks, self.device,
                                        o.detector)
        self.frozen = self._frozen_networks() if o.stage == "task" else {}
        train = build_dataset(o.train_dataset, {"n_images": o.train_images, "split": "train",
                                                "seed": 0, "root": o.data_root})
        # targets carry dataset category ids; _distortion relabels them per network
        self.sampler = CropSampler(train, o.crop, {c: c for c in train.category_ids()})
        self.rng = np.random.default_rng(self.recipe.seed)
        self.lambdas = torch.tensor(o.lambdas)

    def _frozen_networks(self) -> dict[str, tuple[Any, dict[int, int]]]:
        """{task: (frozen network, category id -> label)}; one FrozenDetector per network."""
        from bench.models.ci_icm.train_loss import FrozenDetector
        from bench.train.programs.ci_icm_nets import category_to_label

        by_net: dict[int, tuple[Any, dict[int, int]]] = {}
        for net in self.nets.values():
            if id(net) not in by_net:
                by_net[id(net)] = (FrozenDetector(net.model).to(self.device),
                                   category_to_label(net))
        return {task: by_net[id(net)] for task, net in self.nets.items()}

    def _load_init(self) -> dict[str, list[str]]:
        from bench.checkpoint import load_checkpoint
        from bench.models.ci_icm.weights import load_compatible

        doc = load_checkpoint(Path(self.opts.init))
        state = doc.get("state_dict", doc) if isinstance(doc, dict) else doc
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        try:
            return load_compatible(self.model, state)
        except ValueError as exc:
            raise SpecError(f"ci-icm: init {self.opts.init!r} does not fit this network "
                            f"({exc}); the init must have the same config and as many rate "
                            "levels as `lambdas`") from None

    def modules(self) -> dict[str, Any]:
        mods = {"model": self.model}
        if self.target is not None:
            mods["importance_target"] = self.target
        return mods

    def parameters(self) -> list[Any]:
        return [p for n, p in self.model.named_parameters() if not n.endswith(".quantiles")]

    def aux_parameters(self) -> list[Any]:
        return [p for n, p in self.model.named_parameters() if n.endswith(".quantiles")]

    def lr_scales(self) -> dict[float, list[Any]]:
        scale = self.opts.module_lr_scale
        if scale == 1.0:
            return {}
        return {scale: [p for n, p in self.model.named_parameters()
                        if n.startswith(MODULE_PREFIXES)]}

    def aux_loss(self) -> Any:
        return self.model.aux_loss()

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("rng"):
            self.rng.bit_generator.state = state["rng"]

    # ---------------------------------------------------------------- loss

    def loss(self, step: int) -> tuple[Any, dict[str, float]]:
        from bench.models.ci_icm.importance import channel_order_loss
        from bench.models.ci_icm.train_loss import bpp_per_image

        o = self.opts
        x, targets = self.sampler.batch(self.rng, o.batch_size)
        x = x.to(self.device)
        level = int(self.rng.integers(0, len(o.lambdas)))
        task = self.config.tasks[step % len(self.config.tasks)]
        output = task if self.config.tsca and o.stage == "task" else None
        levels = torch.full((x.shape[0],), float(level), device=self.device)
        out = self.model(x, level=levels, outputs=(output,))
        bpp = bpp_per_image(out["likelihoods"], x.shape[2] * x.shape[3]).mean()
        dist, logs = self._distortion(out["x_hat"], x, targets, task)
        loss = bpp + self.lambdas[level] * dist
        logs = {"bpp": bpp.item(), **logs}
        if self.target is not None:
            w = out["importance"]
            order = channel_order_loss(w, o.order_margin)
            imp = self.target.loss(w)
            loss = loss + o.order_weight * order + o.importance_weight * imp
            logs.update(order=order.item(), imp=imp.item())
            y_hat = out["y_hat"]
            y_hat.register_hook(lambda g, y=y_hat: self._update_target(y, g))
            logs["ymean"] = out["y_hat"].detach().mean(dim=(2, 3)).abs().max().item()
        return loss, logs

    def _update_target(self, y_hat: Any, grad: Any) -> None:
        if not self.target.update(y_hat, grad):
            self.skipped_targets += 1

    def _distortion(self, x_hat: Any, x: Any, targets: list[dict], task: str
                    ) -> tuple[Any, dict[str, float]]:
        from bench.models.ci_icm.train_loss import feature_mse, psnr, task_loss
        from bench.train.programs.ci_icm_nets import relabel

        o = self.opts
        mse = torch.mean((x_hat - x) ** 2)
        logs = {"psnr": psnr(mse.item())}
        if o.stage == "mse":
            return 255.0 ** 2 * mse, logs
        frozen, labels = self.frozen[task]
        with torch.no_grad():
            ref = frozen.features(x)
        feats = frozen.features(x_hat)
        feat = feature_mse(feats, ref).mean()
        dist = o.feature_scale * feat + o.pixel_weight * 255.0 ** 2 * mse
        logs["feat"] = feat.item()
        if o.gt_weight:
            gt = task_loss(frozen.losses(x_hat, feats, relabel(targets, labels)), task)
            dist = dist + o.gt_weight * gt
            logs[f"gt_{task[:3]}"] = gt.item()
        return dist, logs

    # ---------------------------------------------------------------- evaluation

    def evaluate(self) -> dict[str, float]:
        """Real coding of held-out images at the evaluation levels: bpp, PSNR, bbox/segm AP."""
        from bench.codecs.ci_icm import CiIcmCodec
        from bench.tasks.detection import CocoDetectionEvaluator
        from bench.train.programs.ci_icm_nets import TASK_IOU, build_dataset
        from bench.types import RatePoint

        o = self.opts
        self.model.update(force=True)
        codec = CiIcmCodec(device=self.device)
        codec.attach_model(self.model)
        val = build_dataset(o.val_dataset, {"n_images": o.val_images, "split": "val",
                                            "seed": 0, "root": o.data_root}, o.eval_images)
        samples = [val.load(i) for i in val.ids()]
        evaluators = {t: CocoDetectionEvaluator(val, [TASK_IOU[t]]) for t in self.nets}
        levels = o.eval_levels if o.eval_levels is not None else range(len(o.lambdas))
        result: dict[str, float] = {}
        for level in levels:
            result.update(self._evaluate_level(codec, RatePoint("level", level), samples,
                                               evaluators))
        return result

    def _evaluate_level(self, codec: Any, point: Any, samples: list,
                        evaluators: dict[str, Any]) -> dict[str, float]:
        """One level: each task's network scores the output decoded for that task."""
        from bench.models.ci_icm.train_loss import psnr
        from bench.train.programs.ci_icm_nets import TASK_IOU

        bits = pixels = 0
        sq_err = 0.0
        preds: dict[str, dict] = {t: {} for t in self.nets}
        for s in samples:
            bs = codec.encode(s.image, point)
            bits += bs.bits
            pixels += s.pixels
            plain = codec.decode(bs, target=None).astype(np.float64)
            sq_err += float(((plain - s.image) ** 2).sum())
            for task, by_id in preds.items():
                decoded = codec.decode(bs, target=task)
                by_id[s.id] = self.nets[task].predict(s.with_images((decoded,)))
        tag = f"L{point.value:g}"
        out = {f"{tag}/bpp": bits / pixels, f"{tag}/psnr": psnr(sq_err / (3 * pixels) / 255.0 ** 2)}
        for task, by_id in preds.items():
            iou = TASK_IOU[task]
            out[f"{tag}/{iou}_AP"] = evaluators[task].evaluate(by_id)[f"{iou}/AP"]
        return out

    # ---------------------------------------------------------------- export

    def export(self, path: Path) -> dict[str, Any]:
        from bench.checkpoint import file_sha256, save_checkpoint
        from bench.models.ci_icm.weights import checkpoint_payload

        self.model.update(force=True)
        meta = {"lambdas": list(self.opts.lambdas), "stage": self.opts.stage,
                "recipe": self.recipe.name, "program": self.opts.model_dump(mode="json")}
        save_checkpoint(path, checkpoint_payload(self.model, meta))
        n = sum(p.numel() for p in self.model.parameters())
        return {"file": str(path), "bytes": Path(path).stat().st_size,
                "sha256": file_sha256(path)[:12], "parameters": n,
                "modules": ",".join(self.config.modules_on) or "none (baseline)",
                "init": self.opts.init or "scratch"}
