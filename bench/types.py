"""The small value types that flow between the parts (see DESIGN.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RatePoint:
    """What sets a codec's rate: a QP, a quality index, a checkpoint, a lambda.

    `kind` names the knob ("qp", "quality", "crf", "checkpoint", "lambda"), `value`
    its setting. Stored next to every number it produced.
    """

    kind: str
    value: int | float | str

    @property
    def label(self) -> str:
        return f"{self.kind}={self.value}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RatePoint:
        return cls(kind=str(d["kind"]), value=d["value"])


@dataclass
class Sample:
    """One dataset item.

    `images` holds one H x W x 3 uint8 RGB array, or two for a stereo pair
    (left, right). `calib` is the dataset's calibration where it has one.
    Ground truth stays with the dataset and its evaluator.
    """

    id: str
    images: tuple[np.ndarray, ...]
    calib: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def image(self) -> np.ndarray:
        return self.images[0]

    @property
    def stereo(self) -> bool:
        return len(self.images) == 2

    @property
    def pixels(self) -> int:
        """Original pixels over all views: the denominator of bpp."""
        return int(sum(im.shape[0] * im.shape[1] for im in self.images))

    def with_images(self, images: tuple[np.ndarray, ...]) -> Sample:
        return dataclasses.replace(self, images=tuple(images))


@dataclass
class Bitstream:
    """What an encoder produced.

    `layers` maps a layer name to its bytes; their sizes are the rate (a plain codec
    has one layer, "main"; a scalable codec "base" and "enhancement"). Anything a
    real receiver needs (shapes, min/max, headers) must be inside the bytes.
    `meta` carries only what the receiver knows without being told (the original
    image size it reports results in, say); it is never counted and must stay small.
    """

    layers: dict[str, bytes]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def single(cls, data: bytes, **meta: Any) -> Bitstream:
        return cls(layers={"main": bytes(data)}, meta=dict(meta))

    @property
    def data(self) -> bytes:
        """The bytes of all layers, in order (the main layer for a plain codec)."""
        return b"".join(self.layers.values())

    @property
    def bits(self) -> int:
        return 8 * sum(len(b) for b in self.layers.values())

    def layer_bits(self) -> dict[str, int]:
        return {name: 8 * len(b) for name, b in self.layers.items()}

    def subset(self, names: Any) -> Bitstream:
        """Only the named layers (all when `names` is None): what a receiver of those has."""
        if names is None:
            return self
        return Bitstream(layers={n: self.layers[n] for n in self.layers if n in set(names)},
                         meta=dict(self.meta))


@dataclass(frozen=True)
class MetricInfo:
    """A metric's name and direction, declared by the evaluator that computes it."""

    name: str
    higher_is_better: bool = True
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class SplitDesc:
    """What a task's split point gives: tensor names, channels and strides (per view).

    For a stereo split the names carry the view ("left/f0"); `stereo` says so.
    """

    split: str
    names: tuple[str, ...]
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    stereo: bool = False
