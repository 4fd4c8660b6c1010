"""`jpeg` (libjpeg through Pillow): the published JPEG curve, through the whole harness."""

import io
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from bench.analysis.bd import bd_rate
from bench.codecs.base import build_codec
from bench.codecs.pillow_jpeg import PillowJpegCodec
from bench.errors import CodecError, SpecError
from bench.types import Bitstream, RatePoint

QUALITIES = [10, 30, 50, 70, 90]


def photo_folder(root: Path) -> Path:
    """Four images: crops of a photograph bundled with matplotlib and two synthetic scenes."""
    from bench.datasets.synthetic_coco import render_image, split_seed

    root.mkdir(parents=True, exist_ok=True)
    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    arrays = []
    if photo.is_file():
        full = np.asarray(Image.open(photo).convert("RGB"))
        arrays += [full[:240, :320], full[-241:, -317:]]  # one odd size
    for i in range(4 - len(arrays)):
        rng = np.random.default_rng([split_seed(0, "val"), i])
        arrays.append(render_image(rng, 240, 320, 5)[0])
    for i, a in enumerate(arrays):
        Image.fromarray(np.ascontiguousarray(a)).save(root / f"{i:02d}.png")
    return root


def pillow_curve(folder: Path, qualities: list[int]) -> tuple[list[float], list[float]]:
    """The JPEG curve made with Pillow alone: pooled bpp, mean PSNR-RGB per quality."""
    images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]
    rates, psnrs = [], []
    for q in qualities:
        bits = pixels = 0
        values = []
        for img in images:
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=q)
            bits += 8 * len(buf.getvalue())
            pixels += img.shape[0] * img.shape[1]
            rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
            mse = np.mean((rec.astype(float) - img.astype(float)) ** 2)
            values.append(10 * np.log10(255.0 ** 2 / mse))
        rates.append(bits / pixels)
        psnrs.append(float(np.mean(values)))
    return rates, psnrs


def smooth(h=48, w=64):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([120 + 80 * np.sin(xx / 7 + c) * np.cos(yy / 9 - c) for c in range(3)], -1)
    return img.round().astype(np.uint8)


def test_round_trip_rate_and_quality_move_with_quality():
    codec = PillowJpegCodec()
    image = smooth()
    sizes, errors = [], []
    for q in (90, 50, 10):
        bits = codec.encode(image, RatePoint("quality", q))
        assert bits.data.startswith(b"\xff\xd8") and bits.meta == {"width": 64, "height": 48}
        rec = codec.decode(bits)
        assert rec.shape == image.shape and rec.dtype == np.uint8
        sizes.append(len(bits.data))
        errors.append(float(np.mean((rec.astype(float) - image) ** 2)))
    assert sizes[0] > sizes[1] > sizes[2] and errors[0] < errors[1] < errors[2]


def test_bitstream_is_pillows_jpeg_file_with_420_sampling():
    image = smooth(37, 53)
    data = PillowJpegCodec().encode(image, RatePoint("quality", 75)).data
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=75)
    assert data == buf.getvalue()  # what CompressAI and papers measure, byte for byte
    with Image.open(io.BytesIO(data)) as img:
        assert img.layer[0][1:3] == (2, 2) and img.layer[1][1:3] == (1, 1)  # 4:2:0


def test_options_change_the_stream():
    image = smooth()
    point = RatePoint("quality", 80)
    base = PillowJpegCodec().encode(image, point).data
    full = PillowJpegCodec(subsampling="4:4:4").encode(image, point).data
    with Image.open(io.BytesIO(full)) as img:
        assert img.layer[0][1:3] == (1, 1)
    assert len(PillowJpegCodec(optimize=True).encode(image, point).data) < len(base)
    assert PillowJpegCodec(subsampling="4:4:4").chroma.startswith("YCbCr 4:4:4")


def test_points_and_params_are_checked():
    codec = build_codec("jpeg", {})
    assert isinstance(codec, PillowJpegCodec) and codec.point_kind == "quality"
    codec.check()
    codec.check_point(RatePoint("quality", 1))
    codec.check_point(RatePoint("quality", 100))
    for bad in (0, 101, 50.5, True):
        with pytest.raises(SpecError, match="1..100"):
            codec.check_point(RatePoint("quality", bad))
    with pytest.raises(SpecError, match="kind 'quality'"):
        codec.check_point(RatePoint("q", 5))
    with pytest.raises(SpecError, match="subsampling"):
        PillowJpegCodec(subsampling="4:1:1")
    assert codec.params() == {"subsampling": "4:2:0", "optimize": False, "progressive": False}


def test_version_and_description_name_pillow_and_libjpeg():
    import PIL

    codec = PillowJpegCodec()
    assert codec.version().startswith(f"Pillow {PIL.__version__} libjpeg")
    assert "via Pillow" in codec.describe() and "4:2:0" in codec.describe()


def test_corrupt_stream_is_a_codec_error():
    with pytest.raises(CodecError):
        PillowJpegCodec().decode(Bitstream.single(b"\xff\xd8garbage", width=4, height=4))
    png = io.BytesIO()
    Image.fromarray(smooth(8, 8)).save(png, format="PNG")
    with pytest.raises(CodecError, match="not JPEG"):
        PillowJpegCodec().decode(Bitstream.single(png.getvalue(), width=8, height=8))


@pytest.mark.slow
def test_harness_jpeg_curve_matches_a_pillow_curve(tmp_path):
    """Done-when of issue 12: on an image folder, BD-rate against Pillow's curve within 1 %."""
    from bench.execute.runner import run_spec
    from bench.spec import validate_spec

    folder = photo_folder(tmp_path / "images")
    spec = validate_spec({
        "name": "jpeg-vs-pillow",
        "dataset": {"type": "images", "params": {"root": str(folder)}},
        "task": {"type": "pixel", "params": {"metrics": ["psnr_rgb"]}},
        "codecs": [{"name": "jpeg", "type": "jpeg", "points": QUALITIES},
                   {"name": "mjpeg", "type": "mjpeg", "points": [2, 4, 8, 16, 31]}],
        "execute": {"executor": "serial"},
    })
    points = run_spec(spec, tmp_path / "results", None, progress=False).points
    ours = sorted((p.bpp, p.metrics["psnr_rgb"]) for p in points if p.codec == "jpeg")
    ref_rate, ref_psnr = pillow_curve(folder, QUALITIES)
    result = bd_rate(ref_rate, ref_psnr, [r for r, _ in ours], [q for _, q in ours])
    assert abs(result.bd_rate_percent) < 1.0
    assert abs(result.bd_quality) < 0.05
    mjpeg = sorted((p.bpp, p.metrics["psnr_rgb"]) for p in points if p.codec == "mjpeg")
    other = bd_rate(ref_rate, ref_psnr, [r for r, _ in mjpeg], [q for _, q in mjpeg])
    assert abs(other.bd_rate_percent) > 1.0  # the test can tell another JPEG encoder apart
