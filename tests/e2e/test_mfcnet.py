"""The `mfcnet` preset end to end on 2 images and 2 points per codec: curves and BD tables."""

from __future__ import annotations

import torch

from bench.execute.runner import run_spec
from bench.models.mfcnet import MfcNet, small_config
from bench.models.mfcnet.weights import load_mfcnet_state, save_mfcnet_weights
from bench.spec import load_spec

torch.set_num_threads(1)


def _weights(folder):
    """Untrained weights for the three variants (the ablations on top of the method's file)."""
    torch.manual_seed(0)
    main = folder / "mfcnet-small.pt"
    save_mfcnet_weights(MfcNet(small_config("mfcnet")), main)
    files = {"mfcnet": main}
    for variant in ("no-predict", "no-cross"):
        net = MfcNet(small_config(variant))
        own = net.state_dict()
        net.load_state_dict({**own, **{k: v for k, v in load_mfcnet_state(main).items()
                                       if k in own}})
        files[variant] = folder / f"mfcnet-small-{variant}.pt"
        save_mfcnet_weights(net, files[variant], base=main)
    return files


def test_mfcnet_preset_runs_end_to_end(tmp_path):
    files = _weights(tmp_path)
    spec = load_spec("mfcnet", [
        f"dataset.params.root={tmp_path / 'data'}", "dataset.params.n_images=2",
        "codecs.vcm-image-vvenc.points=[27,42]", "codecs.vcm-image-vvenc.params.preset=faster",
        "codecs.fcm-feature-vvenc.points=[35,45]",
        "codecs.fcm-feature-vvenc.params.vvenc_preset=faster",
        f"codecs.mfcnet.params.weights={files['mfcnet']}", "codecs.mfcnet.points=[0,5]",
        f"codecs.mfcnet-no-predict.params.weights={files['no-predict']}",
        "codecs.mfcnet-no-predict.points=[0,5]",
        f"codecs.mfcnet-no-cross.params.weights={files['no-cross']}",
        "codecs.mfcnet-no-cross.points=[0,5]", "execute.executor=serial",
    ])
    spec.codecs = [c for c in spec.codecs if c.name != "learned-baseline"]  # another helper's
    out = run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, p.point.value): p for p in out.points}
    assert {c for c, _ in by} == {"identity", "vcm-image-vvenc", "fcm-feature-vvenc", "mfcnet",
                                  "mfcnet-no-predict", "mfcnet-no-cross"}
    for (codec, value), p in by.items():
        assert p.complete and p.n_items == 2
        assert 0 <= p.metrics["bbox/AP"] <= 1 and 0 <= p.metrics["segm/AP"] <= 1
    # the no-predict ablation sends everything MFCNet sends plus P2's own path
    assert by[("mfcnet-no-predict", 0)]["bpp"] > by[("mfcnet", 0)]["bpp"]
    summary = (out.report_dir / "summary.md").read_text()
    assert "mfcnet" in summary and "fcm-feature-vvenc" in summary and "BD-rate" in summary
