"""Ray casting of synthetic street scenes into one camera of a KITTI stereo rig.

Every pixel's ray is intersected with the ground plane and with each object's
boxes; the nearest hit is shaded from its world-anchored texture, so the two
views of a pair see the same surfaces from two centres and their disparity is
exact. The renderer also gives the depth map, which pixels each object covers
(visible) and would cover with nothing in front of it (silhouette).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bench.datasets.kitti_calib import box3d_corners, project_to_image
from bench.datasets.synthetic_kitti_scene import ROAD_HALF_WIDTH, SIDEWALK_OUTER, Scene

N_TEXTURES, TEXTURE_SIZE = 8, 128
HAZE = np.array([0.78, 0.8, 0.82])
GROUND_RANGE = 300.0


@lru_cache(maxsize=1)
def noise_textures() -> np.ndarray:
    """Tileable 1/f noise textures in [-1, 1], fixed for all scenes (N x S x S)."""
    rng = np.random.default_rng(20240601)
    f = np.fft.fftfreq(TEXTURE_SIZE)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    radius[0, 0] = 1.0
    out = []
    for _ in range(N_TEXTURES):
        spec = np.fft.fft2(rng.normal(size=(TEXTURE_SIZE, TEXTURE_SIZE))) / radius**1.1
        spec[0, 0] = 0.0
        tex = np.real(np.fft.ifft2(spec))
        out.append(tex / np.abs(tex).max())
    return np.stack(out)


def sample_noise(index: int, a: np.ndarray, b: np.ndarray, per_metre: float) -> np.ndarray:
    """Bilinear lookup of texture `index` at world coordinates (a, b) metres."""
    tex = noise_textures()[index % N_TEXTURES]
    s, t = a * per_metre, b * per_metre
    i0, j0 = np.floor(s), np.floor(t)
    fs, ft = s - i0, t - j0
    i0 = i0.astype(np.int64) % TEXTURE_SIZE
    j0 = j0.astype(np.int64) % TEXTURE_SIZE
    i1, j1 = (i0 + 1) % TEXTURE_SIZE, (j0 + 1) % TEXTURE_SIZE
    top = tex[i0, j0] * (1 - ft) + tex[i0, j1] * ft
    bottom = tex[i1, j0] * (1 - ft) + tex[i1, j1] * ft
    return top * (1 - fs) + bottom * fs


@dataclass
class Camera:
    """Rays of one view: centre and per-pixel directions with unit z."""

    centre: np.ndarray
    dirs: np.ndarray  # H x W x 3
    p: np.ndarray

    @classmethod
    def from_projection(cls, p: np.ndarray, width: int, height: int) -> Camera:
        m_inv = np.linalg.inv(p[:, :3])
        centre = -m_inv @ p[:, 3]
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        pix = np.stack([u, v, np.ones_like(u)], axis=-1)
        dirs = pix @ m_inv.T
        return cls(centre, dirs / dirs[..., 2:3], p)


@dataclass
class Render:
    rgb: np.ndarray  # H x W x 3 float in [0, 1]
    depth: np.ndarray  # H x W rect z, inf for the sky
    owner: np.ndarray  # H x W object index, -1 ground, -2 sky
    visible: np.ndarray  # pixels each object shows
    silhouette: np.ndarray  # pixels each object would show alone


def _window(obj, cam: Camera, shape: tuple[int, int]) -> tuple[slice, slice] | None:
    uv = project_to_image(box3d_corners(obj.dimensions, obj.location, obj.rotation_y), cam.p)
    h, w = shape
    u0, u1 = int(max(np.floor(uv[:, 0].min()), 0)), int(min(np.ceil(uv[:, 0].max()) + 1, w))
    v0, v1 = int(max(np.floor(uv[:, 1].min()), 0)), int(min(np.ceil(uv[:, 1].max()) + 1, h))
    if u0 >= u1 or v0 >= v1:
        return None
    return slice(v0, v1), slice(u0, u1)


def _hit_part(o_local: np.ndarray, d_local: np.ndarray, half: np.ndarray):
    """Slab test: entry distance (inf where missed) and the entry face axis."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - o_local) / d_local
        t2 = (half - o_local) / d_local
    near, far = np.fmin(t1, t2), np.fmax(t1, t2)
    t_in, t_out = near.max(axis=-1), far.min(axis=-1)
    hit = (t_out >= t_in) & (t_in > 0)
    return np.where(hit, t_in, np.inf), near.argmax(axis=-1)


def _shade_part(part, face: np.ndarray, sign: np.ndarray, pt: np.ndarray, dims) -> np.ndarray:
    """Colour of a part's surface at object-frame points `pt` (x, y up, z)."""
    x, y, z = pt[:, 0], pt[:, 1], pt[:, 2]
    h, w, l = dims
    a = np.where(face == 0, z, x)
    b = np.where(face == 1, z, y)
    n = sample_noise(part.texture, a + 3.1 * face, b, 8.0)
    col = part.colour[None, :] * (0.88 + 0.12 * n)[:, None]
    side, ends, top = face == 2, face == 0, face == 1
    mat = part.material
    if mat == "car_body":
        wheel_x = np.where(x > 0, l / 2 - 0.8, -l / 2 + 0.75)
        r = np.hypot(x - wheel_x, y - 0.33)
        col[side & (r < 0.33)] = 0.07
        col[side & (r < 0.16)] = 0.45
        light = ends & (y > 0.6 * part.y1) & (y < 0.85 * part.y1) & (np.abs(z) > 0.28 * w)
        col[light & (sign > 0)] = [0.95, 0.93, 0.75]
        col[light & (sign < 0)] = [0.75, 0.05, 0.05]
        col[ends & (np.abs(z) < 0.2 * w) & (y > 0.3 * part.y1) & (y < 0.45 * part.y1)] = 0.85
        col[~top & (y < 0.17)] *= 0.25
    elif mat == "car_cabin":
        in_x = (x > part.x0 + 0.12) & (x < part.x1 - 0.12)
        in_y = (y > part.y0 + 0.04) & (y < part.y1 - 0.07)
        glass = (side & in_x & in_y) | (ends & (np.abs(z) < part.z1 - 0.1) & in_y)
        col[glass] = (np.array([0.1, 0.13, 0.17]) * (1.0 + 0.5 * n[glass, None]))
    elif mat == "bike":
        wheel_x = np.where(x > 0, l / 2 - 0.35, -l / 2 + 0.35)
        r = np.hypot(x - wheel_x, y - 0.35)
        col[side & (r < 0.35) & (r > 0.27)] = 0.05
        col[side & (r <= 0.27)] *= 0.5
    elif mat == "building":
        win = (np.mod(a, 3.0) > 0.8) & (np.mod(a, 3.0) < 2.2) & (np.mod(y, 3.2) > 1.0) & (y > 1.0)
        col[win & ~top] = np.array([0.14, 0.16, 0.2]) * (1.0 + 0.4 * n[win & ~top, None])
    elif mat in ("foliage", "bark"):
        col = part.colour[None, :] * (0.7 + 0.5 * sample_noise(part.texture, a, b, 14.0))[:, None]
    return col


def _ground_colour(x: np.ndarray, z: np.ndarray, depth: np.ndarray, seed: int) -> np.ndarray:
    ax = np.abs(x)
    fade = np.exp(-depth / 35.0)
    n = sample_noise(seed, x, z, 10.0) * fade
    col = np.empty(x.shape + (3,))
    col[:] = np.array([0.33, 0.33, 0.34])
    col *= (1.0 + 0.3 * n)[:, None]
    dash = np.mod(z + seed % 9, 9.0) < 3.0
    marks = ((np.abs(ax - 1.75) < 0.08) & dash) | (np.abs(ax - (ROAD_HALF_WIDTH - 0.25)) < 0.08)
    col[marks] = 0.85
    walk = (ax >= ROAD_HALF_WIDTH) & (ax < SIDEWALK_OUTER)
    tiles = (np.mod(z, 1.0) < 0.04) | (np.mod(ax, 1.0) < 0.04)
    col[walk] = np.array([0.58, 0.56, 0.52]) * (1.0 + 0.2 * n[walk, None])
    col[walk & tiles] *= 0.8
    grass = ax >= SIDEWALK_OUTER
    col[grass] = np.array([0.32, 0.4, 0.2]) * (1.0 + 0.5 * n[grass, None])
    return col


def _sky(dirs: np.ndarray) -> np.ndarray:
    up = np.clip(-dirs[..., 1] * 2.5, 0, 1)[..., None]
    clouds = sample_noise(5, dirs[..., 0], dirs[..., 1], 30.0)[..., None]
    return HAZE * (1 - up) + np.array([0.45, 0.6, 0.88]) * up + 0.05 * clouds


def render_view(scene: Scene, p: np.ndarray, width: int, height: int) -> Render:
    """Ray-cast `scene` into the camera with projection `p` (a KITTI P2 or P3)."""
    cam = Camera.from_projection(np.asarray(p, dtype=np.float64), width, height)
    shape = (height, width)
    depth = np.full(shape, np.inf)
    owner = np.full(shape, -2, dtype=np.int64)
    part_of = np.full(shape, -1, dtype=np.int64)
    face_of = np.zeros(shape, dtype=np.int64)
    dy = cam.dirs[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = (scene.camera_height - cam.centre[1]) / dy
    ground = (dy > 0) & (t_ground < GROUND_RANGE)
    depth[ground] = cam.centre[2] + t_ground[ground]
    owner[ground] = -1
    n_obj = len(scene.objects)
    visible, silhouette = np.zeros(n_obj, np.int64), np.zeros(n_obj, np.int64)
    windows = [_window(o, cam, shape) for o in scene.objects]
    for k, (obj, win) in enumerate(zip(scene.objects, windows)):
        if win is None:
            continue
        rot = obj.rotation()
        o_obj = rot.T @ (cam.centre - obj.location)
        d_obj = cam.dirs[win] @ rot  # (R^T d) for every ray
        best = np.full(d_obj.shape[:2], np.inf)
        best_part = np.full(d_obj.shape[:2], -1)
        best_face = np.zeros(d_obj.shape[:2], dtype=np.int64)
        for j, part in enumerate(obj.parts):
            centre, half = part.centre_half()
            t, face = _hit_part(o_obj - centre, d_obj, half)
            closer = t < best
            best[closer], best_part[closer], best_face[closer] = t[closer], j, face[closer]
        z = cam.centre[2] + best * cam.dirs[win][..., 2]
        silhouette[k] = int(np.isfinite(best).sum())
        wins = z < depth[win]
        depth[win][wins] = z[wins]
        owner[win][wins] = k
        part_of[win][wins] = best_part[wins]
        face_of[win][wins] = best_face[wins]
    ids, counts = np.unique(owner[owner >= 0], return_counts=True)
    visible[ids] = counts
    rgb = _shade(scene, cam, depth, owner, part_of, face_of, windows)
    return Render(rgb, depth, owner, visible, silhouette)


def _contact_shadows(scene, cam, gx: np.ndarray, gz: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """A darkening factor on the ground under every object (1 elsewhere)."""
    factor = np.ones(ground.shape)
    h_img, w_img = ground.shape
    for obj in scene.objects:
        if obj.kind == "building":
            continue
        corners = obj.footprint(0.15)
        pts = np.stack([corners[:, 0], np.full(4, scene.camera_height), corners[:, 1]], axis=1)
        uv = project_to_image(pts, cam.p)
        u0, u1 = max(int(uv[:, 0].min()), 0), min(int(np.ceil(uv[:, 0].max())) + 1, w_img)
        v0, v1 = max(int(uv[:, 1].min()), 0), min(int(np.ceil(uv[:, 1].max())) + 1, h_img)
        if u0 >= u1 or v0 >= v1:
            continue
        rx, rz = gx[v0:v1, u0:u1] - obj.location[0], gz[v0:v1, u0:u1] - obj.location[2]
        c, s = np.cos(obj.rotation_y), np.sin(obj.rotation_y)
        lx, lz = c * rx - s * rz, s * rx + c * rz
        h, w, l = obj.dimensions
        under = (np.abs(lx) < l / 2 + 0.15) & (np.abs(lz) < w / 2 + 0.15) & ground[v0:v1, u0:u1]
        factor[v0:v1, u0:u1][under] = 0.45
    return factor


def _shade(scene, cam, depth, owner, part_of, face_of, windows) -> np.ndarray:
    rgb = _sky(cam.dirs)
    ground = owner == -1
    t = np.where(ground, depth - cam.centre[2], 0.0)
    gx, gz = cam.centre[0] + t * cam.dirs[..., 0], cam.centre[2] + t * cam.dirs[..., 2]
    light = 0.55 + 0.5 * max(0.0, float(-scene.sun[1]))
    shadow = _contact_shadows(scene, cam, gx, gz, ground)[ground]
    gcol = _ground_colour(gx[ground], gz[ground], depth[ground], scene.ground_seed) * light
    gcol *= shadow[:, None]
    rgb[ground] = gcol
    for k, (obj, win) in enumerate(zip(scene.objects, windows)):
        if win is None:
            continue
        mine = owner[win] == k
        if not mine.any():
            continue
        rot = obj.rotation()
        d = cam.dirs[win][mine]
        t = (depth[win][mine] - cam.centre[2]) / d[:, 2]
        pt = ((cam.centre + t[:, None] * d) - obj.location) @ rot  # object frame, y down
        pt[:, 1] *= -1.0
        parts, faces = part_of[win][mine], face_of[win][mine]
        d_obj = d @ rot
        sign = -np.sign(d_obj[np.arange(len(d)), faces])
        normal = np.zeros((len(d), 3))
        normal[np.arange(len(d)), faces] = sign
        lambert = np.clip((normal @ rot.T) @ scene.sun, 0.0, None)
        sign_up = np.where(faces == 1, -sign, sign)  # object frame y is up in `pt`
        col = np.empty((len(d), 3))
        for j, part in enumerate(obj.parts):
            sel = parts == j
            if sel.any():
                col[sel] = _shade_part(part, faces[sel], sign_up[sel], pt[sel], obj.dimensions)
        region = rgb[win]
        region[mine] = col * (0.5 + 0.6 * lambert)[:, None]
        rgb[win] = region
    finite = np.isfinite(depth)
    fog = np.exp(-depth[finite] / 250.0)[:, None]
    rgb[finite] = rgb[finite] * fog + HAZE * (1 - fog)
    return rgb
