"""VTM: argument lists, finding binaries, the version banner, errors; real VTM when present.

Without a VTM build, the codec's plumbing (files, sizes, scales, YUV conversions, log
tails) runs against a VTM command-line *double* written below: a script that takes
VTM's arguments and codes with libvvenc / ffmpeg's VVC decoder. It checks our side of
the interface only; the `vtm` tests check VTM itself.
"""

import os
import stat
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from bench.codecs.ffmpeg_bin import ffmpeg_exe
from bench.codecs.vtm import (
    DEFAULT_CFG,
    VtmCodec,
    check_qp,
    find_vtm,
    parse_vtm_version,
    run_logged,
    vtm_decode_args,
    vtm_encode_args,
    vtm_feature_encode_args,
    vtm_version,
)
from bench.errors import CodecError, SpecError
from bench.types import RatePoint

DOUBLE = """\
#!{python}
# A VTM command-line double for plumbing tests: VTM's arguments, libvvenc's coding.
import subprocess, sys
import numpy as np
FFMPEG = {ffmpeg!r}
KIND = {kind!r}
print("\\nVVCSoftware: VTM " + KIND + " Version 99.1-double [Linux][test][64 bit] ")
args, opts, i = sys.argv[1:], {{}}, 0
while i < len(args):
    if args[i].startswith("--"):
        key, _, value = args[i][2:].partition("=")
        opts[key], i = value, i + 1
    else:
        opts[args[i][1:]], i = (args[i + 1] if i + 1 < len(args) else ""), i + 2
if "help" in opts:
    sys.exit(1)
def run(cmd):
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y"] + cmd, check=True)
if KIND == "Decoder":
    assert opts["d"] == "10"
    run(["-f", "vvc", "-i", opts["b"], "-f", "rawvideo", "-pix_fmt", "yuv420p10le", opts["o"]])
    sys.exit(0)
width, height, qp = int(opts["wdt"]), int(opts["hgt"]), int(opts["q"])
assert opts["ConformanceWindowMode"] == "1" and opts["InternalBitDepth"] == "10"
if qp == 63:  # lets a test see a failing encoder's log
    print("Error: QP 63 refused by the double")
    sys.exit(1)
depth = int(opts.get("InputBitDepth", "8"))
mono = opts.get("InputChromaFormat") == "400"
planes = [(height, width)] + ([] if mono else [(height // 2, width // 2)] * 2)
raw = np.fromfile(opts["i"], dtype=np.uint8 if depth == 8 else "<u2").astype("<u2")
raw = raw << (10 - depth)
if mono:
    raw = np.concatenate([raw, np.full(2 * (height // 2) * (width // 2), 512, "<u2")])
raw.tofile(opts["i"] + ".10bit")
out = opts.get("b") or opts["BitstreamFile"]
run(["-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", f"{{width}}x{{height}}",
     "-i", opts["i"] + ".10bit", "-c:v", "libvvenc", "-preset", "faster", "-qp", str(qp),
     "-qpa", "0", "-threads", "1", "-f", "vvc", out])
"""


def make_executable(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def vtm_double(tmp_path):
    """A fake VTM tree: bin/EncoderAppStatic, bin/DecoderAppStatic, cfg/encoder_intra_vtm.cfg."""
    root = tmp_path / "vtm"
    (root / "bin").mkdir(parents=True)
    (root / "cfg").mkdir()
    (root / DEFAULT_CFG).write_text("IntraPeriod : 1\n")
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    for name, kind in (("EncoderAppStatic", "Encoder"), ("DecoderAppStatic", "Decoder")):
        make_executable(root / "bin" / name, DOUBLE.format(python=sys.executable, ffmpeg=exe,
                                                          kind=kind))
    return root


def gradient_image(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy) % 256], -1)
    return rgb.astype(np.uint8)


def test_encode_args_are_the_anchor_command():
    args = vtm_encode_args("EncoderAppStatic", "enc.cfg", "x.yuv", "x.bin", 640, 480, 37)
    assert args == [
        "EncoderAppStatic", "-c", "enc.cfg", "-i", "x.yuv", "-b", "x.bin", "-o", os.devnull,
        "-fr", "1", "-f", "1", "-ts", "1", "-wdt", "640", "-hgt", "480", "-q", "37",
        "--ConformanceWindowMode=1", "--InternalBitDepth=10",
    ]


def test_decode_and_feature_args():
    assert vtm_decode_args("DecoderAppStatic", "x.bin", "rec.yuv") == [
        "DecoderAppStatic", "-b", "x.bin", "-o", "rec.yuv", "-d", "10",
    ]
    args = vtm_feature_encode_args("EncoderAppStatic", "enc.cfg", "in.yuv", "out.bin", 5376, 3230,
                                   41)
    assert args == [
        "EncoderAppStatic", "-i", "in.yuv", "-c", "enc.cfg", "-q", "41", "-o", os.devnull,
        "-wdt", "5376", "-hgt", "3230", "-fr", "1", "-ts", "1", "--Level=6.2",
        "--InputChromaFormat=400", "--InputBitDepth=10", "--InternalBitDepth=10",
        "--ConformanceWindowMode=1", "--BitstreamFile=out.bin", "--FramesToBeEncoded=1",
    ]


@pytest.mark.parametrize("banner, version", [
    ("\nVVCSoftware: VTM Encoder Version 23.4 [Linux][GCC 11.4.0][64 bit] [SIMD=AVX2] \n", "23.4"),
    ("VVCSoftware: VTM Decoder Version 12.0 [Linux][GCC 9.3.0][64 bit] [SIMD=AVX2]", "12.0"),
    ("VVCSoftware: VTM Encoder Version 17.2-dev [Linux]", "17.2-dev"),
])
def test_version_from_banner(banner, version):
    assert parse_vtm_version(banner) == version


def test_version_from_a_foreign_binary_is_an_error():
    with pytest.raises(CodecError, match="cannot read a VTM version"):
        parse_vtm_version("ffmpeg version 6.0\nbuilt with gcc")


def test_check_qp():
    assert check_qp(RatePoint("qp", 37)) == 37
    assert check_qp(RatePoint("qp", 22.0)) == 22
    for bad in (RatePoint("quality", 5), RatePoint("qp", 22.5), RatePoint("qp", 70)):
        with pytest.raises(SpecError):
            check_qp(bad)


def fake_bin(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        make_executable(folder / name, "#!/bin/sh\nexit 0\n")
    return folder


def test_find_order_bin_dir_then_env_then_path(tmp_path, monkeypatch):
    names = ("EncoderAppStatic", "DecoderAppStatic")
    spec_dir = fake_bin(tmp_path / "spec", *names)
    env_bin = fake_bin(tmp_path / "envbin", *names)
    root = tmp_path / "root"
    fake_bin(root / "bin", "EncoderApp", "DecoderApp")
    (root / "cfg").mkdir()
    (root / DEFAULT_CFG).write_text("")
    on_path = fake_bin(tmp_path / "path", *names)
    monkeypatch.setenv("PATH", str(on_path))
    env = {"VTM_BIN_DIR": str(env_bin), "VTM_DIR": str(root)}
    assert find_vtm(spec_dir, env=env).encoder == spec_dir / "EncoderAppStatic"
    tools = find_vtm(env=env)
    assert (tools.encoder, tools.decoder) == (env_bin / names[0], env_bin / names[1])
    assert tools.cfg == root / DEFAULT_CFG  # the cfg comes from VTM_DIR
    tools = find_vtm(env={"VTM_DIR": str(root)})
    assert tools.encoder == root / "bin" / "EncoderApp"
    with pytest.raises(CodecError, match="encoder_intra_vtm.cfg"):
        find_vtm(env={})  # found on PATH, but no cfg beside it
    assert find_vtm(env={}, cfg=root / DEFAULT_CFG).encoder == on_path / names[0]


def test_cfg_found_above_the_binaries(tmp_path):
    bindir = fake_bin(tmp_path / "VVCSoftware_VTM" / "bin" / "umake" / "release", "EncoderApp",
                      "DecoderApp")
    (tmp_path / "VVCSoftware_VTM" / "cfg").mkdir()
    (tmp_path / "VVCSoftware_VTM" / DEFAULT_CFG).write_text("")
    assert find_vtm(bindir, env={}).cfg == tmp_path / "VVCSoftware_VTM" / DEFAULT_CFG


def test_missing_vtm_says_what_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CodecError) as info:
        find_vtm(env={"VTM_DIR": str(tmp_path / "nowhere")})
    text = str(info.value)
    assert "nowhere/bin/EncoderAppStatic (VTM_DIR)" in text and "EncoderApp on PATH" in text
    assert "VTM_BIN_DIR" in text and "bin_dir" in text
    with pytest.raises(CodecError, match=r"VTM_DIR \(both unset\); EncoderAppStatic on PATH"):
        find_vtm(env={})
    with pytest.raises(CodecError, match="does not exist"):
        find_vtm(fake_bin(tmp_path / "b", "EncoderApp", "DecoderApp"), cfg=tmp_path / "x.cfg")
    with pytest.raises(CodecError, match="decoder not found"):
        find_vtm(fake_bin(tmp_path / "c", "EncoderApp"), cfg=tmp_path / "x.cfg", env={})
    with pytest.raises(CodecError, match="VTM encoder not found"):
        VtmCodec(bin_dir=str(tmp_path / "empty")).check()


def test_failing_tool_gives_the_log_tail(tmp_path):
    script = make_executable(
        tmp_path / "enc", "#!/bin/sh\necho 'VVCSoftware: VTM Encoder Version 1'\n"
        "echo 'Error: picture width not a multiple of 8' \nexit 3\n")
    with pytest.raises(CodecError, match="picture width") as info:
        run_logged([str(script), "-q", "99"], 10, "VTM encoder")
    assert info.value.command == [str(script), "-q", "99"]
    assert "exited with code 3" in str(info.value)
    sleeper = make_executable(tmp_path / "slow", "#!/bin/sh\necho started\nsleep 5\n")
    with pytest.raises(CodecError, match="timed out after 0.5 s"):
        run_logged([str(sleeper)], 0.5, "VTM encoder")


def test_encoder_that_writes_nothing_is_an_error(tmp_path):
    (tmp_path / "enc.cfg").write_text("")
    silent = fake_bin(tmp_path / "bin", "EncoderApp", "DecoderApp")  # both just exit 0
    codec = VtmCodec(bin_dir=str(silent), cfg=str(tmp_path / "enc.cfg"))
    with pytest.raises(CodecError, match="exited 0 but wrote no bitstream"):
        codec.encode(gradient_image(16, 16), RatePoint("qp", 37))


def test_options():
    with pytest.raises(SpecError, match="scale"):
        VtmCodec(scale=60)
    assert VtmCodec(scale=50).params() == {"scale": 50}
    codec = VtmCodec(bin_dir="/opt/vtm/bin", cfg="/opt/vtm/cfg/x.cfg", timeout_s=5)
    # where VTM and its config are does not enter the key (the version, with the
    # config's hash, does); workers rebuild the codec from the full config
    assert codec.params() == {"scale": 100}
    assert codec.config.bin_dir == "/opt/vtm/bin" and codec.timeout_s == 5
    assert VtmCodec(**codec.config.model_dump()).config == codec.config


def test_codec_plumbing_against_the_double(vtm_double):
    codec = VtmCodec(bin_dir=str(vtm_double / "bin"), timeout_s=60)
    codec.check()
    assert codec.version().startswith("VTM 99.1-double cfg=encoder_intra_vtm.cfg@")
    image = gradient_image(37, 50)  # odd height: padded to even, cropped back
    for scale in (100, 50):
        codec.scale = scale
        bits = codec.encode(image, RatePoint("qp", 22))
        assert bits.meta == {"width": 50, "height": 37}
        assert bits.layers["main"][:4] == b"\x00\x00\x00\x01"  # Annex-B
        out = codec.decode(bits)
        assert out.shape == image.shape and out.dtype == np.uint8
        mse = np.mean((out.astype(float) - image) ** 2)
        assert 10 * np.log10(255**2 / mse) > (30 if scale == 100 else 20)
    with pytest.raises(CodecError, match="QP 63 refused by the double"):
        codec.encode(image, RatePoint("qp", 63))


def test_feature_anchor_vtm_inner_plumbing_against_the_double(vtm_double):
    from bench.codecs.feature_anchor import FeatureAnchorCodec

    codec = FeatureAnchorCodec(inner="vtm", bin_dir=str(vtm_double / "bin"), timeout_s=60)
    codec.check()
    assert codec.version() == "VTM 99.1-double"
    yy, xx = np.mgrid[0:6, 0:10] / 10.0
    feats = {"p2": np.stack([np.sin(3 * xx + c) * yy for c in range(9)]).astype(np.float32),
             "p3": np.ones((5, 3, 5), np.float32)}  # 1 x 5 grid; frame 30 x 22 (21 padded)
    out = codec.decode(codec.encode(feats, RatePoint("qp", 22)))
    assert {k: v.shape for k, v in out.items()} == {"p2": (9, 6, 10), "p3": (5, 3, 5)}
    assert max(float(np.abs(out[k] - feats[k]).max()) for k in feats) < 0.1


def run_anchor_through_the_harness(bin_dir, tmp_path):
    """Run anchors/vcm-image-vtm.yaml (bin_dir given in the spec) on 3 odd-sized images."""
    from bench.execute.runner import run_spec
    from bench.results.store import RunStore
    from bench.spec import validate_spec

    spec = validate_spec({
        "name": "vtm-anchor",
        "dataset": {"type": "synthetic-coco", "params": {
            "n_images": 3, "width": 75, "height": 65, "root": str(tmp_path / "data")}},
        "codecs": [{"include": "vcm-image-vtm", "params": {"bin_dir": str(bin_dir)},
                    "points": [32, 42]}],
        "execute": {"executor": "serial", "shard_size": 2},
    })
    outcome = run_spec(spec, tmp_path / "results", None, progress=False)
    assert outcome.jobs_failed == 0 and len(outcome.points) == 2
    store = RunStore(outcome.run_dir)
    files = []
    for _label, _point, _shard, key in store.plan():
        for item in store.items([key]):
            (path,) = [f for f in store.bitstream_files(key) if f.name.startswith(item.item_id)]
            assert item.bits == 8 * path.stat().st_size  # the rate is the .bin's size
            files.append(path)
    store.close()
    for point in outcome.points:
        assert point.bpp == pytest.approx(point.bits / (3 * 75 * 65))
    return files


def test_anchor_preset_through_the_harness_with_the_double(vtm_double, tmp_path, monkeypatch):
    monkeypatch.delenv("VTM_DIR", raising=False)
    monkeypatch.delenv("VTM_BIN_DIR", raising=False)
    files = run_anchor_through_the_harness(vtm_double / "bin", tmp_path)
    assert len(files) == 6


def vtm_or_skip():
    try:
        return find_vtm()
    except CodecError as exc:
        pytest.skip(f"no VTM build (set VTM_DIR or VTM_BIN_DIR): {str(exc)[:80]}")


@pytest.mark.vtm
@pytest.mark.parametrize("scale", [100, 75, 50, 25])
def test_real_vtm_image_anchor(scale, tmp_path):
    tools = vtm_or_skip()
    codec = VtmCodec(scale=scale)
    assert codec.version().startswith(f"VTM {vtm_version(tools.encoder)}")
    image = gradient_image(61, 90)
    bits = codec.encode(image, RatePoint("qp", 37))
    out = codec.decode(bits)
    assert out.shape == image.shape
    # Bits counted are the .bin bytes, and a second, independent decoder agrees bit-exactly.
    path = tmp_path / "x.bin"
    path.write_bytes(bits.data)
    rec_vtm, rec_ff = tmp_path / "vtm.yuv", tmp_path / "ff.yuv"
    run_logged(vtm_decode_args(tools.decoder, path, rec_vtm), 60, "VTM decoder")
    run_logged([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "vvc", "-i", str(path),
                "-f", "rawvideo", "-pix_fmt", "yuv420p10le", str(rec_ff)], 60, "ffmpeg vvc")
    assert rec_vtm.read_bytes() == rec_ff.read_bytes()
    assert bits.bits == 8 * path.stat().st_size


@pytest.mark.vtm
def test_real_vtm_anchor_preset_bitstreams_decode_with_vtm(tmp_path):
    tools = vtm_or_skip()
    for n, path in enumerate(run_anchor_through_the_harness(tools.encoder.parent, tmp_path)):
        run_logged(vtm_decode_args(tools.decoder, path, tmp_path / f"{n}.yuv"), 60, "VTM decoder")
        assert (tmp_path / f"{n}.yuv").stat().st_size > 0
