"""Test doubles of the five codec shapes of contracts v2 (docs/contracts.md).

Real bytes (quantisation + zlib), no networks of their own:

1. PerTaskCodec: one bitstream, a different decoded image per task target.
2. ImageToFeaturesCodec: image in, the task's split-point features out.
3. PredictedLevelsCodec: FPN features in; P3..P5 sent, P2 predicted at the decoder.
4. StereoFeaturesCodec: both views' features in, one joint bitstream, both views out.
5. ScalableCodec: a base layer and an enhancement layer in one bitstream.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from pydantic import Field

from bench.codecs.base import Codec, CodecConfig
from bench.errors import CodecError
from bench.types import Bitstream, RatePoint, Sample


def quantise_image(image: np.ndarray, step: int) -> bytes:
    h, w, _ = image.shape
    q = (image.astype(np.int32) // step).astype(np.uint8)
    return struct.pack("<HHH", h, w, step) + zlib.compress(q.tobytes(), 9)


def dequantise_image(data: bytes) -> np.ndarray:
    h, w, step = struct.unpack("<HHH", data[:6])
    q = np.frombuffer(zlib.decompress(data[6:]), dtype=np.uint8).reshape(h, w, 3)
    return np.clip(q.astype(np.int32) * step + step // 2, 0, 255).astype(np.uint8)


def pack_arrays(arrays: dict[str, np.ndarray], step: float) -> bytes:
    """Arrays quantised with `step` to int16, with their names and shapes: all counted."""
    out = [struct.pack("<Hf", len(arrays), step)]
    for name, a in arrays.items():
        q = np.clip(np.round(a / step), -32768, 32767).astype("<i2")
        raw = zlib.compress(q.tobytes(), 9)
        key = name.encode()
        out.append(struct.pack("<B", len(key)) + key + struct.pack("<B", a.ndim)
                   + struct.pack(f"<{a.ndim}I", *a.shape) + struct.pack("<I", len(raw)) + raw)
    return b"".join(out)


def unpack_arrays(data: bytes) -> dict[str, np.ndarray]:
    n, step = struct.unpack("<Hf", data[:6])
    pos, out = 6, {}
    for _ in range(n):
        klen = data[pos]
        name = data[pos + 1: pos + 1 + klen].decode()
        pos += 1 + klen
        ndim = data[pos]
        shape = struct.unpack(f"<{ndim}I", data[pos + 1: pos + 1 + 4 * ndim])
        pos += 1 + 4 * ndim
        (size,) = struct.unpack("<I", data[pos: pos + 4])
        q = np.frombuffer(zlib.decompress(data[pos + 4: pos + 4 + size]), dtype="<i2")
        out[name] = (q.reshape(shape).astype(np.float32) * step)
        pos += 4 + size
    return out


class PerTaskCodec(Codec):
    """1. One bitstream; the "segmentation" target gets a smoothed decode, "detection" the plain one."""

    name = "test-per-task"
    point_kind = "step"
    targets = ("detection", "segmentation")

    def encode(self, payload, point: RatePoint) -> Bitstream:
        return Bitstream.single(quantise_image(payload, int(point.value)))

    def decode(self, bitstream, layers=None, target=None):
        image = dequantise_image(bitstream.layers["main"])
        if target == "segmentation":
            blurred = image.astype(np.float32)
            blurred[1:-1, 1:-1] = (blurred[:-2, 1:-1] + blurred[2:, 1:-1] + blurred[1:-1, :-2]
                                   + blurred[1:-1, 2:] + blurred[1:-1, 1:-1]) / 5
            image = np.clip(np.round(blurred), 0, 255).astype(np.uint8)
        return image

    def version(self, point=None) -> str:
        return "per-task-1"


class ImageToFeaturesCodec(Codec):
    """2. Codes the image; the decoder gives the bound task's split-point features."""

    name = "test-image-to-features"
    point_kind = "step"
    output_kind = "features"
    needs_task = True

    def bind_task(self, task, split) -> None:
        self.task, self.split = task, split

    def encode(self, payload, point: RatePoint) -> Bitstream:
        return Bitstream.single(quantise_image(payload, int(point.value)))

    def decode(self, bitstream, layers=None, target=None):
        image = dequantise_image(bitstream.layers["main"])
        return self.task.features(Sample(id="decoded", images=(image,)), self.split)

    def version(self, point=None) -> str:
        return "image-to-features-1"


class PredictedLevelsConfig(CodecConfig):
    predict_p2: bool = True


class PredictedLevelsCodec(Codec):
    """3. P3..P5 quantised and sent; P2 predicted from the decoded P3 (nearest x2), no bits."""

    Config = PredictedLevelsConfig
    name = "test-predicted-levels"
    point_kind = "step"
    input_kind = output_kind = "features"

    def encode(self, payload, point: RatePoint) -> Bitstream:
        sent = {k: v for k, v in payload.items() if k != "p2" or not self.config.predict_p2}
        header = struct.pack("<HH", *payload["p2"].shape[1:])
        return Bitstream.single(header + pack_arrays(sent, float(point.value)))

    def decode(self, bitstream, layers=None, target=None):
        data = bitstream.layers["main"]
        h, w = struct.unpack("<HH", data[:4])
        out = unpack_arrays(data[4:])
        if "p2" not in out:
            up = out["p3"].repeat(2, axis=1).repeat(2, axis=2)
            out["p2"] = np.ascontiguousarray(up[:, :h, :w])
        return {k: out[k] for k in ("p2", "p3", "p4", "p5")}

    def version(self, point=None) -> str:
        return "predicted-levels-1"


class StereoFeaturesCodec(Codec):
    """4. The left view's features, then the right view's as a residual: one joint bitstream."""

    name = "test-stereo-features"
    point_kind = "step"
    input_kind = output_kind = "stereo-features"

    def encode(self, payload, point: RatePoint) -> Bitstream:
        step = float(point.value)
        left = {k.split("/", 1)[1]: v for k, v in payload.items() if k.startswith("left/")}
        right = {k.split("/", 1)[1]: v for k, v in payload.items() if k.startswith("right/")}
        left_rec = unpack_arrays(pack_arrays(left, step))
        residual = {k: right[k] - left_rec[k] for k in right}
        a, b = pack_arrays(left, step), pack_arrays(residual, step)
        return Bitstream.single(struct.pack("<I", len(a)) + a + b)

    def decode(self, bitstream, layers=None, target=None):
        data = bitstream.layers["main"]
        (n,) = struct.unpack("<I", data[:4])
        left = unpack_arrays(data[4: 4 + n])
        residual = unpack_arrays(data[4 + n:])
        out = {f"left/{k}": v for k, v in left.items()}
        out.update({f"right/{k}": left[k] + residual[k] for k in residual})
        return out

    def version(self, point=None) -> str:
        return "stereo-features-1"


class ScalableConfig(CodecConfig):
    enhancement_step: int = Field(2, ge=1)


class ScalableCodec(Codec):
    """5. base = the image quantised with the point's step; enhancement = the residual
    quantised finer. The base decodes alone; the enhancement needs the base."""

    Config = ScalableConfig
    name = "test-scalable"
    point_kind = "step"
    layers = ("base", "enhancement")

    def encode(self, payload, point: RatePoint) -> Bitstream:
        base = quantise_image(payload, int(point.value))
        residual = payload.astype(np.int16) - dequantise_image(base).astype(np.int16)
        step = self.config.enhancement_step
        q = np.round(residual / step).astype(np.int8)
        enh = struct.pack("<H", step) + zlib.compress(q.tobytes(), 9)
        return Bitstream(layers={"base": base, "enhancement": enh})

    def decode(self, bitstream, layers=None, target=None):
        wanted = self.check_layers(layers)
        if "base" not in bitstream.layers:
            raise CodecError("the enhancement layer cannot be decoded without the base layer")
        image = dequantise_image(bitstream.layers["base"])
        if "enhancement" not in wanted:
            return image
        (step,) = struct.unpack("<H", bitstream.layers["enhancement"][:2])
        q = np.frombuffer(zlib.decompress(bitstream.layers["enhancement"][2:]), dtype=np.int8)
        rec = image.astype(np.int16) + q.reshape(image.shape).astype(np.int16) * step
        return np.clip(rec, 0, 255).astype(np.uint8)

    def version(self, point=None) -> str:
        return "scalable-1"
