"""The base of learned codecs: a model with CompressAI's shape behind the codec contract.

A model has `compress(x, **kw) -> {"strings": ..., "shape": ...}`,
`decompress(strings, shape, **kw) -> {"x_hat": ...}` and `update()` (docs/contracts.md).
`LearnedCodec` keeps one model per rate point on the codec's device (loaded once, through
bench.checkpoint: weights only, sha256), pads images as CompressAI's eval does (centred
zero padding to the model's multiple), crops after decoding, rounds to 8 bits, and packs
the strings with a small header (bench.codecs.learned_io): the bytes are the rate.
Transforms run on the device; CompressAI's entropy coders run on the CPU. After each
encode/decode, `last_timing` splits the time into transform and entropy coding.

Subclasses say how a model is built (`build_model`), which file and which model a point
uses, and what keyword arguments a point passes to compress/decompress. Codecs with other
outputs (per-task targets, several layers) override `encode`/`decode` and reuse the helpers:
`model_for`, `image_to_tensor`, `tensor_to_image`, `timed_compress`, `timed_decompress`,
`pack`, `unpack`. /work/notes/learned-api.md and docs/learned.md show both.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from bench.codecs.base import Codec, CodecConfig
from bench.codecs.learned_io import flatten_tree, pack_streams, unflatten_tree, unpack_streams
from bench.errors import CodecError, SpecError
from bench.timing import Timer
from bench.types import Bitstream, RatePoint

LAYOUT_FLAT, LAYOUT_TREE = 0, 1  # header layouts (first header integer)
_FLOAT_FLAG = 1 << 40  # point codes at or above this carry a float32's bits
# bench.train.recipe.RECIPES_DIR, not imported: bench.train imports bench.codecs
RECIPES_DIR = Path(__file__).resolve().parent.parent / "train" / "recipes"


def train_hint(path: Path) -> str:
    """'; train it with ...' when a built-in recipe makes this weights file, else ''."""
    if (RECIPES_DIR / f"{path.stem}.yaml").is_file():
        return (f"; train it with `icm-bench train {path.stem}` "
                "(or give the path of a local checkpoint)")
    return ""


class LearnedCodecConfig(CodecConfig):
    """Options shared by learned codecs.

    `checkpoints` maps a point value (a quality index or a lambda) to a weights file;
    `checkpoint_dir` is searched by subclasses that know file names (CompressAI's zoo).
    `parity` re-decodes on the encoder's device at encode time and checks that the
    decoder's reconstruction is bit-identical (a check only: it is not in the job key).
    """

    device: str = "cpu"
    checkpoints: dict[str, str] = Field(default_factory=dict)
    checkpoint_dir: str | None = None
    parity: bool = False

    runtime_fields: ClassVar[tuple[str, ...]] = ("parity",)

    @field_validator("checkpoints", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_point_text(k): str(v) for k, v in value.items()}
        return value


def _point_text(value: Any) -> str:
    """The canonical text of a point value: 3 for 3 and 3.0, 0.0067 for 0.0067."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    f = float(value)
    return str(int(f)) if f.is_integer() else repr(f)


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def resolve_path(path: str | Path) -> Path:
    """A weights path: as given when it exists (or is absolute), else relative to the project
    root, so that presets naming `bench/models/weights/...` work from any directory."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    alt = PROJECT_ROOT / p
    return alt if alt.exists() else p


def centre_padding(h: int, w: int, multiple: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding to the next multiple, centred as CompressAI's eval."""
    new_h = (h + multiple - 1) // multiple * multiple
    new_w = (w + multiple - 1) // multiple * multiple
    left, top = (new_w - w) // 2, (new_h - h) // 2
    return left, new_w - w - left, top, new_h - h - top


class _EntropyClock:
    """Accumulates the time spent inside CompressAI entropy models' compress/decompress."""

    def __init__(self, device: str):
        self.device = device
        self.seconds = 0.0
        self.calls = 0

    @contextmanager
    def watch(self, model: Any) -> Iterator[None]:
        patched = []
        for module in _entropy_models(model):
            for name in ("compress", "decompress"):
                original = getattr(module, name)
                setattr(module, name, self._wrap(original))
                patched.append((module, name))
        try:
            yield
        finally:
            for module, name in patched:
                delattr(module, name)  # back to the class's method

    def _wrap(self, fn: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with Timer(self.device) as t:
                out = fn(*args, **kwargs)
            self.seconds += t.wall
            self.calls += 1
            return out
        return timed


def _entropy_models(model: Any) -> list[Any]:
    """The CompressAI EntropyModel instances inside `model` (none if compressai isn't loaded)."""
    em = sys.modules.get("compressai.entropy_models")
    base = getattr(em, "EntropyModel", None)
    if base is None or not hasattr(model, "modules"):
        return []
    return [m for m in model.modules() if isinstance(m, base)]


def ensure_cdfs(model: Any) -> bool:
    """Run `update(force=True)` when an entropy model has no CDF tables; True if it did."""
    missing = any(getattr(m, "_quantized_cdf", None) is not None and m._quantized_cdf.numel() == 0
                  for m in _entropy_models(model))
    if missing:
        model.update(force=True)
    return missing


class LearnedCodec(Codec):
    """A learned image codec: one model per rate point, real compress/decompress bitstreams.

    Subclasses implement `build_model(point, state)` and usually `checkpoint_path(point)`;
    the defaults cover one-checkpoint-per-point codecs whose points are `checkpoints` keys.
    """

    Config: ClassVar[type[CodecConfig]] = LearnedCodecConfig
    point_kind = "quality"
    warmup_items = 1
    pad_multiple: ClassVar[int] = 64  # overridden by a model's own `pad_multiple` attribute
    entropy_split: ClassVar[bool] = True  # False for models whose entropy coding is interleaved
    model_name: ClassVar[str] = "model"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._models: dict[Hashable, Any] = {}
        self._parity: dict[bytes, bytes] = {}
        self.last_timing: dict[str, float | None] = {}

    # ------------------------------------------------------------------ hooks

    def build_model(self, point: RatePoint, state: Any) -> Any:
        """Build the model of `point` from a loaded checkpoint (None when it has none)."""
        raise NotImplementedError

    def model_key(self, point: RatePoint) -> Hashable:
        """Which cached model codes `point` (variable-rate codecs: one key for all points)."""
        return _point_text(point.value)

    def checkpoint_path(self, point: RatePoint) -> Path | None:
        """The weights file of `point`: `checkpoints[value]`; CodecError when there is none."""
        path = self.config.checkpoints.get(_point_text(point.value))
        if path is None:
            known = ", ".join(sorted(self.config.checkpoints)) or "none"
            raise CodecError(f"codec {self.name!r}: no checkpoint for point {point.label} "
                             f"(checkpoints given for: {known})")
        return resolve_path(path)

    def coding_kwargs(self, point: RatePoint) -> dict[str, Any]:
        """Extra keyword arguments of the model's compress/decompress at `point`."""
        return {}

    def point_code(self, point: RatePoint) -> int:
        """The point as a header integer (ints as such, floats by their float32 bits)."""
        value = point.value
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                      and abs(value) < _FLOAT_FLAG):
            return int(value)
        bits = int(np.array(float(value), dtype=np.float32).view(np.uint32))
        return _FLOAT_FLAG + bits

    def point_from_code(self, code: int) -> RatePoint:
        """The inverse of `point_code`."""
        if code >= _FLOAT_FLAG:
            value = float(np.array(code - _FLOAT_FLAG, dtype=np.uint32).view(np.float32))
            return RatePoint(self.point_kind, float(f"{value:.7g}"))
        return RatePoint(self.point_kind, int(code))

    def version_prefix(self) -> str:
        """What identifies the code around the weights (package and model name)."""
        return f"{self.name or type(self).__name__} {self.model_name}"

    # ------------------------------------------------------------------ contract

    def version(self, point: RatePoint | None = None) -> str:
        """Package and model name plus the weights' sha256 prefix (all files when no point)."""
        from bench.checkpoint import file_sha256

        if point is not None:
            path = self.checkpoint_path(point)
            digest = file_sha256(path)[:12] if path is not None else "none"
            return f"{self.version_prefix()} sha256:{digest}"
        digests = sorted({file_sha256(p)[:12] for p in self._all_checkpoints() if p.is_file()})
        return f"{self.version_prefix()} sha256:{','.join(digests) or 'none'}"

    def _all_checkpoints(self) -> list[Path]:
        return [resolve_path(p) for p in self.config.checkpoints.values()]

    def check(self) -> None:
        for path in self._all_checkpoints():
            if not path.is_file():
                raise CodecError(f"codec {self.name!r}: checkpoint {str(path)!r} does not exist"
                                 + train_hint(path))

    def check_point(self, point: RatePoint) -> None:
        if point.kind != self.point_kind:
            raise SpecError(f"codec {self.name!r} takes {self.point_kind} points, "
                            f"not {point.kind}")
        try:
            path = self.checkpoint_path(point)
        except CodecError as exc:
            raise SpecError(str(exc)) from None
        if path is not None and not path.is_file():
            raise SpecError(f"codec {self.name!r}: the checkpoint of point {point.label}, "
                            f"{str(path)!r}, does not exist" + train_hint(path))

    # ------------------------------------------------------------------ helpers

    def load_state(self, path: Path) -> Any:
        """A weights-only checkpoint; a {"state_dict": ...} wrapper is unwrapped."""
        from bench.checkpoint import CheckpointError, load_checkpoint

        try:
            obj = load_checkpoint(path)
        except CheckpointError as exc:
            raise CodecError(f"codec {self.name!r}: {exc}") from None
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            return obj["state_dict"]
        return obj

    def model_for(self, point: RatePoint) -> Any:
        """The model of `point`, loaded once, in eval mode, with CDFs, on the codec's device."""
        key = self.model_key(point)
        if key not in self._models:
            import torch

            path = self.checkpoint_path(point)
            state = self.load_state(path) if path is not None else None
            with torch.no_grad():
                model = self.build_model(point, state)
                model.eval()
                ensure_cdfs(model)
            self._models[key] = model.to(self.device)
        return self._models[key]

    def parameter_count(self, point: RatePoint) -> int:
        """The parameters of the network that codes `point` (its whole model, every branch)."""
        return sum(p.numel() for p in self.model_for(point).parameters())

    def use_model(self, point: RatePoint, model: Any) -> None:
        """Code `point` with an in-memory model (training evaluation, tests): no checkpoint."""
        self._models[self.model_key(point)] = model

    def multiple(self, model: Any) -> int:
        return int(getattr(model, "pad_multiple", self.pad_multiple))

    def image_to_tensor(self, image: np.ndarray, multiple: int) -> Any:
        """H x W x 3 uint8 -> 1 x 3 x H' x W' float in [0, 1] on the device, centred zero padding."""
        import torch
        import torch.nn.functional as F

        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise CodecError(f"codec {self.name!r} takes H x W x 3 uint8 images, got "
                             f"{image.shape} {image.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
        pad = centre_padding(image.shape[0], image.shape[1], multiple)
        return F.pad(x, pad, mode="constant", value=0).to(self.device)

    def tensor_to_image(self, x_hat: Any, size: tuple[int, int], multiple: int) -> np.ndarray:
        """Crop the centred padding away and round to 8 bits: H x W x 3 uint8."""
        h, w = size
        left, _, top, _ = centre_padding(h, w, multiple)
        x = x_hat[0, :, top:top + h, left:left + w].clamp(0, 1)
        out = (x * 255).round().to("cpu").byte().permute(1, 2, 0).numpy()
        return np.ascontiguousarray(out)

    def timed_compress(self, model: Any, x: Any, **kwargs: Any) -> dict[str, Any]:
        """`model.compress`, timed: sets last_timing encode_s / encode_entropy_s / _transform_s."""
        return self._timed("encode", model, lambda: model.compress(x, **kwargs))

    def timed_decompress(self, model: Any, strings: Any, shape: Any, **kwargs: Any) -> Any:
        """`model.decompress`, timed like `timed_compress` (decode_* keys)."""
        return self._timed("decode", model, lambda: model.decompress(strings, shape, **kwargs))

    def _timed(self, side: str, model: Any, fn: Callable[[], Any]) -> Any:
        import torch

        clock = _EntropyClock(self.device)
        with torch.no_grad(), clock.watch(model), Timer(self.device) as total:
            out = fn()
        split = self.entropy_split and clock.calls > 0
        self.last_timing[f"{side}_s"] = total.wall
        self.last_timing[f"{side}_gpu_ms"] = total.gpu_ms
        self.last_timing[f"{side}_entropy_s"] = clock.seconds if split else None
        self.last_timing[f"{side}_transform_s"] = total.wall - clock.seconds if split else None
        return out

    def pack(self, size: tuple[int, int], point: RatePoint, strings: Any, shape: Any) -> bytes:
        """Header (layout, H, W, point code, shape) + strings, via learned_io."""
        flat = (isinstance(strings, (list, tuple))
                and all(isinstance(s, (list, tuple)) and len(s) == 1
                        and isinstance(s[0], (bytes, bytearray)) for s in strings)
                and isinstance(shape, (list, tuple)) and all(_is_int(v) for v in shape))
        head = [int(size[0]), int(size[1]), self.point_code(point)]
        if flat:
            return pack_streams([LAYOUT_FLAT, *head, *(int(v) for v in shape)],
                                [s[0] for s in strings])
        codes, leaves = flatten_tree([strings, shape])
        return pack_streams([LAYOUT_TREE, *head, *codes], leaves)

    def unpack(self, data: bytes) -> tuple[tuple[int, int], RatePoint, Any, Any]:
        """The inverse of `pack`: ((H, W), point, strings, shape)."""
        ints, streams = unpack_streams(data)
        if len(ints) < 4 or ints[0] not in (LAYOUT_FLAT, LAYOUT_TREE):
            raise CodecError(f"codec {self.name!r}: bitstream header is not a learned "
                             "codec's (layout, height, width, point)")
        layout, h, w, code = ints[:4]
        point = self.point_from_code(code)
        if layout == LAYOUT_FLAT:
            return (h, w), point, [[s] for s in streams], tuple(ints[4:])
        tree = unflatten_tree(ints[4:], streams)
        if not isinstance(tree, list) or len(tree) != 2:
            raise CodecError(f"codec {self.name!r}: bitstream structure is not (strings, shape)")
        return (h, w), point, tree[0], tree[1]

    # ------------------------------------------------------------------ coding

    def encode(self, payload: np.ndarray, point: RatePoint) -> Bitstream:
        model = self.model_for(point)
        m = self.multiple(model)
        x = self.image_to_tensor(payload, m)
        out = self.timed_compress(model, x, **self.coding_kwargs(point))
        size = (payload.shape[0], payload.shape[1])
        data = self.pack(size, point, out["strings"], out["shape"])
        if self.config.parity:
            timing = dict(self.last_timing)
            self._parity[_digest(data)] = _digest(self._reconstruct(data).tobytes())
            self.last_timing = timing
        return Bitstream.single(data)

    def decode(self, bitstream: Bitstream, layers: Sequence[str] | None = None,
               target: str | None = None) -> np.ndarray:
        self.check_layers(layers)
        data = bitstream.data
        image = self._reconstruct(data, target)
        expected = self._parity.pop(_digest(data), None) if self.config.parity else None
        if expected is not None and expected != _digest(image.tobytes()):
            raise CodecError(f"codec {self.name!r}: parity check failed: the decoder's "
                             f"reconstruction on {self.device} differs from the encoder's")
        return image

    def _reconstruct(self, data: bytes, target: str | None = None) -> np.ndarray:
        size, point, strings, shape = self.unpack(data)
        model = self.model_for(point)
        x_hat = self.decompress_output(model, strings, shape, point, target)
        return self.tensor_to_image(x_hat, size, self.multiple(model))

    def decompress_output(self, model: Any, strings: Any, shape: Any, point: RatePoint,
                          target: str | None) -> Any:
        """The decoded (padded) image tensor; override to pass a `target` to the model."""
        out = self.timed_decompress(model, strings, shape, **self.coding_kwargs(point))
        return out["x_hat"] if isinstance(out, dict) else out


def _is_int(v: Any) -> bool:
    try:
        return int(v) == v and int(v) >= 0
    except (TypeError, ValueError):
        return False


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
