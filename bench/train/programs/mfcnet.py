"""Training program `mfcnet`: MFCNet/BFCNet on a frozen detector's cached FPN features.

Stages (SEEDS.md 2.4; one recipe each, each starting from the previous one's weights):

- `codec`: the coded paths, L = lambda * 255^2 * sum of MSE(target levels) + bpp;
- `fine`: FineNet alone, MSE(P2-hat, P2) from the frozen P2->P3 path's reconstruction;
- `joint`: everything, L = lambda * 255^2 * (MSE_P2 + MSE_P3 + MSE_P4 + MSE_P5) + bpp.

MSE is taken in the per-image min/max-normalised domain; bpp divides the likelihood
bits by the pixels of the input image region the features cover. With gain units, each
sample of a batch draws one of the configuration's lambdas. `evaluate()` codes held-out
images for real (compress -> bytes -> decompress) at every rate point and scores the
detector's head on the decoded features.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.train.program import TrainProgram

WEIGHTS_FORMAT = "icm-bench/mfcnet/1"
STAGES = ("codec", "fine", "joint")
STRIDES = {"p2": 4, "p3": 8, "p4": 16, "p5": 32}


class MfcNetProgram(TrainProgram):
    """Train one MFCNet configuration (see the module docstring for the stages).

    Keyword arguments (a recipe's `program.kwargs`): size (`small`/`paper`), variant,
    config (field overrides), stage, train (module names to train: path names and
    `finenet`; default by stage), init (weights file to start from), base (weights file
    whose modules the export leaves out and references), batch, crop (pixels, 0 = whole),
    n_train, n_eval (0: no evaluation), eval_ap, data_root, detector_weights, cache (a
    feature-cache folder to use instead of building one), eval_keep (levels scored with
    their original values in evaluation, e.g. [p2] before FineNet is trained).
    """

    def __init__(self, recipe: Any, device: str = "cpu", size: str = "small",
                 variant: str = "mfcnet", config: dict | None = None, stage: str = "codec",
                 train: list[str] | None = None, init: str | None = None,
                 base: str | None = None, batch: int = 8, crop: int = 0,
                 n_train: int = 1600, n_eval: int = 16, eval_ap: bool = True,
                 data_root: str = "datasets", detector_weights: str | None = None,
                 cache: str | None = None, eval_keep: list[str] | None = None):
        super().__init__(recipe, device)
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        self.size, self.variant, self.overrides = size, variant, dict(config or {})
        self.stage, self.train_names, self.init, self.base = stage, train, init, base
        self.batch, self.crop, self.n_train, self.n_eval = batch, crop, n_train, n_eval
        self.eval_ap, self.data_root, self.detector_weights = eval_ap, data_root, detector_weights
        self.cache = cache
        self.eval_keep = tuple(eval_keep or ())
        self._eval_cache: Any = None

    # ------------------------------------------------------------ set-up

    def setup(self) -> None:
        import numpy as np
        import torch

        from bench.models.mfcnet import MfcNet, build_config
        from bench.train.programs.mfcnet_features import (
            FeatureBatches,
            build_feature_cache,
            load_feature_cache,
        )

        self.config = build_config(self.size, self.variant, **self.overrides)
        self.model = MfcNet(self.config).to(self.device)
        if self.init:
            self._load_init(Path(self.init))
        names = self.train_names or self._default_train()
        unknown = sorted(set(names) - set(self._module_names()))
        if unknown:
            raise ValueError(f"no module {unknown} in {self.config.name}; "
                             f"modules: {self._module_names()}")
        self.trained = tuple(names)
        for name in self._module_names():
            for p in self._module(name).parameters():
                p.requires_grad_(name in self.trained)
        folder = self.cache or build_feature_cache(self.data_root, "train", self.n_train,
                                                   weights=self.detector_weights)
        self.batches = FeatureBatches(load_feature_cache(folder), self.batch, self.crop)
        self.rng = np.random.default_rng(self.recipe.seed)
        self.lambdas = torch.tensor(self.config.lambdas, device=self.device)

    def _module_names(self) -> list[str]:
        return list(self.model.paths) + (["finenet"] if self.model.finenet is not None else [])

    def _module(self, name: str) -> Any:
        return self.model.finenet if name == "finenet" else self.model.paths[name]

    def _default_train(self) -> list[str]:
        if self.stage == "codec":
            return list(self.model.paths)
        if self.stage == "fine":
            return ["finenet"]
        return self._module_names()

    def _load_init(self, path: Path) -> None:
        from bench.models.mfcnet.weights import load_mfcnet_state

        state = load_mfcnet_state(path)
        own = self.model.state_dict()
        shared = {k: v.float() if v.is_floating_point() else v
                  for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not shared:
            raise ValueError(f"{path}: no module of {self.config.name} in these weights")
        self.model.load_state_dict({**own, **shared}, strict=True)

    def modules(self) -> dict[str, Any]:
        return {"mfcnet": self.model}

    def parameters(self) -> list[Any]:
        return [p for n in self.trained for k, p in self._module(n).named_parameters()
                if not k.endswith("quantiles")]

    def aux_parameters(self) -> list[Any]:
        return [p for n in self.trained for k, p in self._module(n).named_parameters()
                if k.endswith("quantiles")]

    def train(self, mode: bool = True) -> None:
        for name in self._module_names():
            self._module(name).train(mode and name in self.trained)

    def state_dict(self) -> dict[str, Any]:
        """The data sampler's random state (JSON text: weights-only checkpoints take str)."""
        return {"rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            self.rng.bit_generator.state = json.loads(state["rng"])

    # ------------------------------------------------------------ loss

    def _paths_to_run(self) -> tuple[str, ...]:
        if self.stage == "fine":
            return tuple(p.name for p in self.config.paths
                         if self.config.predictor.source in p.targets)
        if self.stage == "codec":
            return tuple(n for n in self.trained if n in self.model.paths)
        return tuple(self.model.paths)

    def _counted_levels(self, produced: list[str]) -> list[str]:
        if self.stage == "fine":
            return [self.config.predictor.target]
        if self.stage == "codec":
            return [t for n in self._paths_to_run() for t in self.config.path(n).targets]
        return produced

    def loss(self, step: int) -> tuple[Any, dict[str, float]]:
        import torch

        from bench.models.mfcnet.normalise import batch_range, normalise

        whole, parts = self.batches.sample(self.rng)
        feats = {}
        for group in self.config.groups:
            lo, hi = batch_range(whole[lv] for lv in group)
            for lv in group:
                feats[lv] = normalise(parts[lv], lo, hi).to(self.device)
        b = self.batch
        index = (torch.from_numpy(self.rng.integers(0, self.config.n_rates, size=b)).to(self.device)
                 if self.config.n_rates else None)
        lam = self.lambdas[index] if index is not None else self.lambdas[:1].expand(b)
        paths = self._paths_to_run()
        predict = self.stage != "codec"
        out = self.model(feats, index, paths=paths, predict=predict)
        levels = self._counted_levels(list(out["levels"]))
        mse = {lv: ((out["levels"][lv] - feats[lv]) ** 2).flatten(1).mean(1) for lv in levels}
        dist = sum(mse.values())
        bpp = torch.zeros(b, device=self.device)
        if self.stage != "fine":
            for name in paths:
                src = self.config.path(name).source
                pixels = feats[src].shape[-2] * feats[src].shape[-1] * STRIDES[src] ** 2
                path_bits = sum(-torch.log2(lk).flatten(1).sum(1)
                                for lk in out["likelihoods"][name].values())
                bpp = bpp + path_bits / pixels
        loss = (lam * 255 ** 2 * dist + bpp).mean()
        logs = {"bpp": float(bpp.detach().mean()),
                **{f"mse_{k}": float(v.detach().mean()) for k, v in mse.items()}}
        return loss, logs

    def aux_loss(self) -> Any | None:
        terms = [self.model.paths[n].aux_loss() for n in self.trained if n in self.model.paths]
        return sum(terms) if terms else None

    # ------------------------------------------------------------ evaluation

    def evaluate(self) -> dict[str, float]:
        from bench.train.programs.mfcnet_eval import evaluate_model

        if not self.n_eval:
            return {}
        self.model.update(force=True)
        result, self._eval_cache = evaluate_model(
            self.model, self.n_eval, self.eval_ap, self.data_root, self.detector_weights,
            self._eval_cache, keep=self.eval_keep)
        return result

    # ------------------------------------------------------------ export

    def export(self, path: Path) -> dict[str, Any]:
        from bench.models.mfcnet.weights import save_mfcnet_weights

        training = {"recipe": self.recipe.name, "stage": self.stage, "trained": list(self.trained),
                    "steps": self.recipe.steps, "init": self.init}
        return save_mfcnet_weights(self.model, Path(path), base=self.base, training=training)

    def card(self, summary: dict[str, Any]) -> str:
        from bench.train.card import generic_card

        lines = [generic_card(self.recipe, summary), "## Rate points", ""]
        ev = summary.get("evaluation") or {}
        for i, lam in enumerate(self.config.lambdas):
            bpp = ev.get(f"bpp@{i}", math.nan)
            ap = ev.get(f"bbox_ap@{i}", math.nan)
            lines.append(f"- point {i}: lambda {lam:g}, bpp {bpp:.4f}, bbox AP {ap:.3f}")
        return "\n".join(lines) + "\n"
