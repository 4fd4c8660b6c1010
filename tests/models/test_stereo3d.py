import numpy as np
import pytest
import torch

from bench.datasets.synthetic_kitti import SyntheticKittiDataset
from bench.models.stereo3d import build_model, correlation_volume
from bench.models.stereo3d_decode import (
    anno_to_detections,
    decode_detections,
    detections_to_anno,
    image_tensor,
    net_geometry,
)
from bench.models.stereo3d_targets import build_targets, collate, detector_losses, gaussian_radius
from bench.tasks.stereo3d import load_stereo3d
from bench.train.stereo3d import save_weights


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("skitti")
    return SyntheticKittiDataset(n_frames=3, width=310, height=94, seed=1, root=root)


def test_split_point_shapes_and_consistency():
    torch.manual_seed(0)
    model = build_model().eval()
    left, right = torch.randn(1, 3, 192, 624), torch.randn(1, 3, 192, 624)
    with torch.no_grad():
        feats = model.features(left, right)
        assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
            "left/f0": (32, 48, 156), "left/f1": (48, 24, 78), "left/f2": (96, 12, 39),
            "right/f0": (32, 48, 156), "right/f1": (48, 24, 78), "right/f2": (96, 12, 39)}
        whole = model(left, right)
        split = model.head({k: v.clone() for k, v in feats.items()})
        alone = model.features(left, torch.zeros_like(right))
    for key in whole:
        torch.testing.assert_close(split[key], whole[key])
    torch.testing.assert_close(alone["left/f1"], feats["left/f1"])  # views do not mix


def test_correlation_volume_matches_a_direct_sum():
    gen = torch.Generator().manual_seed(0)
    left, right = torch.randn(2, 8, 5, 12, generator=gen), torch.randn(2, 8, 5, 12, generator=gen)
    vol = correlation_volume(left, right, max_disp=4, groups=2)
    assert vol.shape == (2, 8, 5, 12)
    for d in range(4):
        for g in range(2):
            ch = slice(4 * g, 4 * g + 4)
            want = torch.zeros(2, 5, 12)
            want[..., d:] = (left[:, ch, :, d:] * right[:, ch, :, :12 - d]).mean(1)
            torch.testing.assert_close(vol[:, d * 2 + g], want)


def _oracle_maps(t, geo):
    rng = np.random.default_rng(0)
    heat = np.where(t["heat_peak"] > 0, 2.0 + rng.random(t["heat_peak"].shape), -9.0)
    zeros = np.zeros_like(t["depth"])
    reg = np.concatenate([t["box2d"], t["offset3d"], zeros, t["dims"], t["orient"],
                          np.repeat(zeros, 25, 0), zeros - 5.0])
    disp8 = np.where(t["weight"] > 0, geo.focal_baseline / np.maximum(t["depth"][0], 1e-3), 1.0)
    return {"heat": torch.tensor(heat)[None].float(), "reg": torch.tensor(reg)[None].float(),
            "disp8": torch.tensor(disp8)[None, None].float()}


def test_targets_decode_back_to_the_labels(frames):
    # Maps equal to the targets must decode to the labelled boxes: targets, decoding
    # and the geometry of the network input agree. Objects whose peaks share or touch a
    # cell of the 1/8 grid lose one of the two to the 3x3 peak picking.
    found = total = 0
    for item_id, anno in zip(frames.ids(), frames.label_annos()):
        sample = frames.load(item_id)
        geo = net_geometry(sample.meta["image_size"], sample.calib)
        got = detections_to_anno(
            decode_detections(_oracle_maps(build_targets(anno, geo), geo), geo, topk=100))
        for k in range(len(got["name"])):
            j = int(np.argmin(np.abs(anno["bbox"] - got["bbox"][k]).sum(1)))
            assert got["name"][k] == anno["name"][j]
            np.testing.assert_allclose(got["bbox"][k], anno["bbox"][j], atol=0.05)
            np.testing.assert_allclose(got["location"][k], anno["location"][j], atol=2e-3)
            np.testing.assert_allclose(got["dimensions"][k], anno["dimensions"][j], atol=2e-3)
            # labels keep 2 decimals of alpha and rotation_y, each rounded on its own
            np.testing.assert_allclose(got["rotation_y"][k], anno["rotation_y"][j], atol=0.011)
            np.testing.assert_allclose(got["alpha"][k], anno["alpha"][j], atol=2e-3)
        found += len(got["name"])
        total += int((anno["name"] != "DontCare").sum())
    assert total >= 10 and found >= 0.7 * total


def test_targets_ignore_dontcare_and_mark_one_peak_per_object(frames):
    anno = frames.label_annos(["000000"])[0]
    sample = frames.load("000000")
    geo = net_geometry(sample.meta["image_size"], sample.calib)
    t = build_targets(anno, geo, frames.disparity("000000"))
    assert t["heat_peak"].sum() == (anno["name"] != "DontCare").sum()
    assert t["heat"].shape == (3, 24, 78) and t["dense"].shape == (48, 156)
    assert np.all(t["ignore"] * t["heat"].max(0) == 0)
    assert gaussian_radius(10, 10) > gaussian_radius(2, 2) > 0


def test_losses_are_finite_and_train_the_backbone(frames):
    torch.manual_seed(0)
    model = build_model()
    targets, lefts, rights, fbs = [], [], [], []
    for item_id, anno in zip(frames.ids()[:2], frames.label_annos(frames.ids()[:2])):
        s = frames.load(item_id)
        geo = net_geometry(s.meta["image_size"], s.calib)
        targets.append(build_targets(anno, geo, frames.disparity(item_id)))
        lefts.append(image_tensor(s.images[0], geo))
        rights.append(image_tensor(s.images[1], geo))
        fbs.append(geo.focal_baseline)
    losses = detector_losses(model(torch.cat(lefts), torch.cat(rights)), collate(targets),
                             torch.tensor(fbs))
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.stage0[0][0].weight.grad.abs().sum() > 0


def test_weights_round_trip_with_weights_only(tmp_path):
    model = build_model()
    save_weights(model, tmp_path / "w.pt", {"iterations": 0, "note": np.float64(1.5)})
    loaded, summary = load_stereo3d(tmp_path / "w.pt")
    assert summary["note"] == 1.5
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_detection_dicts_and_annos_convert_both_ways():
    dets = [{"type": "Car", "truncated": -1.0, "occluded": -1, "alpha": 0.1,
             "bbox": [1.0, 2.0, 30.0, 40.0], "dimensions": [1.5, 1.6, 3.9],
             "location": [1.0, 1.6, 20.0], "rotation_y": 0.15, "score": 0.9}]
    assert anno_to_detections(detections_to_anno(dets)) == dets
    assert len(detections_to_anno([])["name"]) == 0
