"""Overlaps of KITTI boxes: image boxes, rotated bird's-eye-view boxes and 3D boxes.

3D boxes are (N, 7) arrays ``[x, y, z, h, w, l, ry]`` in camera coordinates: (x, y, z)
is the bottom centre (y points down, so the box spans y - h .. y), h, w, l are the
dimensions in the label-file order, and ry rotates about the camera y axis. In the
ground plane (x, z) a box is a rectangle of length l along its heading and width w,
rotated as the KITTI devkit does: a corner (dx, dz) maps to
(x + cos(ry) dx + sin(ry) dz, z - sin(ry) dx + cos(ry) dz).

Rotated rectangles are intersected by clipping one with the other
(Sutherland-Hodgman), vectorised over pairs, in float64.
"""

from __future__ import annotations

import numpy as np

from bench.metrics import MetricError

_MAX_VERTS = 8  # two convex quadrilaterals intersect in at most 8 vertices


def image_iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of image boxes ``[x1, y1, x2, y2]`` row by row (a[i] with b[i])."""
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    hit = (iw > 0) & (ih > 0)
    inter = np.where(hit, iw * ih, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=hit & (union > 0))


def image_box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of image boxes ``[x1, y1, x2, y2]`` (no +1 pixel, as the devkit)."""
    a, b = _as_boxes(boxes_a, 4), _as_boxes(boxes_b, 4)
    ia, ib = _all_pairs(len(a), len(b))
    return image_iou_pairs(a[ia], b[ib]).reshape(len(a), len(b))


def bev_corners(x: np.ndarray, z: np.ndarray, length: np.ndarray, width: np.ndarray,
                ry: np.ndarray) -> np.ndarray:
    """(K, 4, 2) ground-plane corners (x, z), counter-clockwise."""
    dx = np.array([0.5, -0.5, -0.5, 0.5]) * length[:, None]
    dz = np.array([0.5, 0.5, -0.5, -0.5]) * width[:, None]
    c, s = np.cos(ry)[:, None], np.sin(ry)[:, None]
    return np.stack([x[:, None] + c * dx + s * dz, z[:, None] - s * dx + c * dz], axis=-1)


def polygon_area(poly: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Shoelace area of (K, M, 2) polygons with `count` valid vertices each."""
    idx = np.arange(poly.shape[1])
    nxt = np.where(idx + 1 < count[:, None], idx + 1, 0)
    nx = np.take_along_axis(poly[..., 0], nxt, axis=1)
    ny = np.take_along_axis(poly[..., 1], nxt, axis=1)
    cross = poly[..., 0] * ny - nx * poly[..., 1]
    return 0.5 * np.where(idx < count[:, None], cross, 0.0).sum(axis=1)


def _clip_half_plane(poly: np.ndarray, count: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Clip convex polygons by the half-planes left of the edges a -> b."""
    k, m = poly.shape[:2]
    idx = np.arange(m)
    valid = idx < count[:, None]
    nxt = np.where(idx + 1 < count[:, None], idx + 1, 0)
    edge = b - a
    side = (edge[:, None, 0] * (poly[..., 1] - a[:, None, 1])
            - edge[:, None, 1] * (poly[..., 0] - a[:, None, 0]))
    side_next = np.take_along_axis(side, nxt, axis=1)
    inside, inside_next = side >= 0, side_next >= 0
    crossing = valid & (inside != inside_next)
    denom = np.where(crossing, side - side_next, 1.0)
    t = np.where(crossing, side / denom, 0.0)
    nxt_pts = np.take_along_axis(poly, nxt[..., None], axis=1)
    cross_pts = poly + t[..., None] * (nxt_pts - poly)
    cand = np.stack([poly, cross_pts], axis=2).reshape(k, 2 * m, 2)
    keep = np.stack([valid & inside, crossing], axis=2).reshape(k, 2 * m)
    slot = np.cumsum(keep, axis=1) - 1
    keep &= slot < _MAX_VERTS
    out = np.zeros((k, _MAX_VERTS, 2))
    rows, cols = np.nonzero(keep)
    out[rows, slot[rows, cols]] = cand[rows, cols]
    return out, keep.sum(axis=1)


def _quad_area(quads: np.ndarray) -> np.ndarray:
    # the same padded width as a clipped polygon, so that a box clipped by itself sums
    # the same terms in the same order and identical boxes give an IoU of exactly 1
    poly = np.zeros((len(quads), _MAX_VERTS, 2))
    poly[:, :4] = quads
    return polygon_area(poly, np.full(len(quads), 4))


def convex_intersection_area(quads_a: np.ndarray, quads_b: np.ndarray) -> np.ndarray:
    """Intersection area of counter-clockwise convex quadrilaterals, pair by pair."""
    k = len(quads_a)
    poly = np.zeros((k, _MAX_VERTS, 2))
    poly[:, :4] = quads_a
    count = np.full(k, 4)
    for e in range(4):
        poly, count = _clip_half_plane(poly, count, quads_b[:, e], quads_b[:, (e + 1) % 4])
    return np.maximum(polygon_area(poly, count), 0.0)


def bev_parts(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray):
    """Ground-plane intersection areas of the pairs (a[ia], b[ib]) and the pairs' box areas.

    `a` and `b` are (N, 7) and (M, 7) boxes; only pairs whose bounding circles meet are
    clipped.
    """
    qa = bev_corners(a[:, 0], a[:, 2], a[:, 5], a[:, 4], a[:, 6])
    qb = bev_corners(b[:, 0], b[:, 2], b[:, 5], b[:, 4], b[:, 6])
    reach = 0.5 * (np.hypot(a[ia, 4], a[ia, 5]) + np.hypot(b[ib, 4], b[ib, 5]))
    near = np.hypot(a[ia, 0] - b[ib, 0], a[ia, 2] - b[ib, 2]) <= reach * (1 + 1e-9)
    inter = np.zeros(len(ia))
    if near.any():
        inter[near] = convex_intersection_area(qa[ia[near]], qb[ib[near]])
    return inter, _quad_area(qa)[ia], _quad_area(qb)[ib]


def bev_iou_pairs(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray,
                  parts: tuple | None = None) -> np.ndarray:
    """Rotated ground-plane IoU of the pairs (a[ia], b[ib]) of (N, 7) and (M, 7) boxes."""
    inter, area_a, area_b = parts if parts is not None else bev_parts(a, b, ia, ib)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=(inter > 0) & (union > 0))


def iou_3d_pairs(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray,
                 parts: tuple | None = None) -> np.ndarray:
    """3D IoU of the pairs (a[ia], b[ib]); `parts` reuses a `bev_parts` result."""
    inter_bev, area_a, area_b = parts if parts is not None else bev_parts(a, b, ia, ib)
    a, b = a[ia], b[ib]
    top_a, top_b = a[:, 1] - a[:, 3], b[:, 1] - b[:, 3]
    overlap_y = np.minimum(a[:, 1], b[:, 1]) - np.maximum(top_a, top_b)
    inter = np.where(overlap_y > 0, inter_bev * overlap_y, 0.0)
    union = area_a * (a[:, 1] - top_a) + area_b * (b[:, 1] - top_b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=(inter > 0) & (union > 0))


def rotated_iou_bev(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(N, M) bird's-eye-view IoU of (N, 7) and (M, 7) boxes ``[x, y, z, h, w, l, ry]``."""
    a, b = _as_boxes(boxes_a, 7), _as_boxes(boxes_b, 7)
    ia, ib = _all_pairs(len(a), len(b))
    return bev_iou_pairs(a, b, ia, ib).reshape(len(a), len(b))


def iou_3d(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(N, M) 3D IoU of (N, 7) and (M, 7) boxes ``[x, y, z, h, w, l, ry]``."""
    a, b = _as_boxes(boxes_a, 7), _as_boxes(boxes_b, 7)
    ia, ib = _all_pairs(len(a), len(b))
    return iou_3d_pairs(a, b, ia, ib).reshape(len(a), len(b))


def _as_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise MetricError(f"expected an (N, {width}) array of boxes, got shape {arr.shape}")
    return arr


def _all_pairs(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
