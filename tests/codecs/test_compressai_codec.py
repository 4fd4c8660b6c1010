"""The compressai codec: parity with CompressAI's own compress/decompress, checkpoints, points."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from bench.checkpoint import file_sha256
from bench.codecs.compressai_codec import CompressAICodec, zoo_file_stem
from bench.codecs.learned_io import header_size, unpack_streams
from bench.errors import CodecError, SpecError
from bench.metrics.quality import psnr_rgb
from bench.types import RatePoint

torch.set_num_threads(1)


def small_hyperprior(seed: int = 0, update: bool = True):
    from compressai.models import ScaleHyperprior

    torch.manual_seed(seed)
    model = ScaleHyperprior(N=16, M=24).eval()
    if update:
        model.update(force=True)
    return model


def save_zoo_style(model, folder, stem: str):
    """Save a state dict under CompressAI's zoo naming: <stem>-<sha256[:8]>.pth.tar."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp.pth.tar"
    torch.save(model.state_dict(), tmp)
    path = folder / f"{stem}-{file_sha256(tmp)[:8]}.pth.tar"
    shutil.move(tmp, path)
    return path


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    path = save_zoo_style(small_hyperprior(), folder, "bmshj2018-hyperprior-2")
    return folder, path


def test_zoo_file_stems():
    assert zoo_file_stem("bmshj2018-factorized", "mse", 3) == "bmshj2018-factorized-prior-3"
    assert zoo_file_stem("mbt2018-mean", "ms-ssim", 1) == "mbt2018-mean-ms-ssim-1"
    assert zoo_file_stem("mbt2018-mean-vbr", "mse", None) == "mbt2018-mean-mse-vbr"
    assert zoo_file_stem("elic2022-official", "mse", 1) is None


def compressai_reference(model, img: np.ndarray):
    """CompressAI's eval_model steps: pad (compute_padding, 64), compress, decompress, unpad."""
    import torch.nn.functional as F
    from compressai.ops import compute_padding

    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    pad, unpad = compute_padding(x.shape[2], x.shape[3], min_div=64)
    with torch.no_grad():
        enc = model.compress(F.pad(x, pad, mode="constant", value=0))
        x_hat = F.pad(model.decompress(enc["strings"], enc["shape"])["x_hat"], unpad)
    rec = (x_hat[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return enc, rec


@pytest.mark.parametrize("size", [(64, 128), (37, 51)])  # aligned, and odd-sized (padding)
def test_parity_with_compressai(zoo, size):
    folder, _ = zoo
    img = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    codec = CompressAICodec(model="bmshj2018-hyperprior", checkpoint_dir=str(folder))
    codec.check()
    bs = codec.encode(img, RatePoint("quality", 2))
    out = codec.decode(bs)
    enc, ref = compressai_reference(small_hyperprior(), img)
    strings = [s[0] for s in enc["strings"]]
    ints, streams = unpack_streams(bs.data)
    assert streams == strings  # CompressAI's own bytes, in order
    assert ints == [0, size[0], size[1], 2, *enc["shape"]]  # layout, H, W, quality, z shape
    assert len(bs.data) == sum(map(len, strings)) + header_size(ints, strings)
    assert out.shape == img.shape
    assert abs(psnr_rgb(img, out) - psnr_rgb(img, ref)) < 1e-6
    assert np.array_equal(out, ref)


def test_version_and_hash_prefix(zoo):
    folder, path = zoo
    codec = CompressAICodec(model="bmshj2018-hyperprior", checkpoint_dir=str(folder))
    v = codec.version(RatePoint("quality", 2))
    assert v.startswith("compressai 1.") and "bmshj2018-hyperprior mse" in v
    assert file_sha256(path)[:12] in v


def test_wrong_hash_is_refused(tmp_path):
    bad = tmp_path / "bmshj2018-hyperprior-1-deadbeef.pth.tar"
    torch.save(small_hyperprior().state_dict(), bad)
    codec = CompressAICodec(model="bmshj2018-hyperprior", checkpoints={1: str(bad)})
    with pytest.raises(CodecError, match="does not start with 'deadbeef'"):
        codec.check()
    with pytest.raises(CodecError, match="does not start with 'deadbeef'"):
        codec.encode(np.zeros((64, 64, 3), np.uint8), RatePoint("quality", 1))


def test_pickled_checkpoint_is_refused(tmp_path):
    path = tmp_path / "whole-model.pt"
    torch.save(small_hyperprior(), path)  # the module object, not a state dict
    codec = CompressAICodec(model="bmshj2018-hyperprior", checkpoints={1: str(path)})
    with pytest.raises(CodecError, match="not a weights-only checkpoint"):
        codec.encode(np.zeros((64, 64, 3), np.uint8), RatePoint("quality", 1))


def test_missing_checkpoint_caught_before_any_job(zoo, tmp_path):
    folder, _ = zoo
    codec = CompressAICodec(model="bmshj2018-hyperprior", checkpoint_dir=str(folder))
    codec.check_point(RatePoint("quality", 2))
    with pytest.raises(SpecError, match="no checkpoint for point quality=3"):
        codec.check_point(RatePoint("quality", 3))
    with pytest.raises(SpecError, match="integer 1..8"):
        CompressAICodec(model="bmshj2018-hyperprior",
                        checkpoints={9: str(tmp_path)}).check_point(RatePoint("quality", 9))
    with pytest.raises(CodecError, match="checkpoint_dir .* does not exist"):
        CompressAICodec(checkpoint_dir=str(tmp_path / "nope")).check()
    with pytest.raises(CodecError, match="unknown model 'bmshj2018-hyperprio'"):
        CompressAICodec(model="bmshj2018-hyperprio").check()


def test_checkpoint_without_cdfs_is_updated(tmp_path):
    path = tmp_path / "no-cdf.pt"
    torch.save({"state_dict": small_hyperprior(update=False).state_dict()}, path)
    codec = CompressAICodec(model="bmshj2018-hyperprior", checkpoints={4: str(path)})
    img = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = codec.decode(codec.encode(img, RatePoint("quality", 4)))
    assert out.shape == img.shape


def test_variable_rate_model_lambdas(tmp_path):
    from compressai.models import MeanScaleHyperpriorVbr

    torch.manual_seed(0)
    model = MeanScaleHyperpriorVbr(N=16, M=24, vr_entbttlnck=True).eval()
    with torch.no_grad():
        model.g_a[6].weight.mul_(50)  # latents large enough for the gains to matter
    path = tmp_path / "vbr.pt"
    torch.save(model.state_dict(), path)
    codec = CompressAICodec(model="mbt2018-mean-vbr", checkpoints={"vbr": str(path)})
    assert codec.point_kind == "lambda"
    img = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    sizes = []
    for lmbda in (0.0018, 0.18):
        bs = codec.encode(img, RatePoint("lambda", lmbda))
        assert codec.decode(bs).shape == img.shape
        sizes.append(len(bs.data))
    assert unpack_streams(bs.data)[0][3] == 7  # the header's point: the lambda's index
    assert sizes[0] < sizes[1]
    with pytest.raises(CodecError, match="lambda 0.5 is not one of the model's"):
        codec.encode(img, RatePoint("lambda", 0.5))


def test_elic_nested_shapes_round_trip(tmp_path):
    from compressai.models import Elic2022Official

    torch.manual_seed(0)
    kwargs = {"N": 16, "M": 32, "groups": [8, 8, 16]}
    model = Elic2022Official(**kwargs).eval()
    model.update(force=True)
    path = tmp_path / "elic.pt"
    torch.save(model.state_dict(), path)
    codec = CompressAICodec(model="elic2022", arch_kwargs=kwargs, checkpoints={1: str(path)})
    img = np.random.default_rng(4).integers(0, 256, (40, 70, 3), dtype=np.uint8)
    bs = codec.encode(img, RatePoint("quality", 1))
    assert unpack_streams(bs.data)[0][0] == 1  # the tree layout
    x = torch.nn.functional.pad(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255,
                                (29, 29, 12, 12))
    with torch.no_grad():
        ref = model.compress(x)
    assert sum(len(s[0]) for s in ref["strings"]) < len(bs.data)
    assert codec.decode(bs).shape == img.shape
