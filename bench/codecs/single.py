"""`icm-bench codec run`: code one image with one codec at one rate point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.codecs.base import build_codec
from bench.errors import BenchError, SpecError
from bench.timing import Timer
from bench.types import RatePoint


def parse_point(text: str) -> int | float | str:
    """A rate point's value from the command line: int, else float, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`key=value` codec parameters; values are YAML scalars (42, 0.5, true, faster)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SpecError(f"--set {item!r} is not of the form key=value (e.g. preset=faster)")
        if key in params:
            raise SpecError(f"--set gives parameter {key!r} twice")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise SpecError(f"--set {item!r}: cannot read the value {raw!r}: {exc}") from exc
        if isinstance(value, (dict, list)):
            raise SpecError(f"--set {item!r}: the value must be a single number or word")
        params[key] = value
    return params


def read_image(path: str | Path) -> np.ndarray:
    """An image file as H x W x 3 uint8 RGB (grey or alpha images are converted)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise SpecError(f"image {str(path)!r} does not exist")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise SpecError(f"image {str(path)!r} cannot be read as an image: {exc}") from exc


def run_single(
    codec_name: str, image_path: str | Path, point: str, sets: list[str], out_dir: str | Path
) -> dict[str, float]:
    """Code one image; write <stem>.bin (the counted bytes) and <stem>.png; return the numbers."""
    from PIL import Image

    from bench.metrics.quality import psnr_rgb

    params = parse_sets(sets)
    codec = build_codec(codec_name, params)
    if codec.input_kind != "image" or codec.output_kind != "image":
        raise SpecError(f"codec {codec_name!r} is not a single-image codec; `codec run` needs one")
    image = read_image(image_path)
    codec.check()
    rate_point = RatePoint(codec.point_kind, parse_point(point))
    codec.check_point(rate_point)
    with Timer(codec.device) as enc:
        bitstream = codec.encode(image, rate_point)
    with Timer(codec.device) as dec:
        recon = codec.decode(bitstream)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"cannot create the output folder {str(out)!r}: {exc}") from exc
    stem = Path(image_path).stem
    (out / f"{stem}.bin").write_bytes(bitstream.data)
    Image.fromarray(recon).save(out / f"{stem}.png")
    pixels = image.shape[0] * image.shape[1]
    return {
        "bits": bitstream.bits,
        "bpp": bitstream.bits / pixels,
        "psnr_rgb": psnr_rgb(image, recon),
        "encode_s": enc.wall,
        "decode_s": dec.wall,
    }
