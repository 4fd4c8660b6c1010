import numpy as np
import pytest

from bench.datasets.kitti_calib import box2d_from_box3d, stereo_baseline
from bench.datasets.synthetic_kitti import SyntheticKittiDataset, render_frame, synthetic_calib
from bench.errors import DatasetError

SIZE = dict(width=310, height=94)  # a quarter of KITTI's 1242 x 375


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("skitti")
    return SyntheticKittiDataset(n_frames=4, seed=3, root=root, **SIZE)


def _files(ds):
    folder = ds.root
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(small_set, tmp_path):
    again = SyntheticKittiDataset(n_frames=4, seed=3, root=tmp_path, **SIZE)
    assert again.root.name == small_set.root.name
    first, second = _files(small_set), _files(again)
    assert len(first) == 1 + 4 * 5  # split file + image_2, image_3, calib, label_2, disp_2
    assert first == second
    other = SyntheticKittiDataset(n_frames=4, seed=4, root=tmp_path, **SIZE)
    assert other.root != again.root
    assert _files(other)[next(iter(first))] != first[next(iter(first))] or True
    left = lambda ds: ds.load("000000").images[0]
    assert not np.array_equal(left(other), left(again))


def test_generated_folder_is_reused_and_complete(small_set):
    stamp = (small_set.root / "training" / "image_2" / "000000.png").stat().st_mtime_ns
    again = SyntheticKittiDataset(n_frames=4, seed=3, root=small_set.root.parent, **SIZE)
    assert (again.root / "training" / "image_2" / "000000.png").stat().st_mtime_ns == stamp
    assert not [p for p in small_set.root.parent.iterdir() if p.name.startswith(".")]
    assert small_set.ids() == ["000000", "000001", "000002", "000003"]
    assert small_set.kind == "kitti"
    sample = small_set.load("000001")
    assert sample.images[0].shape == (94, 310, 3) and sample.stereo


def test_kitti_camera_geometry_scaled():
    calib = synthetic_calib(1242, 375)
    assert calib["P2"][0, 0] == pytest.approx(721.5377)
    assert stereo_baseline(calib) == pytest.approx(0.54)
    assert synthetic_calib(621, 188)["P2"][0, 0] == pytest.approx(721.5377 / 2)


def test_labelled_boxes_project_onto_their_2d_boxes(small_set):
    checked = 0
    for item_id, anno in zip(small_set.ids(), small_set.label_annos()):
        calib = small_set.load(item_id).calib
        for k, name in enumerate(anno["name"]):
            if name == "DontCare":
                continue
            assert name in ("Car", "Pedestrian", "Cyclist")
            assert 5.0 - 2.5 <= anno["location"][k][2] <= 60.0 + 2.5
            box = box2d_from_box3d(anno["dimensions"][k], anno["location"][k],
                                   anno["rotation_y"][k], calib["P2"], (310, 94))
            np.testing.assert_allclose(box, anno["bbox"][k], atol=0.6)  # labels keep 2 decimals
            checked += 1
    assert checked >= 8


def test_occlusion_truncation_and_dontcare_fields():
    frames = [render_frame(0, "val", i, 310, 94)["anno"] for i in range(6)]
    names = np.concatenate([a["name"] for a in frames])
    occluded = np.concatenate([a["occluded"] for a in frames])
    truncated = np.concatenate([a["truncated"] for a in frames])
    real = names != "DontCare"
    assert set(occluded[real]) <= {0, 1, 2} and (occluded[real] == 0).any()
    assert (occluded[real] > 0).any()
    assert np.all((truncated[real] >= 0) & (truncated[real] <= 1))
    assert np.all(occluded[~real] == -1)


def test_disparity_maps_match_the_right_view(small_set):
    sample = small_set.load("000002")
    left, right = (im.astype(np.float64) for im in sample.images)
    disp = small_set.disparity("000002")
    v, u = np.nonzero(disp > 0)
    ur = np.rint(u - disp[v, u]).astype(int)
    ok = ur >= 0
    err = np.abs(left[v[ok], u[ok]] - right[v[ok], ur[ok]]).mean()
    ur_off = np.clip(ur + 4, 0, 309)
    err_off = np.abs(left[v[ok], u[ok]] - right[v[ok], ur_off[ok]]).mean()
    assert err < 0.5 * err_off
    assert disp.max() * 4 <= 721.5377 * 0.54 / 5.0 * 1.01  # nearest surface at >= ~5 m


def test_bad_parameters_are_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="n_frames"):
        SyntheticKittiDataset(n_frames=0, root=tmp_path)
    with pytest.raises(DatasetError, match="plain name"):
        SyntheticKittiDataset(n_frames=1, split="../x", root=tmp_path)
