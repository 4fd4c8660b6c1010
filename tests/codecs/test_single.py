"""`icm-bench codec run`: one image, one codec, one rate point."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app
from bench.codecs.single import parse_point, parse_sets, read_image, run_single
from bench.errors import BenchError, RegistryError, SpecError


@pytest.fixture
def png(tmp_path):
    yy, xx = np.mgrid[0:40, 0:56]
    image = np.stack([100 + 60 * np.sin(xx / 6 + c) * np.cos(yy / 8) for c in range(3)], -1)
    path = tmp_path / "img.png"
    Image.fromarray(image.round().astype(np.uint8)).save(path)
    return path


def test_parse_point():
    assert parse_point("32") == 32 and isinstance(parse_point("32"), int)
    assert parse_point("0.5") == 0.5
    assert parse_point("ckpt-3") == "ckpt-3"


def test_parse_sets():
    assert parse_sets(["preset=faster", "scale=50", "tune=", "x=0.5"]) == {
        "preset": "faster", "scale": 50, "tune": "", "x": 0.5}
    for bad in (["preset"], ["=1"], ["a=1", "a=2"], ["a=[1, 2]"]):
        with pytest.raises(SpecError):
            parse_sets(bad)


def test_read_image_errors(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(SpecError, match="cannot be read"):
        read_image(bad)
    grey = tmp_path / "grey.png"
    Image.fromarray(np.zeros((3, 5), np.uint8)).save(grey)
    assert read_image(grey).shape == (3, 5, 3)


def test_run_single_writes_the_counted_bytes_and_the_reconstruction(png, tmp_path):
    out = tmp_path / "out"
    result = run_single("vvenc", png, "32", ["preset=faster"], out)
    assert set(result) == {"bits", "bpp", "psnr_rgb", "encode_s", "decode_s"}
    data = (out / "img.bin").read_bytes()
    assert result["bits"] == 8 * len(data) and result["bpp"] == result["bits"] / (40 * 56)
    assert data[:4] == b"\x00\x00\x00\x01"
    recon = np.asarray(Image.open(out / "img.png"))
    original = np.asarray(Image.open(png))
    mse = np.mean((recon.astype(float) - original) ** 2)
    assert recon.shape == (40, 56, 3)
    assert result["psnr_rgb"] == pytest.approx(10 * np.log10(255**2 / mse))
    assert result["encode_s"] > 0 and result["decode_s"] > 0


def test_run_single_user_errors(png, tmp_path):
    with pytest.raises(RegistryError, match="Did you mean 'vvenc'"):
        run_single("vvnc", png, "32", [], tmp_path)
    with pytest.raises(SpecError, match="preset"):
        run_single("vvenc", png, "32", ["presett=faster"], tmp_path)
    with pytest.raises(SpecError, match="does not exist"):
        run_single("jpeg", tmp_path / "nope.png", "5", [], tmp_path)
    with pytest.raises(BenchError, match="2..31"):
        run_single("mjpeg", png, "50", [], tmp_path)
    with pytest.raises(BenchError, match="1..100"):
        run_single("jpeg", png, "101", [], tmp_path)
    with pytest.raises(SpecError, match="not a single-image codec"):
        run_single("feature-anchor", png, "35", [], tmp_path)


def test_cli_prints_one_json_line(png, tmp_path):
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["codec", "run", "identity", str(png), "--point", "0",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.output.strip().splitlines()[-1])
    assert numbers["bpp"] == 24 and numbers["psnr_rgb"] == 100.0
    assert (out / "img.bin").stat().st_size == 40 * 56 * 3
