"""The VVC feature anchor: argument lists, frame files, libvvenc round trips, a split network."""

import numpy as np
import pytest
import torch

from bench.codecs.feature_anchor import (
    FeatureAnchorCodec,
    luma_to_yuv420_bytes,
    read_luma,
    vvc_frame_decode_args,
    vvenc_frame_encode_args,
)
from bench.codecs.feature_packing import decode_header, encode_header, pack_features
from bench.codecs.vtm import find_vtm
from bench.errors import CodecError, SpecError
from bench.types import RatePoint


def smooth_features(shapes, seed=0):
    """Spatially smooth maps (like real activations), so VVC codes them well."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (c, h, w) in shapes.items():
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        f = rng.uniform(2, 8, (c, 1, 1))
        phase = rng.uniform(0, 6, (c, 1, 1))
        out[name] = (2.0 * np.sin(f * xx + phase) * np.cos(f * yy)).astype(np.float32)
    return out


SHAPES = {"p2": (16, 32, 48), "p3": (16, 16, 24), "p4": (16, 8, 12), "p5": (16, 4, 6)}


def mse(a, b):
    return float(np.mean([np.mean((a[k] - b[k]) ** 2) for k in a]))


def test_vvenc_and_decoder_args():
    assert vvenc_frame_encode_args("ffmpeg", "f.yuv", "f.bin", 96, 64, 37, "medium") == [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "rawvideo",
        "-pix_fmt", "yuv420p10le", "-s", "96x64", "-i", "f.yuv", "-frames:v", "1",
        "-c:v", "libvvenc", "-preset", "medium", "-qp", "37", "-qpa", "0",
        "-vvenc-params", "IntraQPOffset=0", "-threads", "1", "-f", "vvc", "-y", "f.bin",
    ]
    args = vvc_frame_decode_args("ffmpeg", "f.bin", "rec.yuv")
    assert args[args.index("-i") - 2:] == [
        "-f", "vvc", "-i", "f.bin", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
        "yuv420p10le", "-y", "rec.yuv",
    ]


def test_frame_files_luma_in_420_with_mid_chroma(tmp_path):
    frame = np.arange(6 * 8, dtype=np.uint16).reshape(6, 8) * 21
    data = luma_to_yuv420_bytes(frame)
    assert len(data) == 2 * (48 + 2 * 12)
    assert np.all(np.frombuffer(data, "<u2")[48:] == 512)
    (tmp_path / "a.yuv").write_bytes(data)
    (tmp_path / "b.yuv").write_bytes(frame.astype("<u2").tobytes())  # 4:0:0 as VTM writes
    for name in ("a.yuv", "b.yuv"):
        assert np.array_equal(read_luma(tmp_path / name, 8, 6), frame)
    with pytest.raises(CodecError, match="expected a 8x8"):
        read_luma(tmp_path / "a.yuv", 8, 8)


def test_options_are_checked():
    with pytest.raises(SpecError, match="inner"):
        FeatureAnchorCodec(inner="hm")
    with pytest.raises(SpecError, match="minmax"):
        FeatureAnchorCodec(minmax="global")
    with pytest.raises(SpecError, match="max must be above min"):
        FeatureAnchorCodec(minmax=[3, -3])
    with pytest.raises(SpecError, match="vvenc_preset"):
        FeatureAnchorCodec(vvenc_preset="ultrafast")
    codec = FeatureAnchorCodec(minmax=[-17.8848, 16.69418], vvenc_preset="faster")
    assert codec.params() == {"inner": "vvenc", "minmax": [-17.8848, 16.69418],
                              "vvenc_preset": "faster"}
    assert codec.input_kind == codec.output_kind == "features" and codec.point_kind == "qp"
    vtm = FeatureAnchorCodec(inner="vtm", bin_dir="/opt/vtm/bin")
    # where VTM is does not change the output (its version does): not in the job key
    assert vtm.params() == {"inner": "vtm", "minmax": "per-frame", "vvenc_preset": "medium"}
    assert vtm.config.bin_dir == "/opt/vtm/bin"


@pytest.fixture(scope="module")
def codec():
    c = FeatureAnchorCodec(inner="vvenc", vvenc_preset="faster", timeout_s=120)
    c.check()
    return c


def test_vvenc_round_trip_restores_names_shapes_and_counts_the_header(codec):
    feats = smooth_features({"p5": (12, 4, 6), "p3": (12, 16, 24), "p4": (12, 8, 12)})
    bits = codec.encode(feats, RatePoint("qp", 22))
    _, header = pack_features(feats)
    head = encode_header(header)
    assert bits.data.startswith(head) and bits.data[len(head):][:4] == b"\x00\x00\x00\x01"
    assert bits.bits == 8 * len(bits.data)
    out = codec.decode(bits)
    assert list(out) == ["p5", "p3", "p4"]
    assert all(out[k].shape == feats[k].shape and out[k].dtype == np.float32 for k in feats)
    step = (header.maximum - header.minimum) / 1023
    assert mse(out, feats) < (12 * step) ** 2  # slice QP 22: RMSE of about 8 10-bit levels


def test_rate_and_error_move_with_qp(codec):
    feats = smooth_features(SHAPES, seed=1)
    sizes, errors = [], []
    for qp in (35, 41, 47):
        bits = codec.encode(feats, RatePoint("qp", qp))
        sizes.append(len(bits.data))
        errors.append(mse(codec.decode(bits), feats))
    assert sizes[0] > sizes[1] > sizes[2]
    assert errors[0] < errors[1] < errors[2]


def test_vvenc_slice_qp_is_the_requested_qp(codec):
    """As VTM's feature anchor: the slice QP in the stream equals the point."""
    from bench.codecs.feature_packing import decode_header
    from bench.codecs.ffmpeg import vvc_slice_qps

    feats = smooth_features(SHAPES, seed=3)
    for qp in (35, 41, 47):
        data = codec.encode(feats, RatePoint("qp", qp)).data
        _, used = decode_header(data, None)
        assert vvc_slice_qps(data[used:]) == [qp]
    assert codec.version().endswith(", slice QP")


def test_fixed_minmax_is_not_sent(codec):
    feats = smooth_features(SHAPES, seed=2)
    fixed = FeatureAnchorCodec(minmax=[-2.5, 2.5], vvenc_preset="faster")
    bits = fixed.encode(feats, RatePoint("qp", 30))
    header, used = decode_header(bits.data, (-2.5, 2.5))
    assert not header.per_frame and (header.minimum, header.maximum) == (-2.5, 2.5)
    assert used == 7 + 4 * 9
    assert mse(fixed.decode(bits), feats) < 0.1**2  # RMSE under 2 % of the range
    with pytest.raises(CodecError, match="no fixed minmax"):
        codec.decode(bits)  # a per-frame receiver cannot read a fixed-range stream


class SplitNet(torch.nn.Module):
    """A tiny network cut at an FPN-like split: two feature levels, then a head."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.down = torch.nn.Conv2d(8, 12, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(20, 5)

    def features(self, image):
        p2 = torch.relu(self.stem(image))
        return {"p2": p2[0].numpy(), "p3": torch.relu(self.down(p2))[0].numpy()}

    def head(self, feats):
        pooled = [torch.from_numpy(feats[k]).mean(dim=(1, 2)) for k in ("p2", "p3")]
        return self.fc(torch.cat(pooled)).numpy()


@torch.no_grad()
def test_feature_domain_job_features_encode_decode_head(codec):
    net = SplitNet().eval()
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 96), indexing="ij")
    image = torch.stack([torch.sin(6 * xx), torch.cos(4 * yy), xx * yy])[None]
    feats = net.features(image)
    reference = net.head(feats)
    gaps = []
    for qp in (22, 47):
        decoded = codec.decode(codec.encode(feats, RatePoint("qp", qp)))
        gaps.append(float(np.max(np.abs(net.head(decoded) - reference))))
    assert gaps[0] < 0.01 * float(np.max(np.abs(reference)))
    assert gaps[0] < gaps[1]


@pytest.mark.vtm
def test_real_vtm_inner_codec(tmp_path):
    try:
        find_vtm()
    except CodecError as exc:
        pytest.skip(f"no VTM build (set VTM_DIR or VTM_BIN_DIR): {str(exc)[:80]}")
    codec = FeatureAnchorCodec(inner="vtm")
    feats = smooth_features(SHAPES)
    assert codec.version().startswith("VTM ")
    bits = codec.encode(feats, RatePoint("qp", 35))
    out = codec.decode(bits)
    assert {k: v.shape for k, v in out.items()} == {k: v.shape for k, v in feats.items()}
    assert mse(out, feats) < mse(codec.decode(codec.encode(feats, RatePoint("qp", 45))), feats)


def test_vvenc_output_cap_is_named(monkeypatch):
    c = FeatureAnchorCodec(inner="vvenc", vvenc_preset="faster", timeout_s=120)

    def fail(args, what):
        raise CodecError("ffmpeg failed", command=args[:2],
                         stderr="Error submitting a packet: Generic error in an external library")

    monkeypatch.setattr(c, "run", fail)
    with pytest.raises(CodecError, match=r"holds at most \d+ bytes for this \d+x\d+ picture"):
        c.encode(smooth_features({"p3": (4, 4, 6)}), RatePoint("qp", 22))
