"""The committed MVSFC weights. After stage 1 (joint and ablation trained alike) the joint
stream of a pair is smaller than the ablation's two single-view streams at the same rate
point, and both views decode at their shapes; the stage-2 joint model's rate points are
ordered (index 0 is the highest rate)."""

from __future__ import annotations

import pytest
import torch

from bench.codecs.mvsfc import resolve_weights
from bench.codecs.mvsfc_stream import to_bytes
from bench.models.mvsfc.training import split_views

torch.set_num_threads(1)
JOINT, ABLATION = resolve_weights("mvsfc-stage1.pt"), resolve_weights("mvsfc-ablation.pt")
STAGE2 = resolve_weights("mvsfc.pt")


@pytest.fixture(scope="module")
def pair_features(tmp_path_factory):
    from bench.datasets.synthetic_kitti import SyntheticKittiDataset
    from bench.models.stereo3d_decode import image_tensor, net_geometry
    from bench.tasks.stereo3d import DEFAULT_WEIGHTS, load_stereo3d

    ds = SyntheticKittiDataset(n_frames=2, width=621, height=188, seed=7, split="val",
                               root=tmp_path_factory.mktemp("kitti"))
    det, _ = load_stereo3d(DEFAULT_WEIGHTS)
    out = []
    for item in ds.ids():
        s = ds.load(item)
        geo = net_geometry((621, 188), s.calib)
        with torch.no_grad():
            out.append(det.features(*(image_tensor(im, geo) for im in s.images)))
    return out


def test_joint_stream_smaller_than_two_single_view_streams(pair_features):
    from bench.models.mvsfc.weights import load_weights

    joint, _ = load_weights(JOINT)
    ablation, _ = load_weights(ABLATION)
    assert joint.cfg.joint and not ablation.cfg.joint
    for feats in pair_features:
        left, right = split_views(feats)
        for rate in (0, joint.cfg.n_rates - 1):
            j = joint.compress(left, right, rate=rate)
            a = ablation.compress(left, right, rate=rate)
            assert len(j["strings"]) == 3 and len(a["strings"]) == 4
            single = [to_bytes({**a, "strings": a["strings"][2 * v:2 * v + 2]}) for v in (0, 1)]
            assert len(to_bytes(j)) < sum(len(s) for s in single)
            dec = joint.decompress(j["strings"], j["sizes"], j["rate"])
            for view, ref in (("left", left), ("right", right)):
                assert [t.shape for t in dec[view]] == [t.shape for t in ref]


def test_stage2_rate_points_are_ordered(pair_features):
    from bench.models.mvsfc.weights import load_weights

    net, _ = load_weights(STAGE2)
    assert net.cfg.joint and net.cfg.n_rates == 6
    for feats in pair_features:
        left, right = split_views(feats)
        sizes = [len(to_bytes(net.compress(left, right, rate=r))) for r in range(6)]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] > 3 * sizes[-1]
