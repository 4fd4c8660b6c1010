"""The generic training loop: optimisers, schedule, resumable state, progress, evaluation, card.

`icm-bench train RECIPE|NAME [--resume] [--steps N] [--device cuda]` runs `train()`.
The state (modules, optimisers, scheduler, step, RNG states, the program's own state)
is saved atomically every `checkpoint_every` steps and on Ctrl-C under the recipe's
work_dir, so `--resume` continues where a run stopped, with the same random stream.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import SpecError, TrainingDiverged
from bench.train.recipe import OptimSpec, Recipe

STATE_FORMAT = "icm-bench/train-state/1"
MAX_SKIPS = 20  # non-finite losses in a row before training stops with an error


def lr_factor(spec: OptimSpec, step: int, total: int) -> float:
    """The learning-rate multiplier at `step` (warm-up, then constant / step / cosine)."""
    if spec.schedule == "cosine-full":
        ramp = min(1.0, (step + 1) / max(1, spec.warmup_steps))
        return ramp * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(1, total)))
    if step < spec.warmup_steps:
        return (step + 1) / spec.warmup_steps
    if spec.schedule == "step":
        return spec.gamma ** sum(step >= m for m in spec.milestones)
    if spec.schedule == "cosine":
        span = max(1, total - spec.warmup_steps)
        floor = spec.min_lr / spec.lr
        cos = 0.5 * (1 + math.cos(math.pi * min(1.0, (step - spec.warmup_steps) / span)))
        return floor + (1 - floor) * cos
    return 1.0


def param_groups(params: list[Any], scales: dict[float, list[Any]], lr: float
                 ) -> list[dict[str, Any]]:
    """Optimiser groups: each scaled set at `lr * scale`, the rest at `lr`.

    Only trainable `params` are grouped; a parameter named under two scales is an error.
    """
    trainable = {id(p) for p in params}
    taken: dict[int, float] = {}
    groups = []
    for scale, members in sorted(scales.items()):
        chosen = [p for p in members if id(p) in trainable]
        for p in chosen:
            if id(p) in taken:
                raise ValueError(f"a parameter has two lr scales ({taken[id(p)]} and {scale})")
            taken[id(p)] = scale
        if chosen:
            groups.append({"params": chosen, "lr": lr * scale})
    rest = [p for p in params if id(p) not in taken]
    if rest:
        groups.insert(0, {"params": rest, "lr": lr})
    return groups


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [kind, torch.from_numpy(keys.copy()), pos,
                                                       has_gauss, gauss],
            "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def build_program(recipe: Recipe, device: str) -> Any:
    from bench.registry import PROGRAMS

    params = {"recipe": recipe, "device": device, **recipe.program.kwargs}
    return PROGRAMS.build(recipe.program.type, params)


class Trainer:
    """Runs one recipe: builds its program, trains, checkpoints, evaluates, exports."""

    def __init__(self, recipe: Recipe, device: str | None = None,
                 log: Callable[[str], None] = print):
        self.recipe = recipe
        self.device = device or recipe.device
        self.log = log
        self.state_path = recipe.work_path() / "state.pt"
        self.skips_in_row = 0

    # ---------------------------------------------------------------- set-up

    def _setup(self) -> None:
        import torch

        torch.set_num_threads(self.recipe.threads)
        seed_everything(self.recipe.seed)
        self.program = build_program(self.recipe, self.device)
        self.program.setup()
        spec = self.recipe.optim
        params = [p for p in self.program.parameters() if p.requires_grad]
        if not params:
            raise SpecError(f"recipe {self.recipe.name!r}: the program has nothing to train")
        cls = torch.optim.AdamW if spec.name == "adamw" else torch.optim.Adam
        self.optim = cls(param_groups(params, self.program.lr_scales(), spec.lr),
                         lr=spec.lr, weight_decay=spec.weight_decay)
        # what clipping and the gradient guard look at, in the optimiser's group order
        self.trainable = [p for group in self.optim.param_groups for p in group["params"]]
        aux = list(self.program.aux_parameters())
        self.aux_optim = torch.optim.Adam(aux, lr=spec.aux_lr) if aux else None
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.optim, lambda s: lr_factor(spec, s, self.total))
        self.step, self.elapsed, self.history = 0, 0.0, []

    def _save(self) -> None:
        from bench.checkpoint import save_checkpoint

        save_checkpoint(self.state_path, {
            "format": STATE_FORMAT,
            "recipe": self.recipe.model_dump(mode="json"),
            "step": self.step,
            "elapsed_s": self.elapsed,
            "modules": {k: m.state_dict() for k, m in self.program.modules().items()},
            "optim": self.optim.state_dict(),
            "aux_optim": self.aux_optim.state_dict() if self.aux_optim else None,
            "sched": self.sched.state_dict(),
            "rng": _rng_state(),
            "program": self.program.state_dict(),
            "history": self.history,
        })

    def _restore(self) -> None:
        from bench.checkpoint import load_checkpoint

        state = load_checkpoint(self.state_path, fmt=STATE_FORMAT)
        saved = state["recipe"]
        if saved.get("program") != self.recipe.program.model_dump(mode="json"):
            raise SpecError(
                f"the saved state {str(self.state_path)!r} was made by another program "
                "configuration; start over without --resume, or use the recipe it was made with")
        for name, module in self.program.modules().items():
            module.load_state_dict(state["modules"][name])
        self.optim.load_state_dict(state["optim"])
        if self.aux_optim is not None and state.get("aux_optim"):
            self.aux_optim.load_state_dict(state["aux_optim"])
        self.sched.load_state_dict(state["sched"])
        self.program.load_state_dict(state.get("program") or {})
        _set_rng_state(state["rng"])
        self.step, self.elapsed = int(state["step"]), float(state["elapsed_s"])
        self.history = list(state.get("history") or [])
        self.log(f"resumed {self.recipe.name} at step {self.step} ({self.elapsed:.0f} s so far)")

    # ---------------------------------------------------------------- loop

    def _one_step(self) -> dict[str, float]:
        import torch

        self.program.train(True)
        loss, logs = self.program.loss(self.step)
        if not bool(torch.isfinite(loss.detach())):
            return self._skip(logs)
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.trainable, self.recipe.optim.clip or math.inf)
        if not bool(torch.isfinite(norm)):  # a finite loss whose backward overflowed
            self.optim.zero_grad(set_to_none=True)
            return self._skip({**logs, "grad_not_finite": 1.0})
        self.skips_in_row = 0
        self.optim.step()
        if self.aux_optim is not None:
            aux = self.program.aux_loss()
            if aux is not None:
                self.aux_optim.zero_grad(set_to_none=True)
                aux.backward()
                self.aux_optim.step()
                logs = {**logs, "aux": float(aux.detach())}
        self.sched.step()
        return {"loss": float(loss.detach()), **{k: float(v) for k, v in logs.items()}}

    def _skip(self, logs: dict[str, float]) -> dict[str, float]:
        """A step whose loss or gradient is not finite updates nothing (the schedule moves
        on); after MAX_SKIPS of them in a row training stops with an error naming the loss
        terms and saying what to try."""
        self.skips_in_row += 1
        if self.skips_in_row >= MAX_SKIPS:
            raise TrainingDiverged(
                f"{self.recipe.name}: loss or gradient not finite for {MAX_SKIPS} steps in a "
                f"row (step {self.step}): "
                + ", ".join(f"{k}={float(v):.4g}" for k, v in logs.items())
                + f"; lower optim.lr or set optim.clip and train again, or --resume from the "
                f"last saved state ({str(self.state_path)!r})")
        self.sched.step()
        finite = {k: (float(v) if math.isfinite(float(v)) else 0.0) for k, v in logs.items()}
        return {"loss": 0.0, **finite, "skipped": 1.0}

    def _progress(self, sums: dict[str, float], n: int, t0: float, steps0: int) -> str:
        done = self.step - steps0
        per_step = (time.perf_counter() - t0) / max(1, done)
        eta = per_step * (self.total - self.step)
        means = "  ".join(f"{k} {v / n:.4g}" for k, v in sums.items())
        return (f"[{self.recipe.name}] step {self.step}/{self.total}  {means}  "
                f"lr {self.sched.get_last_lr()[0]:.3g}  {per_step:.3f} s/step  ETA {_hms(eta)}")

    def _evaluate(self) -> dict[str, float]:
        import torch

        self.program.train(False)
        with torch.no_grad():
            result = self.program.evaluate()
        self.history.append({"step": self.step, **result})
        if result:
            self.log(f"[{self.recipe.name}] eval at step {self.step}: "
                     + "  ".join(f"{k} {v:.4g}" for k, v in result.items()))
        return result

    def run(self, steps: int | None = None, resume: bool = False) -> dict[str, Any]:
        """Train to `steps` (default the recipe's), export the weights, write the card."""
        self.total = int(steps or self.recipe.steps)
        self._setup()
        if resume and self.state_path.is_file():
            self._restore()
        elif resume:
            self.log(f"no saved state at {self.state_path}; starting from step 0")
        steps0, t0 = self.step, time.perf_counter()
        sums: dict[str, float] = {}
        n = 0
        try:
            while self.step < self.total:
                logs = self._one_step()
                self.step += 1
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                n += 1
                if self.step % self.recipe.log_every == 0 or self.step == self.total:
                    self.log(self._progress(sums, n, t0, steps0))
                    sums, n = {}, 0
                if self.step % self.recipe.checkpoint_every == 0:
                    self.elapsed += time.perf_counter() - t0
                    t0, steps0 = time.perf_counter(), self.step
                    self._save()
                if (self.recipe.eval_every and self.step % self.recipe.eval_every == 0
                        and self.step < self.total):
                    self._evaluate()
        except KeyboardInterrupt:
            self.elapsed += time.perf_counter() - t0
            self._save()
            self.log(f"interrupted at step {self.step}; state saved: continue with --resume")
            raise
        self.elapsed += time.perf_counter() - t0
        self._save()
        return self._finish()

    def _finish(self) -> dict[str, Any]:
        from bench.train.card import hardware

        evaluation = self._evaluate()
        out = Path(self.recipe.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        export = self.program.export(out)
        summary = {"recipe": self.recipe.name, "steps": self.step, "wall_s": round(self.elapsed, 1),
                   "s_per_step": round(self.elapsed / max(1, self.step), 4),
                   "device": self.device, "seed": self.recipe.seed, "hardware": hardware(),
                   "evaluation": evaluation, "export": export, "history": self.history,
                   "weights": str(out)}
        if self.recipe.card:
            card = Path(self.recipe.card)
            card.parent.mkdir(parents=True, exist_ok=True)
            card.write_text(self.program.card(summary))
            summary["card"] = str(card)
        return summary


def _hms(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def train(source: str, overrides: list[str] | tuple[str, ...] = (), resume: bool = False,
          steps: int | None = None, device: str | None = None,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """`icm-bench train`: load a recipe, run it, return the summary."""
    from bench.train.recipe import load_recipe

    recipe = load_recipe(source, overrides)
    return Trainer(recipe, device=device, log=log).run(steps=steps, resume=resume)
