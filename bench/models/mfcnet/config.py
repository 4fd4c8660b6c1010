"""Configurations of MFCNet/BFCNet (Liu et al., ICASSP 2023) at a detector's FPN split.

A system is a set of coded *paths* (one BFCNet-like codec each: a source level in,
one or more target levels out) and an optional *predictor* (FineNet: P2 from the
decoded P3, no bits). Normalisation *groups* share one per-image min/max pair.

- `paper`: 256-channel FPN (detectron2 / torchvision R50/X101-FPN), N = M = 192,
  P2 padded to a multiple of 32 with each side >= 256 (the authors' code);
  BFCNet 24.48 M and FineNet 5.87 M parameters.
- `small`: the in-project detector's 64-channel FPN, narrower networks and gain units
  (several rate points in one model: a deviation from the paper, one model per lambda).

Variants (`variant(...)`): `mfcnet` (the method: P2->P3 + FineNet, P4->P4/P5),
`no-predict` (P2 coded by its own path instead of predicted), `no-cross` (each level
coded on its own, no prediction).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from math import prod
from typing import Any

LEVELS = ("p2", "p3", "p4", "p5")
STRIDES = {"p2": 4, "p3": 8, "p4": 16, "p5": 32}
VARIANTS = ("mfcnet", "no-predict", "no-cross")


@dataclass(frozen=True)
class PathSpec:
    """One coded path: a BFCNet-like codec from `source` to `targets`.

    Attributes:
        name: the path's name (module and stream key).
        source: the FPN level coded (its features are the encoder's input).
        targets: the levels reconstructed from the path's latent, one head each.
        down: strides of the encoder's residual stages (each RBwStride + RB); a final
            stride-2 conv follows, so y is at source / (prod(down) * 2).
        trunk_up: upsampling factors of the shared synthesis stages (RBUp + RB each).
        head_up: per target, the extra upsampling factors of its own head.
        pad_multiple: the source is zero-padded (bottom, right) to a multiple of this.
        pad_min: and to at least this many rows and columns.
    """

    name: str
    source: str
    targets: tuple[str, ...]
    down: tuple[int, ...]
    trunk_up: tuple[int, ...]
    head_up: tuple[tuple[int, ...], ...]
    pad_multiple: int
    pad_min: int = 0

    @property
    def y_stride(self) -> int:
        """Stride of the latent y relative to the source level."""
        return prod(self.down) * 2

    def head_scale(self, k: int) -> float:
        """Size of target k relative to the source (e.g. 0.5 for P2 -> P3)."""
        return prod(self.trunk_up) * prod(self.head_up[k]) / self.y_stride

    def check(self) -> None:
        """ValueError when strides, heads and padding do not fit the FPN levels."""
        if len(self.head_up) != len(self.targets):
            raise ValueError(f"path {self.name}: one head_up entry per target")
        for k, target in enumerate(self.targets):
            want = STRIDES[self.source] / STRIDES[target]
            if abs(self.head_scale(k) - want) > 1e-9:
                raise ValueError(f"path {self.name}: head {target} is at {self.head_scale(k)} "
                                 f"of the source, the FPN needs {want}")
        if self.pad_multiple % (self.y_stride * 2):
            raise ValueError(f"path {self.name}: pad_multiple {self.pad_multiple} must be a "
                             f"multiple of {self.y_stride * 2} (y and z whole)")


@dataclass(frozen=True)
class FineNetSpec:
    """FineNet: P2-hat = U(P3-hat) + G(U(P3-hat)), G a pix2pixHD global generator."""

    source: str = "p3"
    target: str = "p2"
    ngf: int = 128
    n_blocks: int = 9


@dataclass(frozen=True)
class MfcNetConfig:
    """One MFCNet system.

    Attributes:
        channels: FPN channels (256 for the paper's detectors, 64 in-project).
        N: hidden channels of the transforms and the hyper-latent z.
        M: channels of the latent y.
        paths: the coded paths, in stream order.
        predictor: FineNet, or None when nothing is predicted.
        groups: levels sharing one per-image min/max (sent as two float16 each).
        lambdas: one rate-distortion trade-off per trained rate point; with more than
            one, gain units select the point (loss = lambda * 255^2 * MSE + bpp).
        name: a label (configuration and variant).
    """

    channels: int = 256
    N: int = 192
    M: int = 192
    paths: tuple[PathSpec, ...] = ()
    predictor: FineNetSpec | None = None
    groups: tuple[tuple[str, ...], ...] = (("p2", "p3"), ("p4", "p5"))
    lambdas: tuple[float, ...] = (1.0,)
    name: str = field(default="paper", compare=False)

    @property
    def n_rates(self) -> int:
        """Gain-unit rate points (0: a single-rate model without gain units)."""
        return len(self.lambdas) if len(self.lambdas) > 1 else 0

    def path(self, name: str) -> PathSpec:
        """The path called `name` (KeyError otherwise)."""
        for spec in self.paths:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def coded_levels(self) -> tuple[str, ...]:
        """Levels reconstructed from transmitted latents."""
        return tuple(t for p in self.paths for t in p.targets)

    def group_of(self, level: str) -> int:
        """Index of the normalisation group holding `level`."""
        for k, group in enumerate(self.groups):
            if level in group:
                return k
        raise KeyError(level)

    def check(self) -> None:
        """ValueError unless every level is produced exactly once and grouped once."""
        for spec in self.paths:
            spec.check()
        produced = list(self.coded_levels())
        if self.predictor is not None:
            if self.predictor.source not in produced:
                raise ValueError(f"FineNet needs {self.predictor.source} from a coded path")
            produced.append(self.predictor.target)
        if sorted(produced) != sorted(LEVELS):
            raise ValueError(f"{self.name}: levels produced {produced}, need each of {LEVELS} once")
        grouped = [lv for g in self.groups for lv in g]
        if sorted(grouped) != sorted(LEVELS):
            raise ValueError(f"{self.name}: groups {self.groups} must hold each level once")
        if not self.lambdas or min(self.lambdas) <= 0:
            raise ValueError("lambdas must be positive")
        if len(self.lambdas) > 255:
            raise ValueError("at most 255 rate points")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, numbers) for a checkpoint."""
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MfcNetConfig:
        """Inverse of `to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown MFCNet config keys: {', '.join(unknown)}")
        d = dict(data)
        d["paths"] = tuple(_path_from_dict(p) for p in d.get("paths", ()))
        if d.get("predictor") is not None:
            d["predictor"] = FineNetSpec(**d["predictor"])
        d["groups"] = tuple(tuple(g) for g in d.get("groups", ()))
        d["lambdas"] = tuple(float(v) for v in d.get("lambdas", (1.0,)))
        cfg = cls(**d)
        cfg.check()
        return cfg


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _path_from_dict(data: dict[str, Any]) -> PathSpec:
    d = dict(data)
    d["targets"] = tuple(d["targets"])
    d["down"] = tuple(d["down"])
    d["trunk_up"] = tuple(d["trunk_up"])
    d["head_up"] = tuple(tuple(h) for h in d["head_up"])
    return PathSpec(**d)


def _paths(variant: str, p2_pad: tuple[int, int], other_pad_min: int) -> tuple[PathSpec, ...]:
    """The paths of a variant; `p2_pad` = (multiple, min side) of P2-sourced paths."""
    mult, least = p2_pad
    p2p3 = PathSpec("p2p3", "p2", ("p3",), (2, 1, 2), (2, 1, 2), ((),), mult, least)
    p4p5 = PathSpec("p4p5", "p4", ("p4", "p5"), (2, 1), (2,), ((2,), ()), 8, other_pad_min)
    p2p2 = PathSpec("p2p2", "p2", ("p2",), (2, 1, 2), (2, 2, 2), ((),), mult, least)
    if variant == "mfcnet":
        return (p2p3, p4p5)
    if variant == "no-predict":
        return (p2p3, p2p2, p4p5)
    if variant == "no-cross":  # latents at the same strides as the full system (h/32, h/64)
        p3p3 = PathSpec("p3p3", "p3", ("p3",), (2, 1, 1), (2, 2), ((),), 8, other_pad_min)
        p4p4 = PathSpec("p4p4", "p4", ("p4",), (2, 1), (2, 2), ((),), 8, other_pad_min)
        p5p5 = PathSpec("p5p5", "p5", ("p5",), (1, 1), (2,), ((),), 4, other_pad_min)
        return (p2p2, p3p3, p4p4, p5p5)
    raise ValueError(f"unknown MFCNet variant {variant!r}; variants: {', '.join(VARIANTS)}")


def paper_config(variant: str = "mfcnet") -> MfcNetConfig:
    """The authors' sizes: 256-channel FPN, N = M = 192, FineNet ngf 128 with 9 blocks."""
    predictor = FineNetSpec(ngf=128, n_blocks=9) if variant == "mfcnet" else None
    cfg = MfcNetConfig(channels=256, N=192, M=192, paths=_paths(variant, (32, 256), 0),
                       predictor=predictor, name=f"paper-{variant}")
    cfg.check()
    return cfg


SMALL_LAMBDAS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # the paper's lambdas (SEEDS.md 2.4)


def small_config(variant: str = "mfcnet", lambdas: tuple[float, ...] = SMALL_LAMBDAS,
                 N: int = 32, M: int = 32, ngf: int = 32, n_blocks: int = 9) -> MfcNetConfig:
    """The in-project detector's 64-channel FPN (320x240 images: P2 is 64 x 64 x 80).

    N = M = 0.5 C (the paper has 0.75 C; narrower to keep the weights files small),
    ngf = 0.5 C as in the paper.
    """
    predictor = FineNetSpec(ngf=ngf, n_blocks=n_blocks) if variant == "mfcnet" else None
    cfg = MfcNetConfig(channels=64, N=N, M=M, paths=_paths(variant, (16, 0), 0),
                       predictor=predictor, lambdas=tuple(lambdas), name=f"small-{variant}")
    cfg.check()
    return cfg


def build_config(size: str = "small", variant: str = "mfcnet", **overrides: Any) -> MfcNetConfig:
    """A named configuration (`paper` or `small`) of one variant, with field overrides."""
    if size == "paper":
        cfg = paper_config(variant)
    elif size == "small":
        cfg = small_config(variant)
    else:
        raise ValueError(f"unknown MFCNet configuration {size!r}: paper or small")
    if overrides:
        if "lambdas" in overrides:
            overrides["lambdas"] = tuple(float(v) for v in overrides["lambdas"])
        cfg = replace(cfg, **overrides)
        cfg.check()
    return cfg
