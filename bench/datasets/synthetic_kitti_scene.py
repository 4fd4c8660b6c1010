"""Random street scenes for the synthetic KITTI generator: objects as sets of boxes.

A scene is a flat ground plane seen from a camera `camera_height` metres above it,
with cars, pedestrians and cyclists (labelled) and buildings, poles and trees
(not labelled) placed without overlap. Every object is built from axis-aligned
parts in its own frame (x along its length, y up from the ground, z across),
so a car has a body and a cabin and a cyclist a bicycle and a rider; the label
box is the box around all parts. Frames follow the KITTI object devkit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# KITTI training-set statistics of (h, w, l) in metres: means and spreads.
CLASS_DIMS = {
    "Car": ((1.53, 1.63, 3.88), (0.10, 0.08, 0.30)),
    "Pedestrian": ((1.76, 0.66, 0.84), (0.09, 0.08, 0.15)),
    "Cyclist": ((1.74, 0.60, 1.76), (0.08, 0.06, 0.12)),
}
LANE_WIDTH = 3.5
ROAD_HALF_WIDTH = 5.25
SIDEWALK_OUTER = 8.5
MIN_DEPTH, MAX_DEPTH, DONTCARE_DEPTH = 5.0, 60.0, 80.0

CAR_COLOURS = np.array([
    [235, 235, 232], [180, 182, 186], [40, 40, 45], [150, 25, 25], [30, 60, 140],
    [110, 112, 118], [30, 80, 50], [200, 170, 90], [90, 20, 40], [210, 120, 30],
], dtype=np.float64) / 255.0
CLOTH_COLOURS = np.array([
    [30, 30, 35], [60, 70, 120], [150, 30, 30], [200, 200, 190], [70, 90, 60],
    [180, 140, 60], [90, 60, 40], [40, 100, 150], [120, 120, 125],
], dtype=np.float64) / 255.0


@dataclass
class Part:
    """One box of an object: extents in the object frame (y up) and its material."""

    x0: float
    x1: float
    y0: float
    y1: float
    z0: float
    z1: float
    material: str
    colour: np.ndarray
    texture: int = 0

    def centre_half(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre in the object's KITTI frame (y down) and half extents."""
        centre = np.array([(self.x0 + self.x1) / 2, -(self.y0 + self.y1) / 2,
                           (self.z0 + self.z1) / 2])
        half = np.array([(self.x1 - self.x0) / 2, (self.y1 - self.y0) / 2, (self.z1 - self.z0) / 2])
        return centre, half


@dataclass
class SceneObject:
    """A placed object: `kind` is a KITTI class or a background kind."""

    kind: str
    dimensions: np.ndarray  # h, w, l
    location: np.ndarray  # bottom centre, rect camera frame
    rotation_y: float
    parts: list[Part] = field(default_factory=list)
    labelled: bool = False
    dontcare: bool = False

    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.rotation_y), np.sin(self.rotation_y)
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])

    def footprint(self, margin: float = 0.0) -> np.ndarray:
        """The 4 ground corners (x, z) of the box grown by `margin`."""
        h, w, l = self.dimensions
        lx, wz = l / 2 + margin, w / 2 + margin
        local = np.array([[lx, wz], [lx, -wz], [-lx, -wz], [-lx, wz]])
        c, s = np.cos(self.rotation_y), np.sin(self.rotation_y)
        x = c * local[:, 0] + s * local[:, 1]
        z = -s * local[:, 0] + c * local[:, 1]
        return np.stack([x + self.location[0], z + self.location[2]], axis=1)


@dataclass
class Scene:
    camera_height: float
    objects: list[SceneObject]
    sun: np.ndarray
    ground_seed: int


def _dims(rng: np.random.Generator, kind: str) -> np.ndarray:
    mean, std = CLASS_DIMS[kind]
    d = rng.normal(mean, std)
    return np.clip(d, np.array(mean) - 2.5 * np.array(std), np.array(mean) + 2.5 * np.array(std))


def car_parts(rng: np.random.Generator, h: float, w: float, l: float) -> list[Part]:
    colour = CAR_COLOURS[rng.integers(len(CAR_COLOURS))] * rng.uniform(0.85, 1.1)
    body_h = h * rng.uniform(0.5, 0.6)
    front = l / 2 - l * rng.uniform(0.22, 0.3)
    back = -l / 2 + l * rng.uniform(0.12, 0.2)
    tex = int(rng.integers(8))
    return [
        Part(-l / 2, l / 2, 0.0, body_h, -w / 2, w / 2, "car_body", colour, tex),
        Part(back, front, body_h, h, -w * 0.45, w * 0.45, "car_cabin", colour, tex),
    ]


def pedestrian_parts(rng: np.random.Generator, h: float, w: float, l: float) -> list[Part]:
    shirt = CLOTH_COLOURS[rng.integers(len(CLOTH_COLOURS))]
    pants = CLOTH_COLOURS[rng.integers(len(CLOTH_COLOURS))] * 0.8
    skin = np.array([0.85, 0.65, 0.5]) * rng.uniform(0.5, 1.05)
    leg_h, head_h = h * 0.47, h * 0.13
    tex = int(rng.integers(8))
    return [
        Part(-l * 0.3, l * 0.3, 0.0, leg_h, -w * 0.35, w * 0.35, "cloth", pants, tex),
        Part(-l * 0.35, l * 0.35, leg_h, h - head_h, -w / 2, w / 2, "cloth", shirt, tex),
        Part(-l * 0.2, l * 0.2, h - head_h, h, -w * 0.2, w * 0.2, "skin", skin, tex),
    ]


def cyclist_parts(rng: np.random.Generator, h: float, w: float, l: float) -> list[Part]:
    frame = CAR_COLOURS[rng.integers(len(CAR_COLOURS))]
    shirt = CLOTH_COLOURS[rng.integers(len(CLOTH_COLOURS))]
    skin = np.array([0.85, 0.65, 0.5]) * rng.uniform(0.5, 1.05)
    bike_h, head_h = h * 0.55, h * 0.13
    tex = int(rng.integers(8))
    return [
        Part(-l / 2, l / 2, 0.0, bike_h, -w * 0.2, w * 0.2, "bike", frame, tex),
        Part(-l * 0.25, l * 0.1, bike_h, h - head_h, -w / 2, w / 2, "cloth", shirt, tex),
        Part(-l * 0.15, l * 0.05, h - head_h, h, -w * 0.2, w * 0.2, "skin", skin, tex),
    ]


PART_BUILDERS = {"Car": car_parts, "Pedestrian": pedestrian_parts, "Cyclist": cyclist_parts}


def _overlaps(candidate: SceneObject, placed: list[SceneObject], margin: float) -> bool:
    from shapely.geometry import Polygon

    poly = Polygon(candidate.footprint(margin))
    return any(poly.intersects(Polygon(o.footprint(margin))) for o in placed)


def _place(rng, kind: str, x: float, z: float, ry: float, ground: float,
           placed: list[SceneObject], labelled: bool = True) -> bool:
    h, w, l = _dims(rng, kind)
    obj = SceneObject(kind, np.array([h, w, l]), np.array([x, ground, z]), float(ry),
                      PART_BUILDERS[kind](rng, h, w, l), labelled=labelled)
    if _overlaps(obj, placed, 0.3):
        return False
    placed.append(obj)
    return True


def _traffic(rng: np.random.Generator, ground: float, placed: list[SceneObject]) -> None:
    """Cars in lanes and parked, pedestrians on sidewalks and crossing, cyclists at the kerb."""
    lanes = [-LANE_WIDTH, 0.0, LANE_WIDTH]
    for _ in range(int(rng.poisson(4.0)) + 1):
        lane = lanes[int(rng.integers(3))]
        ry = -np.pi / 2 if (lane >= 0 or rng.random() < 0.3) else np.pi / 2
        _place(rng, "Car", lane + rng.normal(0, 0.35), rng.uniform(MIN_DEPTH + 1, MAX_DEPTH),
               ry + rng.normal(0, 0.08), ground, placed)
    for _ in range(int(rng.poisson(2.5))):
        side = rng.choice([-1.0, 1.0])
        if rng.random() < 0.75:
            x = side * (ROAD_HALF_WIDTH - 1.0)
            ry = rng.choice([-np.pi / 2, np.pi / 2]) + rng.normal(0, 0.1)
        else:  # angled parking
            x, ry = side * (ROAD_HALF_WIDTH + 1.2), rng.uniform(-np.pi, np.pi)
        _place(rng, "Car", x + rng.normal(0, 0.2), rng.uniform(MIN_DEPTH, MAX_DEPTH), ry, ground,
               placed)
    if rng.random() < 0.25:  # a car crossing
        _place(rng, "Car", rng.uniform(-4, 4), rng.uniform(12, MAX_DEPTH),
               rng.choice([0.0, np.pi]) + rng.normal(0, 0.15), ground, placed)
    for _ in range(int(rng.poisson(2.0))):
        side = rng.choice([-1.0, 1.0])
        on_road = rng.random() < 0.2
        if on_road:
            x = rng.uniform(-4.5, 4.5)
        else:
            x = side * rng.uniform(ROAD_HALF_WIDTH + 0.5, SIDEWALK_OUTER)
        _place(rng, "Pedestrian", x, rng.uniform(MIN_DEPTH, 45.0), rng.uniform(-np.pi, np.pi),
               ground, placed)
    for _ in range(int(rng.poisson(1.0))):
        side = rng.choice([-1.0, 1.0])
        ry = -np.pi / 2 if side > 0 else np.pi / 2
        if rng.random() < 0.3:
            ry = rng.uniform(-np.pi, np.pi)
        _place(rng, "Cyclist", side * rng.uniform(3.5, 4.8), rng.uniform(MIN_DEPTH, 50.0),
               ry + rng.normal(0, 0.1), ground, placed)
    for _ in range(int(rng.integers(0, 3))):  # far traffic: labelled DontCare
        n = len(placed)
        if _place(rng, "Car", rng.uniform(-5, 5), rng.uniform(MAX_DEPTH + 3, DONTCARE_DEPTH),
                  rng.choice([-np.pi / 2, np.pi / 2]), ground, placed, labelled=False):
            placed[n].dontcare = True


def _static(rng: np.random.Generator, ground: float, placed: list[SceneObject]) -> None:
    """Buildings beyond the sidewalks, poles and trees on them (never labelled)."""
    for side in (-1.0, 1.0):
        z = rng.uniform(-2.0, 6.0)
        while z < 110.0:
            depth, length = rng.uniform(6, 14), rng.uniform(8, 30)
            if rng.random() < 0.8:
                x = side * (SIDEWALK_OUTER + 0.5 + rng.uniform(0, 6) + depth / 2)
                height = rng.uniform(4, 16)
                colour = rng.uniform(0.35, 0.85, 3) * np.array([1.0, 0.95, 0.88])
                part = Part(-length / 2, length / 2, 0.0, height, -depth / 2, depth / 2,
                            "building", colour, int(rng.integers(8)))
                placed.append(SceneObject("building", np.array([height, depth, length]),
                                          np.array([x, ground, z + length / 2]), 0.0, [part]))
            z += length + rng.uniform(0, 8)
    for _ in range(int(rng.poisson(5.0))):
        side = rng.choice([-1.0, 1.0])
        x, z = side * rng.uniform(ROAD_HALF_WIDTH + 0.4, SIDEWALK_OUTER), rng.uniform(4.0, 80.0)
        if rng.random() < 0.5:
            height = rng.uniform(3, 7)
            grey = np.array([0.5, 0.5, 0.52])
            parts = [Part(-0.08, 0.08, 0.0, height, -0.08, 0.08, "pole", grey)]
            dims = np.array([height, 0.16, 0.16])
        else:
            trunk, crown = rng.uniform(1.8, 3.0), rng.uniform(1.5, 3.5)
            green = np.array([0.2, 0.45, 0.15]) * rng.uniform(0.7, 1.2)
            brown = np.array([0.35, 0.25, 0.15])
            parts = [Part(-0.15, 0.15, 0.0, trunk, -0.15, 0.15, "bark", brown),
                     Part(-crown / 2, crown / 2, trunk, trunk + crown, -crown / 2, crown / 2,
                          "foliage", green, int(rng.integers(8)))]
            dims = np.array([trunk + crown, crown, crown])
        obj = SceneObject("static", dims, np.array([x, ground, z]), float(rng.uniform(0, np.pi)),
                          parts)
        if not _overlaps(obj, placed, 0.2):
            placed.append(obj)


def sample_scene(rng: np.random.Generator) -> Scene:
    """One random street scene."""
    ground = float(rng.uniform(1.55, 1.75))
    placed: list[SceneObject] = []
    _traffic(rng, ground, placed)
    _static(rng, ground, placed)
    azimuth, elevation = rng.uniform(-np.pi, np.pi), rng.uniform(0.4, 1.1)
    sun = np.array([np.cos(elevation) * np.sin(azimuth), -np.sin(elevation),
                    np.cos(elevation) * np.cos(azimuth)])
    return Scene(ground, placed, sun, int(rng.integers(2**31)))
