"""The image-codec training program: smoke runs that resume exactly and export usable weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from bench.errors import SpecError
from bench.train.trainer import train
from bench.types import RatePoint

torch.set_num_threads(1)


def recipe(tmp_path, model, lambdas, steps=4, data=None, eval_=None):
    text = {
        "name": "tiny-codec",
        "program": {"type": "image-codec", "kwargs": {
            "model": model, "lambdas": lambdas,
            "data": data or {"crop": 64, "batch": 2, "pool": 2, "refresh_every": 2,
                             "width": 96, "height": 64},
            "eval": eval_ or {"n_images": 1}}},
        "steps": steps, "seed": 1, "log_every": 2, "checkpoint_every": 2,
        "optim": {"lr": 1e-3},
        "work_dir": str(tmp_path / "work"), "out": str(tmp_path / "w.pt"),
        "card": str(tmp_path / "card.md"),
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(text))
    return str(path)


BASELINE = {"type": "learned-baseline", "kwargs": {"N": 8, "M": 12}}


def test_variable_rate_run_resumes_exactly_and_exports(tmp_path):
    quiet = lambda s: None
    one = train(recipe(tmp_path / "a", BASELINE, [0.003, 0.03]), log=quiet)
    path = recipe(tmp_path / "b", BASELINE, [0.003, 0.03])
    train(path, steps=2, log=quiet)
    resumed = train(path, resume=True, log=quiet)
    assert resumed["steps"] == 4
    assert resumed["evaluation"] == pytest.approx(one["evaluation"], abs=0)
    ev = one["evaluation"]
    assert set(ev) == {f"l{i}/{k}" for i in (1, 2) for k in ("bpp", "psnr_rgb", "psnr_y")}
    card = (tmp_path / "a" / "card.md").read_text()
    assert "| l2 | 0.03 |" in card and "RD points (real coding, 1 held-out images)" in card
    from bench.codecs.learned_baseline import LearnedBaselineCodec

    codec = LearnedBaselineCodec(weights=str(tmp_path / "a" / "w.pt"))
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert codec.decode(codec.encode(img, RatePoint("lambda", 0.01))).shape == img.shape


def test_one_compressai_model_per_lambda(tmp_path):
    model = {"type": "bmshj2018-factorized", "kwargs": {"N": 8, "M": 12}}
    summary = train(recipe(tmp_path, model, [0.003, 0.03], steps=2), log=lambda s: None)
    files = summary["export"]["files"]
    assert [f.rsplit("/", 1)[-1] for f in files] == ["w-q1.pt", "w-q2.pt"]
    from bench.codecs.compressai_codec import CompressAICodec

    codec = CompressAICodec(model="bmshj2018-factorized", checkpoints={1: files[0], 2: files[1]})
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert codec.decode(codec.encode(img, RatePoint("quality", 2))).shape == img.shape


def test_zoo_names_are_found_by_checkpoint_dir(tmp_path):
    model = {"type": "bmshj2018-factorized", "kwargs": {"N": 8, "M": 12}}
    path = recipe(tmp_path, model, [0.003, 0.03], steps=1)
    summary = train(path, ["program.kwargs.zoo_names=true"], log=lambda s: None)
    names = sorted(f.rsplit("/", 1)[-1] for f in summary["export"]["files"])
    assert [n[:-len("-12345678.pth.tar")] for n in names] == [
        "bmshj2018-factorized-prior-1", "bmshj2018-factorized-prior-2"]
    from bench.codecs.compressai_codec import CompressAICodec

    codec = CompressAICodec(model="bmshj2018-factorized", checkpoint_dir=str(tmp_path))
    codec.check()
    codec.check_point(RatePoint("quality", 2))


def test_image_folder_data_and_errors(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        arr = np.random.default_rng(i).integers(0, 256, (70, 80, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"{i}.png")
    data = {"type": "images", "root": str(folder), "crop": 64, "batch": 2}
    ev = {"type": "images", "root": str(folder), "n_images": 1}
    summary = train(recipe(tmp_path, BASELINE, [0.01, 0.02], steps=1, data=data, eval_=ev),
                    log=lambda s: None)
    assert summary["evaluation"]["l1/bpp"] > 0
    with pytest.raises(SpecError, match="unknown model 'nope'"):
        train(recipe(tmp_path / "x", {"type": "nope"}, [0.01], steps=1), log=lambda s: None)
    with pytest.raises(SpecError, match="image-codec program kwargs"):
        train(recipe(tmp_path / "y", BASELINE, [], steps=1), log=lambda s: None)


def test_yuv_mse_weights_luma_six_to_one():
    from bench.train.programs.image_codec import yuv_mse

    x = torch.zeros(1, 3, 4, 4)
    grey = torch.full_like(x, 0.1)  # an error in luma only
    assert float(yuv_mse(grey, x)[0]) == pytest.approx(6 / 8 * 0.01, rel=1e-4)
    blue = x.clone()
    blue[:, 2] = 0.1
    expect = (6 * 0.0114**2 + 0.05**2 + 0.0081312**2) / 8
    assert float(yuv_mse(blue, x)[0]) == pytest.approx(expect, rel=1e-3)
