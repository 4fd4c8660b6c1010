"""The `mfcnet` preset end to end on one image, with the committed weights
(bench/models/weights/mfcnet-small*.pt): curves and BD tables."""

from __future__ import annotations

import torch

from bench.codecs.mfcnet import DEFAULT_WEIGHTS, WEIGHTS_DIR
from bench.execute.runner import run_spec
from bench.spec import load_spec

torch.set_num_threads(1)


def test_mfcnet_preset_runs_end_to_end(tmp_path):
    files = {v: WEIGHTS_DIR / name for v, name in DEFAULT_WEIGHTS.items()}
    spec = load_spec("mfcnet", [
        f"dataset.params.root={tmp_path / 'data'}", "dataset.params.n_images=1",
        "codecs.fcm-feature-vvenc.points=[35,45]",
        "codecs.fcm-feature-vvenc.params.vvenc_preset=faster",
        f"codecs.mfcnet.params.weights={files['mfcnet']}", "codecs.mfcnet.points=[0,6]",
        f"codecs.mfcnet-no-predict.params.weights={files['no-predict']}",
        "codecs.mfcnet-no-predict.points=[0]",
        f"codecs.mfcnet-no-cross.params.weights={files['no-cross']}",
        "codecs.mfcnet-no-cross.points=[0]", "execute.executor=serial",
    ])
    # the image anchor and the learned baseline are other helpers' codecs, tested there
    spec.codecs = [c for c in spec.codecs if c.name not in ("learned-baseline", "vcm-image-vvenc")]
    out = run_spec(spec, tmp_path / "results", tmp_path / "reports", progress=False)
    assert out.jobs_failed == 0
    by = {(p.codec, p.point.value): p for p in out.points}
    assert {c for c, _ in by} == {"identity", "fcm-feature-vvenc", "mfcnet",
                                  "mfcnet-no-predict", "mfcnet-no-cross"}
    for p in by.values():
        assert p.complete and p.n_items == 1
        assert 0 <= p.metrics["bbox/AP"] <= 1 and 0 <= p.metrics["segm/AP"] <= 1
    # the no-predict ablation sends everything MFCNet sends plus P2's own path
    assert by[("mfcnet-no-predict", 0)].bpp > by[("mfcnet", 0)].bpp
    assert by[("mfcnet", 6)].bpp > by[("mfcnet", 0)].bpp
    summary = (out.report_dir / "summary.md").read_text()
    assert "mfcnet" in summary and "fcm-feature-vvenc" in summary and "BD-rate" in summary
