"""CI-ICM as a codec: one bitstream, one decoded image per task (TSCA), or the plain image.

Points are rate levels of the variable-rate network (`level`: 0 = lowest rate; a
fractional level interpolates the trained gains). `weights` names a committed model
(`ci-icm`, `ci-icm-baseline`, `ci-icm-ablation-...`: bench/models/weights/<name>.pt)
or is a path. `decode(bitstream, target="detection" | "segmentation")` gives that
task's TSCA output; `target=None` the plain decoder's. A network without TSCA (the
baseline) gives its plain output for every target.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from bench.codecs.learned import LearnedCodec, LearnedCodecConfig
from bench.errors import CodecError, SpecError
from bench.types import RatePoint

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "models" / "weights"
CODE_VERSION = "1"


class CiIcmConfig(LearnedCodecConfig):
    """Options of the CI-ICM codec.

    Attributes:
        weights: a committed model's name (file bench/models/weights/<name>.pt) or a path.
    """

    weights: str = "ci-icm"


def weights_path(weights: str) -> Path:
    """The file a `weights` option names (a committed name or a path)."""
    if "/" in weights or weights.endswith(".pt"):
        return Path(weights).expanduser()
    return WEIGHTS_DIR / f"{weights}.pt"


class CiIcmCodec(LearnedCodec):
    """CI-ICM (ELIC + CIG, FCGS, CI-CTX, TSCA) with task-specific decoded outputs."""

    Config = CiIcmConfig
    name = "ci-icm"
    point_kind = "level"
    targets: ClassVar[tuple[str, ...]] = ("detection", "segmentation")

    @property
    def model_name(self) -> str:  # type: ignore[override]
        return Path(self.config.weights).stem

    def version_prefix(self) -> str:
        return f"ci-icm/{CODE_VERSION} {self.model_name}"

    def model_key(self, point: RatePoint) -> Hashable:
        return "variable-rate"

    def checkpoint_path(self, point: RatePoint) -> Path:
        return weights_path(self.config.weights)

    def _all_checkpoints(self) -> list[Path]:
        return [weights_path(self.config.weights)]

    def load_state(self, path: Path) -> Any:
        """The whole checkpoint document (its config is needed, not only the weights)."""
        from bench.checkpoint import CheckpointError, load_checkpoint

        try:
            return load_checkpoint(path)
        except CheckpointError as exc:
            raise CodecError(f"codec {self.name!r}: {exc}") from None

    def build_model(self, point: RatePoint, state: Any) -> Any:
        from bench.models.ci_icm.weights import model_from_payload

        try:
            return model_from_payload(state)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CodecError(f"codec {self.name!r}: {self.config.weights}: {exc}") from None

    @cached_property
    def rate_levels(self) -> int:
        """How many trained rate levels the weights have (read from the file's config)."""
        from bench.checkpoint import load_checkpoint

        doc = load_checkpoint(weights_path(self.config.weights))
        return int(doc.get("config", {}).get("rate_levels", 0))

    def check_point(self, point: RatePoint) -> None:
        super().check_point(point)
        try:
            value = float(point.value)
        except (TypeError, ValueError):
            raise SpecError(f"codec {self.name!r}: level {point.value!r} is not a number") from None
        top = self.rate_levels - 1
        if not 0 <= value <= top:
            raise SpecError(f"codec {self.name!r}: level {value:g} is outside the trained "
                            f"levels 0..{top} of {self.config.weights!r}")

    def coding_kwargs(self, point: RatePoint) -> dict[str, Any]:
        return {"level": float(point.value)}

    def decompress_output(self, model: Any, strings: Any, shape: Any, point: RatePoint,
                          target: str | None) -> Any:
        if target is not None and target not in self.targets:
            raise CodecError(f"codec {self.name!r} has no target {target!r}; "
                             f"its targets: {', '.join(self.targets)}")
        out = self.timed_decompress(model, strings, tuple(shape), outputs=(target,))
        return out["x_hat"]

    def attach_model(self, model: Any) -> None:
        """Code with an in-memory network (training evaluation) instead of a weights file."""
        self._models[self.model_key(RatePoint(self.point_kind, 0))] = model
