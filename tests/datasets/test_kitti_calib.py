import numpy as np
import pytest

from bench.datasets.kitti_calib import (
    alpha_from_rotation_y,
    box2d_from_box3d,
    box3d_corners,
    format_calib,
    parse_calib,
    project_to_image,
    read_calib,
    rotation_y_from_alpha,
    scale_projection,
    stereo_baseline,
    unproject,
    velo_to_rect,
)
from bench.errors import DatasetError

# Frame 000000 of the KITTI object training set: its calib file and its label line
# "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01"
KITTI_000000 = """P0: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 0.000000000000e+00 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P1: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 -3.797842000000e+02 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P2: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 4.575831000000e+01 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 -3.454157000000e-01 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 4.981016000000e-03
P3: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 -3.341081000000e+02 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 2.330660000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 3.201153000000e-03
R0_rect: 9.999128000000e-01 1.009263000000e-02 -8.511932000000e-03 -1.012729000000e-02 9.999406000000e-01 -4.037671000000e-03 8.470675000000e-03 4.123522000000e-03 9.999556000000e-01
Tr_velo_to_cam: 6.927964000000e-03 -9.999722000000e-01 -2.757829000000e-03 -2.457729000000e-02 -1.162982000000e-03 2.749836000000e-03 -9.999955000000e-01 -6.127237000000e-02 9.999753000000e-01 6.931141000000e-03 -1.143899000000e-03 -3.321029000000e-01
Tr_imu_to_velo: 9.999976000000e-01 7.553071000000e-04 -2.035826000000e-03 -8.086759000000e-01 -7.854027000000e-04 9.998898000000e-01 -1.482298000000e-02 3.195559000000e-01 2.024406000000e-03 1.482454000000e-02 9.998881000000e-01 -7.997231000000e-01
"""


def test_parse_kitti_calib_file_shapes_and_values():
    calib = parse_calib(KITTI_000000)
    assert calib["P2"].shape == (3, 4) and calib["R0_rect"].shape == (3, 3)
    assert calib["Tr_velo_to_cam"].shape == (3, 4)
    assert calib["P2"][0, 0] == pytest.approx(707.0493)
    assert stereo_baseline(calib) == pytest.approx(0.5372, abs=1e-4)


def test_format_then_parse_round_trips(tmp_path):
    calib = parse_calib(KITTI_000000)
    path = tmp_path / "000000.txt"
    path.write_text(format_calib(calib))
    again = read_calib(path)
    assert set(again) == set(calib)
    for key in calib:
        np.testing.assert_array_equal(again[key], calib[key])


def test_labelled_kitti_box_projects_onto_its_2d_box():
    # KITTI's 2D boxes are annotated on the image, so they hug the person more tightly than
    # the projected 3D box does; the two still overlap closely.
    p2 = parse_calib(KITTI_000000)["P2"]
    box = box2d_from_box3d((1.89, 0.48, 1.20), (1.84, 1.47, 8.41), 0.01, p2, (1224, 370))
    label = np.array([712.40, 143.00, 810.73, 307.92])
    inter = np.prod(np.minimum(box[2:], label[2:]) - np.maximum(box[:2], label[:2]))
    union = np.prod(box[2:] - box[:2]) + np.prod(label[2:] - label[:2]) - inter
    assert inter / union > 0.85
    np.testing.assert_allclose(box[[0, 1, 3]], label[[0, 1, 3]], atol=2.5)


def test_box_corners_follow_the_devkit_convention():
    corners = box3d_corners((1.5, 1.6, 4.0), (1.0, 1.7, 20.0), 0.0)
    assert corners[:4, 1] == pytest.approx([1.7] * 4)  # bottom face at the location's y
    assert corners[4:, 1] == pytest.approx([0.2] * 4)  # y points down: top is y - h
    assert np.ptp(corners[:, 0]) == pytest.approx(4.0)  # ry = 0: length along x
    turned = box3d_corners((1.5, 1.6, 4.0), (1.0, 1.7, 20.0), -np.pi / 2)
    assert np.ptp(turned[:, 2]) == pytest.approx(4.0)  # ry = -pi/2: length along z


def test_unproject_inverts_projection():
    p2 = parse_calib(KITTI_000000)["P2"]
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(-10, 10, 20), rng.uniform(-2, 2, 20), rng.uniform(4, 70, 20)], 1)
    uv = project_to_image(pts, p2)
    np.testing.assert_allclose(unproject(uv[:, 0], uv[:, 1], pts[:, 2], p2), pts, atol=1e-9)


def test_alpha_and_rotation_y_are_inverse():
    ry = np.linspace(-3.1, 3.1, 13)
    x, z = np.linspace(-15, 15, 13), np.linspace(5, 50, 13)
    alpha = alpha_from_rotation_y(ry, x, z)
    assert np.all(alpha >= -np.pi) and np.all(alpha < np.pi)
    np.testing.assert_allclose(rotation_y_from_alpha(alpha, x, z), ry, atol=1e-12)
    assert alpha_from_rotation_y(0.5, 0.0, 10.0) == pytest.approx(0.5)  # straight ahead


def test_scaled_projection_matches_resized_pixel_centres():
    p2 = parse_calib(KITTI_000000)["P2"]
    pts = np.array([[2.0, 1.0, 12.0], [-4.0, 0.5, 30.0]])
    uv = project_to_image(pts, p2)
    half = project_to_image(pts, scale_projection(p2, 0.5, 0.5))
    np.testing.assert_allclose(half, (uv + 0.5) * 0.5 - 0.5, atol=1e-9)


def test_velodyne_points_land_in_front_of_the_camera():
    calib = parse_calib(KITTI_000000)
    rect = velo_to_rect(np.array([[10.0, 0.0, 0.0]]), calib)  # 10 m ahead of the lidar
    assert rect[0, 2] == pytest.approx(9.67, abs=0.05)
    assert abs(rect[0, 0]) < 0.2


def test_bad_calib_files_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match="missing P3"):
        parse_calib("P2: " + " ".join(["1"] * 12) + "\nR0_rect: " + " ".join(["1"] * 9)
                    + "\nTr_velo_to_cam: " + " ".join(["1"] * 12))
    with pytest.raises(DatasetError, match="P2 has 11 numbers"):
        parse_calib("P2: " + " ".join(["1"] * 11))
    with pytest.raises(DatasetError, match="non-number"):
        parse_calib("P2: 1 2 x")
    with pytest.raises(DatasetError, match="nothere.txt"):
        read_calib(tmp_path / "nothere.txt")
