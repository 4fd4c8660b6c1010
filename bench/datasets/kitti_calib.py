"""KITTI object calibration files and the geometry of labelled 3D boxes.

Coordinates follow the KITTI object devkit: labels live in the rectified
reference camera frame (x right, y down, z forward, metres); a label's
``location`` is the bottom centre of the box, ``dimensions`` are (h, w, l) and
``rotation_y`` turns the box about the y axis (0: length along +x). P2 / P3
project rectified points into image_2 (left) / image_3 (right).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DatasetError

CALIB_KEYS = ("P0", "P1", "P2", "P3", "R0_rect", "Tr_velo_to_cam", "Tr_imu_to_velo")
REQUIRED_KEYS = ("P2", "P3", "R0_rect", "Tr_velo_to_cam")
_SHAPES = {"R0_rect": (3, 3)}


def parse_calib(text: str, source: str = "calib") -> dict[str, np.ndarray]:
    """Parse a KITTI calib file's text into float64 matrices (P*: 3x4, R0_rect: 3x3, Tr_*: 3x4)."""
    calib: dict[str, np.ndarray] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, values = line.partition(":")
        if not sep:
            raise DatasetError(f"{source}: line {line_no} has no 'key:' prefix: {line[:60]!r}")
        key = key.strip()
        try:
            numbers = np.array([float(v) for v in values.split()], dtype=np.float64)
        except ValueError as exc:
            raise DatasetError(f"{source}: line {line_no} ({key}) has a non-number: {exc}") from exc
        shape = _SHAPES.get(key, (3, 4))
        if numbers.size != shape[0] * shape[1]:
            raise DatasetError(
                f"{source}: {key} has {numbers.size} numbers, expected {shape[0] * shape[1]}"
            )
        calib[key] = numbers.reshape(shape)
    missing = [k for k in REQUIRED_KEYS if k not in calib]
    if missing:
        raise DatasetError(f"{source}: missing {', '.join(missing)} (a KITTI object calib file)")
    return calib


def read_calib(path: str | Path) -> dict[str, np.ndarray]:
    """Read a KITTI object calib file; DatasetError naming the file when it is absent or bad."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DatasetError(f"cannot read calibration file {str(path)!r}: {exc.strerror}") from exc
    return parse_calib(text, source=str(path))


def format_calib(calib: dict[str, Any]) -> str:
    """The text of a KITTI calib file (keys in devkit order; those present only)."""
    lines = []
    for key in CALIB_KEYS:
        if key in calib:
            values = np.asarray(calib[key], dtype=np.float64).ravel()
            lines.append(key + ": " + " ".join(f"{v:.12e}" for v in values))
    return "\n".join(lines) + "\n"


def write_calib(path: str | Path, calib: dict[str, Any]) -> None:
    """Write a KITTI calib file."""
    Path(path).write_text(format_calib(calib))


def stereo_baseline(calib: dict[str, Any]) -> float:
    """Distance in metres between the optical centres of image_2 and image_3."""
    p2, p3 = np.asarray(calib["P2"]), np.asarray(calib["P3"])
    return float((p2[0, 3] - p3[0, 3]) / p2[0, 0])


def box3d_corners(dimensions: Any, location: Any, rotation_y: float) -> np.ndarray:
    """The 8 corners (8 x 3, rect camera frame) of one KITTI box; 0-3 bottom, 4-7 top."""
    h, w, l = (float(v) for v in dimensions)
    x = np.array([l, l, -l, -l, l, l, -l, -l]) / 2.0
    y = np.array([0, 0, 0, 0, -h, -h, -h, -h], dtype=np.float64)
    z = np.array([w, -w, -w, w, w, -w, -w, w]) / 2.0
    c, s = np.cos(rotation_y), np.sin(rotation_y)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return (rot @ np.stack([x, y, z])).T + np.asarray(location, dtype=np.float64)


def project_to_image(points: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Project N x 3 rect-camera points with a 3x4 matrix; N x 2 pixel coordinates."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    hom = np.hstack([pts, np.ones((len(pts), 1))]) @ np.asarray(p, dtype=np.float64).T
    return hom[:, :2] / hom[:, 2:3]


def unproject(u: np.ndarray, v: np.ndarray, depth: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Rect-camera points (N x 3) at camera depth `depth` (rect z) that `p` maps to (u, v)."""
    p = np.asarray(p, dtype=np.float64)
    u, v, z = (np.asarray(a, dtype=np.float64).ravel() for a in (u, v, depth))
    # u * (p2 . X) = p0 . X and v * (p2 . X) = p1 . X, with X = (x, y, z, 1) and z known.
    a11 = p[0, 0] - u * p[2, 0]
    a12 = p[0, 1] - u * p[2, 1]
    a21 = p[1, 0] - v * p[2, 0]
    a22 = p[1, 1] - v * p[2, 1]
    b1 = (u * p[2, 2] - p[0, 2]) * z + u * p[2, 3] - p[0, 3]
    b2 = (v * p[2, 2] - p[1, 2]) * z + v * p[2, 3] - p[1, 3]
    det = a11 * a22 - a12 * a21
    x = (b1 * a22 - a12 * b2) / det
    y = (a11 * b2 - a21 * b1) / det
    return np.stack([x, y, z], axis=1)


def box2d_from_box3d(
    dimensions: Any, location: Any, rotation_y: float, p: np.ndarray,
    image_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The 2D box (x1, y1, x2, y2) around a 3D box's projection, clipped to (width, height)."""
    uv = project_to_image(box3d_corners(dimensions, location, rotation_y), p)
    box = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
    if image_size is not None:
        w, h = image_size
        box = np.clip(box, [0, 0, 0, 0], [w - 1, h - 1, w - 1, h - 1])
    return box


def alpha_from_rotation_y(rotation_y: Any, x: Any, z: Any) -> Any:
    """Observation angle alpha = rotation_y - atan2(x, z), wrapped to [-pi, pi)."""
    return wrap_angle(np.asarray(rotation_y) - np.arctan2(x, z))


def rotation_y_from_alpha(alpha: Any, x: Any, z: Any) -> Any:
    """rotation_y = alpha + atan2(x, z), wrapped to [-pi, pi)."""
    return wrap_angle(np.asarray(alpha) + np.arctan2(x, z))


def wrap_angle(angle: Any) -> Any:
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def velo_to_rect(points: np.ndarray, calib: dict[str, Any]) -> np.ndarray:
    """Velodyne points (N x 3) into the rectified camera frame: R0_rect @ Tr_velo_to_cam."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    cam = np.hstack([pts, np.ones((len(pts), 1))]) @ np.asarray(calib["Tr_velo_to_cam"]).T
    return cam @ np.asarray(calib["R0_rect"]).T


def scale_projection(p: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """A projection matrix for the image resized by (sx, sy) (pixel centres kept aligned)."""
    s = np.diag([sx, sy, 1.0])
    shift = np.array([[1, 0, 0.5 * sx - 0.5], [0, 1, 0.5 * sy - 0.5], [0, 0, 1]])
    return shift @ s @ np.asarray(p, dtype=np.float64)
