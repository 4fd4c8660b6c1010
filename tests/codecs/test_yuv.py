"""RGB <-> YUV 4:2:0 through ffmpeg, raw YUV / Y4M files, the VCM scales."""

import numpy as np
import pytest

from bench.codecs.ffmpeg_bin import ffmpeg_exe
from bench.codecs.yuv import (
    read_y4m,
    read_yuv400,
    read_yuv420,
    restore_size,
    rgb_to_yuv420,
    scale_filter,
    scaled_size,
    upshift,
    write_yuv,
    yuv420_to_rgb,
)
from bench.errors import CodecError

BT601 = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


@pytest.fixture(scope="module")
def exe():
    return ffmpeg_exe()


def smooth_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([100 + 80 * np.sin(xx / 7 + c) * np.cos(yy / 9) for c in range(3)], -1)
    return np.clip(base + rng.normal(0, 2, base.shape), 0, 255).round().astype(np.uint8)


def test_scale_filters_are_the_anchor_strings():
    assert scale_filter(100) == "pad=ceil(iw/2)*2:ceil(ih/2)*2"
    assert scale_filter(75) == "scale=ceil(iw*3/8)*2:ceil(ih*3/8)*2"
    assert scale_filter(50) == "scale=ceil(iw/4)*2:ceil(ih/4)*2"
    assert scale_filter(25) == "scale=ceil(iw/8)*2:ceil(ih/8)*2"
    with pytest.raises(CodecError, match="one of"):
        scale_filter(60)


def test_scaled_size():
    assert scaled_size(640, 480, 100) == (640, 480)
    assert scaled_size(37, 29, 100) == (38, 30)
    assert scaled_size(640, 480, 75) == (480, 360)
    assert scaled_size(37, 29, 75) == (28, 22)
    assert scaled_size(640, 427, 50) == (320, 214)
    assert scaled_size(37, 29, 25) == (10, 8)


def test_full_range_bt601_on_flat_colours(exe):
    colours = {(255, 255, 255): (255, 128, 128), (0, 0, 0): (0, 128, 128),
               (255, 0, 0): (76, 85, 255), (0, 0, 255): (29, 255, 107)}
    for rgb, yuv in colours.items():
        image = np.empty((4, 6, 3), np.uint8)
        image[:] = rgb
        y, u, v = rgb_to_yuv420(image, exe)
        assert (y.shape, u.shape, v.shape) == ((4, 6), (2, 3), (2, 3))
        assert (int(y[0, 0]), int(u[0, 0]), int(v[0, 0])) == yuv, rgb
        assert len(np.unique(y)) == len(np.unique(u)) == len(np.unique(v)) == 1


def test_matches_the_formula_without_bias(exe):
    image = smooth_image(24, 32)
    y, u, v = rgb_to_yuv420(image, exe)
    expected = np.clip(np.floor(image.astype(float) @ BT601[0] + 0.5), 0, 255)
    assert np.abs(y.astype(float) - expected).max() <= 1
    assert np.mean(y != expected) < 0.05
    chroma = image.astype(float) @ BT601[1:].T + 128
    pooled = chroma.reshape(12, 2, 16, 2, 2).mean(axis=(1, 3))
    for plane, want in ((u, pooled[..., 0]), (v, pooled[..., 1])):
        assert abs(np.mean(plane - want)) < 0.1  # swscale's 8-bit output is 0.5 low


def test_odd_size_is_padded_to_even_and_cropped_back(exe):
    rng = np.random.default_rng(1)
    grey = np.repeat(rng.integers(0, 256, (29, 37, 1)), 3, axis=2).astype(np.uint8)
    y, u, v = rgb_to_yuv420(grey, exe)
    assert y.shape == (30, 38) and u.shape == v.shape == (15, 19)
    assert np.array_equal(y[:29, :37], grey[..., 0])
    for planes, depth in (((y, u, v), 8), (upshift((y, u, v)), 10)):
        rgb = yuv420_to_rgb(*planes, exe, bitdepth=depth)
        assert rgb.shape == (30, 38, 3)
        back = restore_size(rgb, 37, 29, exe)
        assert back.shape == (29, 37, 3)
        assert np.array_equal(back, grey)  # grey round-trips exactly (no chroma bias)


def test_yuv_to_rgb_rounds_the_formula(exe):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 1024, (16, 16)).astype(np.uint16)
    for cb, cr in ((300, 700), (800, 200), (512, 512)):
        u = np.full((8, 8), cb, np.uint16)
        v = np.full((8, 8), cr, np.uint16)
        rgb = yuv420_to_rgb(y, u, v, exe, bitdepth=10)
        luma, pb, pr = y / 4, (cb - 512) / 4, (cr - 512) / 4
        green = luma - 0.344136 * pb - 0.714136 * pr
        rgb_float = np.stack([luma + 1.402 * pr, green, luma + 1.772 * pb], -1)
        expected = np.clip(np.floor(rgb_float + 0.5), 0, 255)
        assert np.array_equal(rgb, expected.astype(np.uint8)), (cb, cr)


def test_colour_round_trip_is_close(exe):
    image = smooth_image(40, 48)
    rgb = yuv420_to_rgb(*upshift(rgb_to_yuv420(image, exe)), exe)
    mse = np.mean((rgb.astype(float) - image) ** 2)
    assert 10 * np.log10(255**2 / mse) > 38


@pytest.mark.parametrize("scale", [75, 50, 25])
def test_scales_code_smaller_and_restore_the_size(exe, scale):
    image = smooth_image(61, 83)
    y, u, v = rgb_to_yuv420(image, exe, scale=scale)
    assert y.shape[::-1] == scaled_size(83, 61, scale)
    assert u.shape == (y.shape[0] // 2, y.shape[1] // 2)
    back = restore_size(yuv420_to_rgb(y, u, v, exe, bitdepth=8), 83, 61, exe)
    assert back.shape == (61, 83, 3)
    assert np.abs(back.astype(float).mean() - image.mean()) < 3
    explicit = restore_size(yuv420_to_rgb(y, u, v, exe, bitdepth=8), 83, 61, exe, scale=scale)
    assert np.array_equal(back, explicit)


def test_restore_size_rejects_too_small_crop(exe):
    with pytest.raises(CodecError, match="smaller"):
        restore_size(np.zeros((4, 4, 3), np.uint8), 6, 6, exe, scale=100)


@pytest.mark.parametrize("bitdepth", [8, 10])
def test_raw_yuv_files_round_trip(tmp_path, bitdepth):
    rng = np.random.default_rng(3)
    hi = 1 << bitdepth
    y = rng.integers(0, hi, (5, 7))
    u, v = rng.integers(0, hi, (3, 4)), rng.integers(0, hi, (3, 4))
    path = tmp_path / "a.yuv"
    write_yuv(path, (y, u, v), bitdepth)
    assert path.stat().st_size == (35 + 24) * (1 if bitdepth == 8 else 2)
    for got, want in zip(read_yuv420(path, 7, 5, bitdepth), (y, u, v)):
        assert np.array_equal(got, want)
    write_yuv(path, (y,), bitdepth)
    assert np.array_equal(read_yuv400(path, 7, 5, bitdepth), y)


def test_raw_yuv_errors(tmp_path):
    path = tmp_path / "a.yuv"
    with pytest.raises(CodecError, match="out of range"):
        write_yuv(path, (np.array([[1024]]),), 10)
    path.write_bytes(b"\0" * 10)
    with pytest.raises(CodecError, match="whole number"):
        read_yuv420(path, 4, 4, 8)
    with pytest.raises(CodecError, match="does not exist"):
        read_yuv420(tmp_path / "missing.yuv", 4, 4, 8)


def test_read_y4m(tmp_path):
    y = np.arange(12, dtype=np.uint16).reshape(3, 4) * 80
    c = np.full((2, 2), 512, np.uint16)
    path = tmp_path / "a.y4m"
    body = np.concatenate([y.ravel(), c.ravel(), c.ravel()]).astype("<u2").tobytes()
    path.write_bytes(b"YUV4MPEG2 W4 H3 F25:1 Ip A0:0 C420p10 XYSCSS=420P10\nFRAME\n" + body)
    (ry, ru, rv), depth = read_y4m(path)
    assert depth == 10 and np.array_equal(ry, y) and np.array_equal(rv, c)
    path.write_bytes(b"YUV4MPEG2 W4 H3 F25:1 Cmono\nFRAME\n" + bytes(range(12)))
    (mono,), depth = read_y4m(path)
    assert depth == 8 and mono[2, 3] == 11
    path.write_bytes(b"YUV4MPEG2 W4 H3 C444\nFRAME\n" + bytes(36))
    with pytest.raises(CodecError, match="not 4:2:0"):
        read_y4m(path)
    path.write_bytes(b"YUV4MPEG2 W4 H3 C420jpeg\nFRAME\n" + bytes(5))
    with pytest.raises(CodecError, match="truncated"):
        read_y4m(path)


def test_full_range_16_to_8_equals_the_float_formula():
    from bench.codecs.yuv import full_range_16_to_8

    samples = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    y, u, v = full_range_16_to_8(samples, samples, samples)
    s = samples.astype(np.float64)
    luma = np.clip(np.floor(s / 257.0 + 0.5), 0, 255)
    chroma = np.clip(np.floor((s - 32768.0) / 257.0 + 128.5), 0, 255)
    assert np.array_equal(y, luma) and np.array_equal(u, chroma) and np.array_equal(v, chroma)


def test_plane_cache_is_bounded_by_bytes_and_read_only():
    from bench.codecs.yuv import PlaneCache

    cache = PlaneCache(max_bytes=300)
    planes = {k: tuple(np.full((10, 10), k, np.uint8) for _ in range(1)) for k in range(4)}
    for k in (0, 1):
        cache.put((k,), planes[k])
    assert cache.get((0,)) is planes[0]  # 0 is now the most recent
    cache.put((2,), planes[2])
    cache.put((3,), planes[3])  # 400 bytes > 300: the least recent (1) goes first
    assert cache.get((1,)) is None and cache.get((0,)) is planes[0]
    assert cache.get((3,)) is planes[3] and cache.bytes == 300
    with pytest.raises(ValueError):
        planes[3][0][0, 0] = 1
    cache.put((9,), (np.zeros(400, np.uint8),))  # larger than the cache: not kept
    assert cache.get((9,)) is None


def test_decoded_rgb_size_and_filter():
    from bench.codecs.yuv import decoded_rgb_size, decoded_to_rgb_filter

    assert decoded_rgb_size(53, 37, 100) == (54, 38)
    assert decoded_rgb_size(53, 37, 50) == (53, 37)
    assert decoded_to_rgb_filter(53, 37, 100) == "scale=in_range=full,format=rgb24"
    assert decoded_to_rgb_filter(53, 37, 25).endswith(",scale=53:37")


def test_scratch_folders_go_where_asked_and_are_removed(tmp_path, monkeypatch):
    from pathlib import Path

    from bench.codecs.yuv import scratch, scratch_root

    monkeypatch.setenv("ICM_BENCH_SCRATCH", str(tmp_path))
    assert scratch_root() == str(tmp_path)
    with scratch("t-") as folder:
        assert Path(folder).parent == tmp_path and Path(folder).name.startswith("t-")
    assert not Path(folder).exists()
    monkeypatch.delenv("ICM_BENCH_SCRATCH")
    assert Path(scratch_root()).is_dir()
