"""Rotated BEV and 3D IoU against shapely, and the devkit's box conventions."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from bench.errors import BenchError
from bench.metrics.kitti_iou import bev_corners, image_box_iou, iou_3d, rotated_iou_bev


def footprint(box):
    """The devkit's ground-plane polygon of [x, y, z, h, w, l, ry], built independently."""
    x, _, z, _, w, l, ry = box
    rot = np.array([[math.cos(ry), math.sin(ry)], [-math.sin(ry), math.cos(ry)]])
    local = np.array([[l / 2, l / 2, -l / 2, -l / 2], [w / 2, -w / 2, -w / 2, w / 2]])
    pts = rot @ local
    return Polygon(list(zip(pts[0] + x, pts[1] + z)))


def shapely_ious(a, b):
    pa, pb = footprint(a), footprint(b)
    inter = pa.intersection(pb).area
    bev = inter / (pa.area + pb.area - inter)
    dy = max(0.0, min(a[1], b[1]) - max(a[1] - a[3], b[1] - b[3]))
    vol = inter * dy
    return bev, vol / (pa.area * a[3] + pb.area * b[3] - vol)


coord = st.floats(-3, 3, allow_nan=False)
size = st.floats(0.2, 4, allow_nan=False)
angle = st.floats(-2 * math.pi, 2 * math.pi, allow_nan=False)
box = st.tuples(coord, st.floats(0, 2), coord, size, size, size, angle)


@settings(max_examples=300, deadline=None)
@given(st.lists(box, min_size=1, max_size=6), st.lists(box, min_size=1, max_size=6))
def test_rotated_and_3d_iou_match_shapely(boxes_a, boxes_b):
    a, b = np.array(boxes_a), np.array(boxes_b)
    bev, d3 = rotated_iou_bev(a, b), iou_3d(a, b)
    assert bev.shape == d3.shape == (len(a), len(b))
    for i in range(len(a)):
        for j in range(len(b)):
            ref_bev, ref_3d = shapely_ious(a[i], b[j])
            assert bev[i, j] == pytest.approx(ref_bev, abs=1e-9)
            assert d3[i, j] == pytest.approx(ref_3d, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(box, min_size=1, max_size=8))
def test_identical_boxes_give_exactly_one(boxes):
    a = np.array(boxes) * [100, 1, 100, 1, 1, 1, 1]
    assert np.all(np.diag(iou_3d(a, a)) == 1.0)
    assert np.all(np.diag(rotated_iou_bev(a, a)) == 1.0)


def test_corners_rotate_as_the_devkit():
    # ry = pi/4: the length axis points along (cos ry, -sin ry) in (x, z)
    corners = bev_corners(np.array([0.0]), np.array([0.0]), np.array([4.0]), np.array([2.0]),
                          np.array([math.pi / 4]))[0]
    s = math.sqrt(0.5)
    assert corners[0] == pytest.approx([2 * s + s, -2 * s + s])
    long_box = np.array([[0, 1.5, 0, 1.5, 1.0, 4.0, math.pi / 4]])
    ahead = np.array([[1.2, 1.5, -1.2, 1.5, 0.5, 0.5, 0.0]])
    beside = np.array([[1.2, 1.5, 1.2, 1.5, 0.5, 0.5, 0.0]])
    assert rotated_iou_bev(long_box, ahead)[0, 0] > 0.0
    assert rotated_iou_bev(long_box, beside)[0, 0] == 0.0


def test_hand_computed_overlaps():
    a = np.array([[0.0, 2.0, 10.0, 2.0, 2.0, 4.0, 0.0]])
    shifted = a + [1.0, 0, 0, 0, 0, 0, 0]  # along the length: 3x2 of 4x2
    assert rotated_iou_bev(a, shifted)[0, 0] == pytest.approx(6 / 10)
    lifted = a + [0, -1.0, 0, 0, 0, 0, 0]  # y points down: half the height overlaps
    assert iou_3d(a, lifted)[0, 0] == pytest.approx(8 / 24)
    assert rotated_iou_bev(a, lifted)[0, 0] == pytest.approx(1.0)
    turned = np.array([[0.0, 2.0, 10.0, 2.0, 4.0, 2.0, math.pi / 2]])  # same footprint
    assert rotated_iou_bev(a, turned)[0, 0] == pytest.approx(1.0)
    far = a + [0, 0, 50.0, 0, 0, 0, 0]
    assert iou_3d(a, far)[0, 0] == 0.0


def test_image_box_iou():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [10.0, 0.0, 20.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    assert image_box_iou(a, b)[0] == pytest.approx([50 / 150, 0.0, 1.0])


def test_empty_inputs_and_bad_shapes():
    assert iou_3d(np.zeros((0, 7)), np.zeros((3, 7))).shape == (0, 3)
    with pytest.raises(BenchError, match=r"\(N, 7\)"):
        iou_3d(np.zeros((2, 5)), np.zeros((2, 7)))
