"""The learned-images preset end to end: an image folder, compressai from local zoo-named
checkpoints, the learned baseline, JPEG; real bitstreams, points stored."""

from __future__ import annotations

import shutil

import pytest
import torch

from bench.checkpoint import file_sha256
from bench.execute.runner import run_spec
from bench.spec import load_spec

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from compressai.models import FactorizedPrior

    from bench.models.learned_baseline import WEIGHTS_FORMAT, GainedMeanScaleHyperprior

    root = tmp_path_factory.mktemp("weights")
    zoo = root / "zoo"
    zoo.mkdir()
    for q in (1, 2):
        torch.manual_seed(q)
        model = FactorizedPrior(N=8, M=12)
        model.update(force=True)
        tmp = zoo / "tmp.pth.tar"
        torch.save(model.state_dict(), tmp)
        shutil.move(tmp, zoo / f"bmshj2018-factorized-prior-{q}-{file_sha256(tmp)[:8]}.pth.tar")
    torch.manual_seed(0)
    vr = GainedMeanScaleHyperprior(N=8, M=12, lambdas=[0.002, 0.02])
    vr.update(force=True)
    lb = root / "lb.pt"
    torch.save({"format": WEIGHTS_FORMAT, "config": vr.config(), "state_dict": vr.state_dict()}, lb)
    return zoo, lb


def test_learned_images_preset_runs(weights, tmp_path):
    zoo, lb = weights
    spec = load_spec("learned-images", [
        f"dataset.params.root={tmp_path / 'imgs'}",
        "dataset.params.synthetic={n_images: 2, width: 96, height: 64}",
        f"codecs.factorized-small.params.checkpoint_dir={zoo}",
        "codecs.factorized-small.points=[1, 2]",
        f"codecs.learned-baseline.params={{weights: {lb}}}",
        "codecs.learned-baseline.points=[0.002, 0.02]",
        "codecs.jpeg.points=[4, 16]",
        "execute.executor=serial",
    ])
    out = run_spec(spec, tmp_path / "results", None, progress=False)
    assert out.jobs_failed == 0 and out.jobs_total == 6
    assert min((tmp_path / "imgs").iterdir()).name == "000001.png"
    by_codec = {}
    for point in out.points:
        by_codec.setdefault(point.codec, []).append(point)
    assert set(by_codec) == {"factorized-small", "learned-baseline", "jpeg"}
    for points in by_codec.values():
        assert len(points) == 2
        assert all(p.bpp > 0 and p.complete and p.metrics["psnr_y"] > 0 for p in points)


def test_learned_images_preset_with_the_committed_weights(tmp_path):
    """The preset as shipped (zoo-named factorized-small checkpoints and the learned
    baseline's committed weights), on two images at two points per codec."""
    spec = load_spec("learned-images", [
        f"dataset.params.root={tmp_path / 'imgs'}",
        "dataset.params.synthetic={n_images: 2, width: 320, height: 240}",
        "codecs.factorized-small.points=[1, 6]",
        "codecs.learned-baseline.points=[0.0025, 0.068]",
        "codecs.jpeg.points=[10, 90]",
        "execute.executor=serial",
    ])
    out = run_spec(spec, tmp_path / "results", None, progress=False)
    assert out.jobs_failed == 0 and out.jobs_total == 6
    by = {(p.codec, float(p.point.value)): p for p in out.points}
    for low, high in ((("factorized-small", 1), ("factorized-small", 6)),
                      (("learned-baseline", 0.0025), ("learned-baseline", 0.068)),
                      (("jpeg", 10), ("jpeg", 90))):
        assert 0 < by[low].bpp < by[high].bpp
        assert by[low].metrics["psnr_y"] < by[high].metrics["psnr_y"]
