"""Training recipes: YAML -> a validated Recipe (type + kwargs for the program)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import SpecError
from bench.registry import did_you_mean

RECIPES_DIR = Path(__file__).parent / "recipes"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProgramSpec(_Model):
    """Which TrainProgram (a name in bench.registry.PROGRAMS) and its keyword arguments."""

    type: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class OptimSpec(_Model):
    """The main optimiser, its schedule, and the auxiliary (entropy-model quantile) one."""

    name: Literal["adam", "adamw"] = "adam"
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    aux_lr: float = Field(1e-3, gt=0)
    clip: float | None = Field(1.0, gt=0, description="gradient norm clip; null = none")
    schedule: Literal["constant", "step", "cosine", "cosine-full"] = Field(
        "constant", description="cosine: warm-up, then cosine to min_lr; cosine-full: cosine "
                                "over all steps times the warm-up ramp")
    milestones: list[int] = Field(default_factory=list, description="steps (schedule: step)")
    gamma: float = Field(0.5, gt=0)
    warmup_steps: int = Field(0, ge=0)
    min_lr: float = Field(0.0, ge=0)


class Recipe(_Model):
    """One training run: the program, how long, how to optimise, where results go."""

    name: str
    description: str = ""
    program: ProgramSpec
    steps: int = Field(..., ge=1)
    seed: int = 0
    device: str = "cpu"
    threads: int = Field(1, ge=1)
    optim: OptimSpec = Field(default_factory=OptimSpec)
    log_every: int = Field(50, ge=1)
    eval_every: int = Field(0, ge=0, description="0 = evaluate only at the end")
    checkpoint_every: int = Field(200, ge=1)
    work_dir: str | None = Field(None, description="resume state; default runs/train/<name>")
    out: str = Field(..., description="the exported weights file")
    card: str | None = Field(None, description="the model card to write (Markdown)")

    def work_path(self) -> Path:
        return Path(self.work_dir) if self.work_dir else Path("runs") / "train" / self.name


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def resolve_recipe(source: str) -> Path:
    """A recipe file path or the name of one shipped in bench/train/recipes."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SpecError(f"recipe file {source!r} does not exist")
        return path
    shipped = RECIPES_DIR / f"{source}.yaml"
    if shipped.is_file():
        return shipped
    names = recipe_names()
    raise SpecError(f"{source!r} is neither a recipe file nor a shipped recipe."
                    f"{did_you_mean(source, names)} Recipes: {', '.join(names) or '(none)'}")


def load_recipe(source: str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read, override (``key.path=value``) and validate a recipe."""
    from bench.spec import apply_override, read_yaml

    path = resolve_recipe(source)
    raw = read_yaml(path, "recipe")
    if not isinstance(raw, dict):
        raise SpecError(f"recipe {str(path)!r} must be a YAML mapping")
    raw = copy.deepcopy(raw)
    raw.setdefault("name", path.stem)
    for assignment in overrides:
        apply_override(raw, assignment)
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        lines = [f"invalid recipe {str(path)!r}:"]
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"  {loc}: {msg}")
        raise SpecError("\n".join(lines)) from None
