"""Coding paths: what a codec is fed from a sample, and what its decoder gives back.

One small strategy per input kind (each view on its own, both views jointly, a task's
split features) and one per output kind (images back into the sample, features for a
task's head). Layered and per-task decoding are decode requests on top of these
(bench.execute.worker); none of this branches on a codec's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.errors import CodecError, SpecError
from bench.types import Sample


class InputPath:
    """How a sample becomes the payloads a codec encodes (one bitstream each)."""

    def payloads(self, sample: Sample) -> list[Any]:
        raise NotImplementedError


class PerViewImages(InputPath):
    """An image codec: each view of the sample is coded on its own."""

    def payloads(self, sample: Sample) -> list[Any]:
        return list(sample.images)


class StereoImages(InputPath):
    """A stereo image codec: both views at once, one bitstream."""

    def payloads(self, sample: Sample) -> list[Any]:
        if not sample.stereo:
            raise CodecError(f"item {sample.id!r} is not a stereo pair; this codec codes pairs")
        return [tuple(sample.images)]


@dataclass
class SplitFeatures(InputPath):
    """A feature codec: the split-point features of one task's network."""

    task: Any
    split: str

    def payloads(self, sample: Sample) -> list[Any]:
        return [self.task.features(sample, self.split)]


class OutputPath:
    """How what the decoder returns becomes what tasks score."""

    kind = "image"

    def assemble(self, sample: Sample, outputs: list[Any]) -> Any:
        raise NotImplementedError


class ImagesOut(OutputPath):
    """Decoded images replace the sample's views (checked against the originals' shapes)."""

    def __init__(self, joint: bool):
        self.joint = joint

    def assemble(self, sample: Sample, outputs: list[Any]) -> Sample:
        views = list(outputs[0]) if self.joint else list(outputs)
        if len(views) != len(sample.images):
            raise CodecError(f"decoder returned {len(views)} view(s), expected {len(sample.images)}")
        for orig, got in zip(sample.images, views):
            if not isinstance(got, np.ndarray) or got.shape != orig.shape or got.dtype != np.uint8:
                raise CodecError(
                    f"decoder returned {getattr(got, 'shape', type(got))} "
                    f"{getattr(got, 'dtype', '')}, expected {orig.shape} uint8"
                )
        return sample.with_images(tuple(views))


class FeaturesOut(OutputPath):
    """Decoded features (a dict of float arrays) for the tasks' heads at the split."""

    kind = "features"

    def assemble(self, sample: Sample, outputs: list[Any]) -> dict[str, np.ndarray]:
        if len(outputs) != 1 or not isinstance(outputs[0], dict):
            raise CodecError("a feature decoder must return one dict of named arrays, got "
                             f"{type(outputs[0]).__name__ if outputs else 'nothing'}")
        return outputs[0]


def input_path(codec: Any, feature_task: Any, split: str | None) -> InputPath:
    kind = codec.input_kind
    if kind == "image":
        return PerViewImages()
    if kind == "stereo-image":
        return StereoImages()
    if kind in ("features", "stereo-features"):
        return SplitFeatures(feature_task, str(split))
    raise SpecError(f"codec input kind {kind!r} is not one of image, stereo-image, features, "
                    "stereo-features")


def output_path(codec: Any) -> OutputPath:
    kind = codec.output_kind
    if kind in ("image", "stereo-image"):
        return ImagesOut(joint=codec.input_kind == "stereo-image")
    if kind in ("features", "stereo-features"):
        return FeaturesOut()
    raise SpecError(f"codec output kind {kind!r} is not one of image, stereo-image, features, "
                    "stereo-features")
