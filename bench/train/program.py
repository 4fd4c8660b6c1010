"""The TrainProgram contract: what a model family tells the generic trainer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from bench.train.recipe import Recipe


class TrainProgram(ABC):
    """A model, its data and its loss. The Trainer owns the loop, optimisers and state.

    Subclasses take their recipe's `program.kwargs` as keyword arguments; `setup()`
    builds everything (on `self.device`), the rest is called by the Trainer.
    """

    def __init__(self, recipe: Recipe, device: str = "cpu", **kwargs: Any):
        self.recipe = recipe
        self.device = device
        self.kwargs = kwargs

    @abstractmethod
    def setup(self) -> None:
        """Build the model(s) and the data; called once, before any step or restore."""

    @abstractmethod
    def modules(self) -> dict[str, Any]:
        """Named torch modules whose state is saved in checkpoints and restored on resume."""

    @abstractmethod
    def parameters(self) -> list[Any]:
        """What the main optimiser trains (frozen networks are left out)."""

    def lr_scales(self) -> dict[float, list[Any]]:
        """Parameters of `parameters()` that train at a multiple of the recipe's lr.

        Keys are the multipliers; what is not named here trains at the recipe's lr. The
        schedule applies to every group alike. None by default.
        """
        return {}

    def aux_parameters(self) -> list[Any]:
        """Entropy-model quantiles, trained by the auxiliary optimiser (none by default)."""
        return []

    @abstractmethod
    def loss(self, step: int) -> tuple[Any, dict[str, float]]:
        """One batch: the scalar loss to minimise and the numbers to log (bpp, psnr, ...)."""

    def aux_loss(self) -> Any | None:
        """The auxiliary loss (CompressAI's aux_loss), or None."""
        return None

    def evaluate(self) -> dict[str, float]:
        """Measured numbers on held-out data, with real coding where the model codes."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Extra program state to resume exactly (a data position); weights-only types."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""

    def train(self, mode: bool = True) -> None:
        """Switch trainable modules between training and evaluation mode."""
        for module in self.modules().values():
            module.train(mode)

    @abstractmethod
    def export(self, path: Path) -> dict[str, Any]:
        """Write the final weights to `path` (after `update()`); return a summary for the card."""

    def card(self, summary: dict[str, Any]) -> str:
        """The model card (Markdown) from the run's summary; a generic one by default."""
        from bench.train.card import generic_card

        return generic_card(self.recipe, summary)
