"""Model cards: what the trainer knows about a run, as Markdown."""

from __future__ import annotations

import json
import platform
from typing import Any

from bench.train.recipe import Recipe


def hardware() -> dict[str, Any]:
    """CPU model, cores, torch version, threads and the device of a training run."""
    info: dict[str, Any] = {"cpu": _cpu_model(), "cores": _cores(), "python": platform.python_version()}
    try:
        import torch

        info["torch"] = str(torch.__version__)  # a plain str: TorchVersion would pickle as code
        info["threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def generic_card(recipe: Recipe, summary: dict[str, Any]) -> str:
    """A card listing the recipe, the run (steps, time, hardware) and the final evaluation."""
    lines = [f"# {recipe.name}", ""]
    if recipe.description:
        lines += [recipe.description.strip(), ""]
    lines += ["## Training", ""]
    for key in ("steps", "wall_s", "s_per_step", "device", "seed", "resumed_from"):
        if key in summary:
            lines.append(f"- {key}: {_fmt(summary[key])}")
    hw = summary.get("hardware") or {}
    if hw:
        lines.append("- hardware: " + ", ".join(f"{k} {_fmt(v)}" for k, v in hw.items()))
    lines += ["", "## Recipe", "", "```json",
              json.dumps(recipe.model_dump(mode="json"), indent=1), "```", ""]
    evaluation = summary.get("evaluation") or {}
    if evaluation:
        lines += ["## Evaluation (real coding, held-out data)", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in evaluation.items()]
        lines.append("")
    export = summary.get("export") or {}
    if export:
        lines += ["## Weights", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in export.items()]
        lines.append("")
    return "\n".join(lines)
