"""`learned-baseline`: the project's own small variable-rate learned image codec.

One model (bench/models/learned_baseline.py, committed weights) codes every rate point;
a point is a lambda inside the trained range (a trained lambda, or one between two, by
gain interpolation). The header stores the rate level in thousandths (two bytes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bench.codecs.base import CodecConfig
from bench.codecs.learned import LearnedCodec, LearnedCodecConfig, resolve_path, train_hint
from bench.errors import CodecError, SpecError
from bench.types import RatePoint

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "weights" / "learned-baseline.pt"
LEVEL_SCALE = 1000  # the header's level resolution
_CODE_KIND = "level-code"  # the point kind a decoded header gives back (internal)
_LAMBDAS: dict[tuple[str, str], list[float]] = {}


class LearnedBaselineConfig(LearnedCodecConfig):
    """`weights`: a learned-baseline weights file (default: the committed one)."""

    weights: str | None = None


class LearnedBaselineCodec(LearnedCodec):
    """The in-project mean-scale hyperprior with gain units (see its model card)."""

    Config: ClassVar[type[CodecConfig]] = LearnedBaselineConfig
    name = "learned-baseline"
    model_name = "gained-mean-scale-hyperprior"
    point_kind = "lambda"

    def weights_path(self) -> Path:
        return resolve_path(self.config.weights) if self.config.weights else DEFAULT_WEIGHTS

    def model_key(self, point: RatePoint) -> str:
        return "variable-rate"

    def checkpoint_path(self, point: RatePoint) -> Path:
        return self.weights_path()

    def _all_checkpoints(self) -> list[Path]:
        return [self.weights_path()]

    def load_state(self, path: Path) -> Any:
        from bench.checkpoint import CheckpointError, load_checkpoint
        from bench.models.learned_baseline import WEIGHTS_FORMAT

        try:
            return load_checkpoint(path, fmt=WEIGHTS_FORMAT)
        except CheckpointError as exc:
            raise CodecError(f"codec {self.name!r}: {exc}") from None

    def build_model(self, point: RatePoint, state: Any) -> Any:
        from bench.models.learned_baseline import GainedMeanScaleHyperprior

        return GainedMeanScaleHyperprior.from_weights(state)

    def check(self) -> None:
        path = self.weights_path()
        if not path.is_file():
            raise CodecError(f"codec {self.name!r}: weights {str(path)!r} do not exist"
                             + train_hint(path))

    def check_point(self, point: RatePoint) -> None:
        """Kind, weights file, and the lambda inside the trained range (no model is built)."""
        super().check_point(point)
        lambdas = self.trained_lambdas()
        try:
            value = float(point.value)
        except (TypeError, ValueError):
            raise SpecError(f"codec {self.name!r}: point {point.label} is not a number") from None
        if not lambdas[0] * (1 - 1e-9) <= value <= lambdas[-1] * (1 + 1e-9):
            raise SpecError(f"codec {self.name!r}: lambda {value:g} is outside the trained "
                            f"range {lambdas[0]:g}..{lambdas[-1]:g}")

    def trained_lambdas(self) -> list[float]:
        """The lambdas the weights were trained for (read from the file once, not built)."""
        from bench.checkpoint import file_sha256

        path = self.weights_path()
        key = (str(path), file_sha256(path))
        if key not in _LAMBDAS:
            _LAMBDAS[key] = [float(v) for v in self.load_state(path)["config"]["lambdas"]]
        return _LAMBDAS[key]

    def level(self, point: RatePoint) -> float:
        """The rate level of a lambda point (quantised as in the header) or of a header code."""
        if point.kind == _CODE_KIND:
            return int(point.value) / LEVEL_SCALE
        model = self.model_for(point)
        return round(model.level_of(float(point.value)) * LEVEL_SCALE) / LEVEL_SCALE

    def point_code(self, point: RatePoint) -> int:
        return round(self.level(point) * LEVEL_SCALE)

    def point_from_code(self, code: int) -> RatePoint:
        return RatePoint(_CODE_KIND, int(code))

    def coding_kwargs(self, point: RatePoint) -> dict[str, Any]:
        return {"level": self.level(point)}

    def version_prefix(self) -> str:
        return f"{self.name} {self.model_name}"
