"""The `mfcnet` preset end to end on one image: curves and BD tables.

Runs the committed weights (bench/models/weights/mfcnet-small*.pt) where they exist and
untrained stand-ins otherwise (see `_weights`), so the preset's wiring is checked in
every checkout; it never skips.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from bench.codecs.mfcnet import DEFAULT_WEIGHTS, WEIGHTS_DIR
from bench.execute.runner import run_spec
from bench.models.mfcnet import MfcNet, small_config
from bench.models.mfcnet.weights import load_mfcnet_state, save_mfcnet_weights
from bench.spec import load_spec

torch.set_num_threads(1)


def _weights(folder: Path) -> dict[str, Path]:
    """Each variant's committed file, or a stand-in: untrained method weights when
    mfcnet-small.pt is absent, and ablations whose own paths are untrained on top of the
    method's (committed or stand-in) weights when their files are absent."""
    files = {v: WEIGHTS_DIR / name for v, name in DEFAULT_WEIGHTS.items()}
    main = files["mfcnet"]
    if not main.is_file():
        torch.manual_seed(0)
        main = folder / "mfcnet-small.pt"
        save_mfcnet_weights(MfcNet(small_config("mfcnet")), main)
        files = {"mfcnet": main}
    for variant in ("no-predict", "no-cross"):
        if files.get(variant) is not None and files[variant].is_file():
            continue
        torch.manual_seed(1)
        net = MfcNet(small_config(variant))
        own = net.state_dict()
        net.load_state_dict({**own, **{k: v.float() for k, v in load_mfcnet_state(main).items()
                                       if k in own and own[k].shape == v.shape}})
        local = folder / main.name  # a base is looked up next to the file naming it
        if not local.is_file():
            shutil.copyfile(main, local)
        files[variant] = folder / f"mfcnet-small-{variant}.pt"
        save_mfcnet_weights(net, files[variant], base=local)
    return files


def test_mfcnet_preset_runs_end_to_end(tmp_path):
    files = _weights(tmp_path)
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
