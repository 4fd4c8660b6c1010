"""The ffmpeg image codecs: real encodes and decodes on small generated images."""

import subprocess

import numpy as np
import pytest

from bench.codecs import ffmpeg_base
from bench.codecs.base import build_codec
from bench.codecs.ffmpeg import MjpegCodec, VvencCodec, X265Codec, vvc_slice_qps
from bench.codecs.ffmpeg_bin import ffmpeg_exe
from bench.codecs.yuv import read_y4m, scaled_size, yuv420_to_rgb
from bench.errors import CodecError
from bench.metrics.quality import psnr_rgb
from bench.types import Bitstream, RatePoint

FAST = {"vvenc": {"preset": "faster"}, "x265": {"preset": "ultrafast"}, "aom": {"cpu_used": 8},
        "svtav1": {"preset": 10}, "mjpeg": {}, "webp": {"method": 0}, "jpegxl": {"effort": 3}}
# (point kind, a high-quality setting, a low-quality setting)
POINTS = {"vvenc": ("qp", 22, 42), "x265": ("qp", 22, 42), "aom": ("qp", 10, 50),
          "svtav1": ("qp", 20, 55), "mjpeg": ("q", 2, 20), "webp": ("quality", 95, 20),
          "jpegxl": ("distance", 0.5, 6.0)}


def smooth_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([110 + 70 * np.sin(xx / 9 + 2 * c) * np.cos(yy / 11 - c) for c in range(3)], -1)
    base[h // 4: h // 2, w // 3: w // 2] = (200, 40, 90)
    return np.clip(base + rng.normal(0, 1.5, base.shape), 0, 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def image():
    return smooth_image(48, 64)


@pytest.mark.parametrize("name", sorted(FAST))
def test_round_trip_rate_falls_and_quality_falls(name, image):
    codec = build_codec(name, FAST[name])
    codec.check()
    kind, good, bad = POINTS[name]
    results = []
    for value in (good, bad):
        bitstream = codec.encode(image, RatePoint(kind, value))
        assert bitstream.meta == {"width": 64, "height": 48}
        assert bitstream.bits == 8 * len(bitstream.data) > 0
        recon = codec.decode(bitstream)
        assert recon.shape == image.shape and recon.dtype == np.uint8
        results.append((bitstream.bits, psnr_rgb(image, recon)))
    (bits_good, psnr_good), (bits_bad, psnr_bad) = results
    assert psnr_good > 33, results
    assert 18 < psnr_bad < psnr_good and bits_bad < bits_good, results


def test_vvc_bitstream_is_a_plain_annexb_stream(tmp_path, image):
    codec = VvencCodec(preset="faster")
    bitstream = codec.encode(image[:47, :63], RatePoint("qp", 32))
    data = bitstream.data
    assert data.startswith(b"\x00\x00\x00\x01") or data.startswith(b"\x00\x00\x01")
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    out = tmp_path / "a.y4m"
    exe = ffmpeg_exe()
    subprocess.run([exe, "-v", "error", "-f", "vvc", "-i", str(path), "-strict", "-1",
                    "-pix_fmt", "yuv420p10le", "-f", "yuv4mpegpipe", str(out)], check=True)
    (y, u, v), depth = read_y4m(out)
    assert depth == 10 and y.shape == (48, 64)  # padded to even; size from the SPS
    recon = codec.decode(bitstream)
    assert recon.shape == (47, 63, 3)  # padding cropped
    assert np.array_equal(recon, yuv420_to_rgb(y, u, v, exe)[:47, :63])  # the .bin alone suffices
    assert psnr_rgb(image[:47, :63], recon) > 30


@pytest.mark.parametrize("name", ["vvenc", "x265", "aom", "svtav1"])
def test_streams_signal_full_range(tmp_path, name, image):
    data = build_codec(name, FAST[name]).encode(image, RatePoint("qp", 22)).data
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    demuxer = {"vvenc": "vvc", "x265": "hevc"}.get(name, "obu")
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-f", demuxer, "-i", str(path)],
                           capture_output=True, text=True).stderr
    assert "yuv420p10le(pc" in probe, probe


@pytest.mark.parametrize("name,magic", [("x265", b"\x00\x00\x00\x01"), ("aom", b"\x12\x00"),
                                        ("mjpeg", b"\xff\xd8"), ("webp", b"RIFF"),
                                        ("jpegxl", b"\xff\x0a")])
def test_raw_stream_formats(name, magic, image):
    kind, good, _ = POINTS[name]
    data = build_codec(name, FAST[name]).encode(image, RatePoint(kind, good)).data
    assert data.startswith(magic)
    assert b"Lavc" not in data and b"x265 (build" not in data  # no encoder banners counted


@pytest.mark.parametrize("name", ["vvenc", "x265", "mjpeg"])
def test_odd_sizes_are_cropped_right(name):
    odd = smooth_image(37, 53, seed=3)
    codec = build_codec(name, FAST[name])
    kind, good, _ = POINTS[name]
    recon = codec.decode(codec.encode(odd, RatePoint(kind, good)))
    assert recon.shape == (37, 53, 3)
    assert psnr_rgb(odd, recon) > 33  # misaligned crops would score far lower


@pytest.mark.parametrize("scale", [75, 50, 25])
def test_scales_code_fewer_bits_and_restore_the_size(tmp_path, scale):
    image = smooth_image(96, 128, seed=4)
    point = RatePoint("qp", 27)
    full = X265Codec(preset="ultrafast").encode(image, point)
    codec = X265Codec(preset="ultrafast", scale=scale)
    scaled = codec.encode(image, point)
    assert scaled.bits < full.bits and scaled.meta == {"width": 128, "height": 96}
    path, out = tmp_path / "a.hevc", tmp_path / "a.y4m"
    path.write_bytes(scaled.data)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "hevc", "-i", str(path), "-strict", "-1",
                    "-f", "yuv4mpegpipe", str(out)], check=True)
    assert read_y4m(out)[0][0].shape[::-1] == scaled_size(128, 96, scale)
    recon = codec.decode(scaled)
    assert recon.shape == image.shape
    assert psnr_rgb(image, recon) > 20


def test_vvenc_scale_restores_size(image):
    codec = VvencCodec(preset="faster", scale=50)
    recon = codec.decode(codec.encode(smooth_image(64, 80), RatePoint("qp", 27)))
    assert recon.shape == (64, 80, 3)


def test_failing_encoder_raises_codec_error_with_command_and_stderr(image):
    codec = VvencCodec(preset="faster")
    # bypass validation: ffmpeg itself must fail
    codec.config = codec.config.model_construct(**{**dict(codec.config), "preset": "no-such-preset"})
    with pytest.raises(CodecError) as info:
        codec.encode(image, RatePoint("qp", 32))
    err = info.value
    assert err.command and "-preset" in err.command and "no-such-preset" in err.command
    assert err.command[0] == ffmpeg_exe() and all(isinstance(a, str) for a in err.command)
    assert "no-such-preset" in err.stderr or "preset" in err.stderr.lower()


def test_corrupt_bitstream_raises_codec_error():
    codec = VvencCodec(preset="faster")
    with pytest.raises(CodecError):
        codec.decode(Bitstream.single(b"\x00\x00\x01garbage" * 4, width=8, height=8))


def test_point_validation(image):
    codec = VvencCodec(preset="faster")
    with pytest.raises(CodecError, match="kind 'qp'"):
        codec.encode(image, RatePoint("quality", 32))
    with pytest.raises(CodecError, match="0..63"):
        codec.encode(image, RatePoint("qp", 64))
    with pytest.raises(CodecError, match="integer"):
        codec.encode(image, RatePoint("qp", 31.5))
    with pytest.raises(CodecError, match="2..31"):
        MjpegCodec().encode(image, RatePoint("q", 1))
    with pytest.raises(CodecError, match="H x W x 3"):
        codec.encode(image[..., 0], RatePoint("qp", 32))
    with pytest.raises(CodecError, match="16x16"):
        X265Codec().encode(image[:8], RatePoint("qp", 32))


def test_bad_params_are_rejected():
    with pytest.raises(CodecError, match="preset"):
        VvencCodec(preset="fastest")
    with pytest.raises(CodecError, match="scale"):
        VvencCodec(scale=60)
    with pytest.raises(CodecError, match="effort"):
        build_codec("jpegxl", {"effort": 12})


@pytest.mark.parametrize("name", sorted(FAST))
def test_params_and_version(name):
    codec = build_codec(name, FAST[name])
    params = codec.params()
    assert build_codec(name, params).params() == params
    assert {"ffmpeg", "timeout_s"}.isdisjoint(params)
    version = codec.version()
    assert version.startswith("ffmpeg ") and f" {codec.encoder} w" in version
    assert codec.describe() and "\n" not in codec.describe() and codec.chroma


def test_vvenc_version_names_its_option_set():
    """Streams coded before IntraQPOffset=0 were at QP - 3: the version (job key) differs."""
    assert VvencCodec().version().endswith(".o2")


def test_encoder_options_are_pure_argument_builders():
    assert VvencCodec(preset="fast").encoder_options(37) == {
        "c:v": "libvvenc", "preset": "fast", "qp": 37, "qpa": 0,
        "vvenc-params": "videofullrange=1:IntraQPOffset=0"}
    x265 = X265Codec(tune="").encoder_options(22)
    assert x265["qp"] == 22 and "tune" not in x265 and "info=0" in x265["x265-params"]
    assert MjpegCodec().encoder_options(5)["q:v"] == 5


def test_check_names_a_missing_encoder(monkeypatch):
    monkeypatch.setattr(ffmpeg_base, "has_encoder", lambda exe, name: False)
    with pytest.raises(CodecError, match="no encoder 'libvvenc'"):
        VvencCodec().check()


def test_ffmpeg_path_overrides(monkeypatch, tmp_path):
    missing = str(tmp_path / "ffmpeg")
    with pytest.raises(CodecError, match="codec param 'ffmpeg'"):
        VvencCodec(ffmpeg=missing).version()
    monkeypatch.setenv("ICM_BENCH_FFMPEG", missing)
    with pytest.raises(CodecError, match="ICM_BENCH_FFMPEG"):
        ffmpeg_exe()
    monkeypatch.setenv("ICM_BENCH_FFMPEG", ffmpeg_exe.__globals__["_bundled_ffmpeg"]())
    assert VvencCodec().exe == ffmpeg_exe()


@pytest.mark.parametrize("preset", ["faster", "medium"])
def test_vvenc_slice_qp_is_the_requested_qp(image, preset):
    """As VTM's all-intra anchor: the slice QP in the bitstream equals the point."""
    codec = VvencCodec(preset=preset)
    for qp in (22, 27, 37, 47, 63):
        assert vvc_slice_qps(codec.encode(image, RatePoint("qp", qp)).data) == [qp]


def test_slice_qp_reader_sees_libvvenc_default_offset(image):
    """The reader can fail: libvvenc's default random-access intra offset shows as qp - 3."""
    codec = VvencCodec(preset="faster")
    codec.encoder_options = lambda value: {  # the options before this fix
        "c:v": "libvvenc", "preset": "faster", "qp": int(value), "qpa": 0,
        "vvenc-params": "videofullrange=1"}
    assert vvc_slice_qps(codec.encode(image, RatePoint("qp", 37)).data) == [34]
    with pytest.raises(CodecError):
        vvc_slice_qps(b"\x00\x00\x01garbage")
