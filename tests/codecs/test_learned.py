"""LearnedCodec: real compress/decompress round trips, padding, header, parity, timing, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.codecs.learned import LearnedCodec, _point_text, centre_padding
from bench.codecs.learned_io import unpack_streams
from bench.errors import CodecError, SpecError
from bench.types import RatePoint

torch.set_num_threads(1)


def tiny_model(seed: int = 0):
    from compressai.models import FactorizedPrior

    torch.manual_seed(seed)
    return FactorizedPrior(N=8, M=12)


class TinyCodec(LearnedCodec):
    name = "tiny"
    model_name = "factorized-8-12"

    def build_model(self, point, state):
        from compressai.models import FactorizedPrior

        model = FactorizedPrior(N=8, M=12)
        model.load_state_dict(state)
        return model


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    model = tiny_model()
    model.update(force=True)
    torch.save(model.state_dict(), path)
    return path


def image(h=37, w=51, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_centre_padding_like_compressai_eval():
    assert centre_padding(37, 51, 64) == (6, 7, 13, 14)
    assert centre_padding(64, 128, 64) == (0, 0, 0, 0)


def test_point_text():
    assert _point_text(3) == _point_text(3.0) == _point_text("3") == "3"
    assert _point_text(0.0067) == _point_text("0.0067") == "0.0067"


def test_round_trip_equals_compressai_on_the_padded_image(ckpt):
    codec = TinyCodec(checkpoints={1: str(ckpt)})
    img = image()
    bs = codec.encode(img, RatePoint("quality", 1))
    out = codec.decode(bs)
    assert out.shape == img.shape and out.dtype == np.uint8
    # The same steps done by hand with CompressAI: pad, compress, decompress, crop, round.
    model = codec.model_for(RatePoint("quality", 1))
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.pad(x, (6, 7, 13, 14))
    with torch.no_grad():
        ref = model.compress(x)
        x_hat = model.decompress(ref["strings"], ref["shape"])["x_hat"]
    expect = (x_hat[0, :, 13:50, 6:57].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(out, expect)
    ints, streams = unpack_streams(bs.data)
    assert streams == [ref["strings"][0][0]]
    assert ints == [0, 37, 51, 1, *ref["shape"]]
    # the documented header: format byte, 2 counts, 6 one-byte ints, a 2-byte string length
    assert len(bs.data) == len(ref["strings"][0][0]) + 11


def test_timing_split_and_warmup(ckpt):
    codec = TinyCodec(checkpoints={"1": str(ckpt)})
    codec.decode(codec.encode(image(), RatePoint("quality", 1)))
    t = codec.last_timing
    for side in ("encode", "decode"):
        assert t[f"{side}_entropy_s"] > 0 and t[f"{side}_transform_s"] >= 0
        assert t[f"{side}_entropy_s"] + t[f"{side}_transform_s"] == pytest.approx(t[f"{side}_s"])
    assert codec.warmup_items == 1
    # the entropy models' methods are restored after timing
    assert "compress" not in vars(codec.model_for(RatePoint("quality", 1)).entropy_bottleneck)


def test_parity_passes_and_catches_a_changed_decoder(ckpt):
    codec = TinyCodec(checkpoints={1: str(ckpt)}, parity=True)
    assert "parity" not in codec.params()
    bs = codec.encode(image(), RatePoint("quality", 1))
    codec.decode(bs)
    bs = codec.encode(image(), RatePoint("quality", 1))
    model = codec.model_for(RatePoint("quality", 1))
    with torch.no_grad():
        model.g_s[0].bias.add_(0.5)  # a decoder that no longer matches the encoder
    with pytest.raises(CodecError, match="parity check failed"):
        codec.decode(bs)


def test_version_carries_the_weights_hash(ckpt):
    from bench.checkpoint import file_sha256

    codec = TinyCodec(checkpoints={1: str(ckpt)})
    digest = file_sha256(ckpt)[:12]
    assert codec.version(RatePoint("quality", 1)) == f"tiny factorized-8-12 sha256:{digest}"
    assert digest in codec.version()


def test_missing_checkpoint_is_caught_before_coding(ckpt, tmp_path):
    codec = TinyCodec(checkpoints={1: str(ckpt), 2: str(tmp_path / "nope.pt")})
    with pytest.raises(CodecError, match="nope.pt.*does not exist"):
        codec.check()
    with pytest.raises(SpecError, match="point quality=2.*does not exist"):
        codec.check_point(RatePoint("quality", 2))
    with pytest.raises(SpecError, match="no checkpoint for point quality=3"):
        codec.check_point(RatePoint("quality", 3))
    with pytest.raises(SpecError, match="takes quality points"):
        codec.check_point(RatePoint("qp", 1))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save(tiny_model(), path)  # a whole module: unpickling it would run code
    codec = TinyCodec(checkpoints={1: str(path)})
    with pytest.raises(CodecError, match="not a weights-only checkpoint"):
        codec.encode(image(), RatePoint("quality", 1))


def test_float_point_codes_round_trip():
    codec = TinyCodec()
    for value in (0.0067, 0.18, 1e-4):
        back = codec.point_from_code(codec.point_code(RatePoint("quality", value)))
        assert back.value == pytest.approx(value, rel=1e-6)
    assert codec.point_from_code(codec.point_code(RatePoint("quality", 5))).value == 5


class Nested:
    """A fake model whose compress output is nested (like ELIC's) and whose decode takes a target."""

    pad_multiple = 4

    def __init__(self):
        self.targets_seen = []

    def eval(self):
        return self

    def to(self, device):
        return self

    def modules(self):
        return []

    def compress(self, x, **kw):
        data = (x * 255).round().byte().numpy().tobytes()
        return {"strings": [[data[:5]], [data[5:]]],
                "shape": {"y": [tuple(x.shape[1:])], "hyper": (1, 1)}}

    def decompress(self, strings, shape, target=None):
        self.targets_seen.append(target)
        raw = strings[0][0] + strings[1][0]
        c, h, w = shape["y"][0]
        x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).float().reshape(1, c, h, w)
        return {"x_hat": x / 255}


class TargetCodec(LearnedCodec):
    name = "nested"
    targets = ("detection", "segmentation")

    def checkpoint_path(self, point):
        return None

    def build_model(self, point, state):
        return Nested()

    def decompress_output(self, model, strings, shape, point, target):
        out = self.timed_decompress(model, strings, shape, target=target)
        return out["x_hat"]


def test_nested_outputs_and_targets():
    codec = TargetCodec()
    img = image(10, 7)
    bs = codec.encode(img, RatePoint("quality", 2))
    ints, _ = unpack_streams(bs.data)
    assert ints[0] == 1  # tree layout
    assert np.array_equal(codec.decode(bs, target="segmentation"), img)
    assert codec.model_for(RatePoint("quality", 2)).targets_seen == ["segmentation"]
    assert codec.last_timing["decode_entropy_s"] is None  # no entropy model to time
    with pytest.raises(CodecError, match="no layer 'enhancement'"):
        codec.decode(bs, layers=["enhancement"])


def test_a_missing_weights_file_a_recipe_makes_names_the_train_command(tmp_path):
    from bench.codecs.learned import train_hint

    assert "icm-bench train ci-icm-ablation-fcgs" in train_hint(tmp_path / "ci-icm-ablation-fcgs.pt")
    assert train_hint(tmp_path / "my-own.pt") == ""
