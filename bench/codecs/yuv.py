"""RGB <-> YUV 4:2:0 through ffmpeg, raw YUV / Y4M files, and the VCM resolution scales.

This is the VCM VVC image-anchor recipe (ANCHORS.md): pad to even (or scale with the
anchor's filters, in RGB), RGB -> YUV 4:2:0 8-bit full range (BT.601 matrix, ffmpeg's
default for untagged RGB); after decoding, 4:2:0 (8 or 10 bit) full range -> RGB with
rounding, then crop the padding or scale back to the original size in RGB.

Two deliberate departures from the literal anchor commands, both checked against
ffmpeg 9: ``-dst_range 1`` / ``-src_range 1`` are silently ignored there (the output
comes out limited range), so full range is requested with ``-color_range pc``; and
swscale's default flags bias full-range chroma (a grey RGB -> YUV -> RGB round trip
lands 1-2 levels off) and its 8-bit full-range chroma output truncates (-0.5 level on
average), so every conversion uses ``SWS_FLAGS`` and RGB -> YUV is taken at 16 bit and
rounded to 8 bit here. Then grey round-trips exactly and both directions equal the
rounded BT.601 formula (to swscale's coefficient precision, about 0.1 level).

Cost: each ffmpeg call costs ~15-20 ms of CPU, mostly the binary's start-up. The
RGB -> 4:2:0 conversion of an image is a pure function of its pixels and the scale, so
its result is kept in a small per-process cache (a sweep codes each image at every rate
point); the decoders convert back to RGB in their own ffmpeg call
(`decoded_to_rgb_filter`), with the same swscale path as `yuv420_to_rgb` + `restore_size`
(bit-identical, tests/codecs/test_yuv.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from bench.codecs.base import run_tool
from bench.codecs.ffmpeg_bin import ffmpeg_args
from bench.errors import CodecError

SCALES = (100, 75, 50, 25)
SWS_FLAGS = "bicubic+accurate_rnd+full_chroma_int"
_SCALE_FILTERS = {
    100: "pad=ceil(iw/2)*2:ceil(ih/2)*2",
    75: "scale=ceil(iw*3/8)*2:ceil(ih*3/8)*2",
    50: "scale=ceil(iw/4)*2:ceil(ih/4)*2",
    25: "scale=ceil(iw/8)*2:ceil(ih/8)*2",
}


def scale_filter(scale: int) -> str:
    """The ffmpeg filter the VCM anchor applies before coding at `scale` percent."""
    if scale not in _SCALE_FILTERS:
        raise CodecError(f"scale must be one of {SCALES} (percent), got {scale!r}")
    return _SCALE_FILTERS[scale]


def scaled_size(width: int, height: int, scale: int) -> tuple[int, int]:
    """The (even) coded size `scale_filter(scale)` gives for a width x height image."""
    scale_filter(scale)
    return -(-width * scale // 200) * 2, -(-height * scale // 200) * 2


def check_rgb(image: object, what: str = "image") -> np.ndarray:
    """`image` as an H x W x 3 uint8 array; CodecError naming what is wrong otherwise."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise CodecError(f"{what} must be an H x W x 3 RGB array, got {shape}")
    if image.dtype != np.uint8:
        raise CodecError(f"{what} must be uint8, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise CodecError(f"{what} is empty: {image.shape}")
    return np.ascontiguousarray(image)


Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


class PlaneCache:
    """A least-recently-used cache of converted planes, bounded by their bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple, Planes] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> Planes | None:
        planes = self._entries.get(key)
        if planes is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return planes

    def put(self, key: tuple, planes: Planes) -> None:
        size = sum(p.nbytes for p in planes)
        if size > self.max_bytes or key in self._entries:
            return
        for p in planes:
            p.setflags(write=False)  # shared by every caller: never modified in place
        self._entries[key] = planes
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.bytes -= sum(p.nbytes for p in old)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def scratch_root() -> str:
    """Where codecs' temporary files go: $ICM_BENCH_SCRATCH, else /dev/shm when it is a
    writable RAM disk with room (creating and deleting folders on a journaled disk costs
    a few ms of wall time per call), else the system's temporary folder."""
    chosen = os.environ.get("ICM_BENCH_SCRATCH")
    if chosen:
        return chosen
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK) and st.f_bavail * st.f_frsize >= 2**30:
            return shm
    except OSError:
        pass
    return tempfile.gettempdir()


def scratch(prefix: str) -> tempfile.TemporaryDirectory:
    """A temporary folder for one codec call (removed afterwards), under `scratch_root()`."""
    return tempfile.TemporaryDirectory(prefix=prefix, dir=scratch_root())


# ICM_BENCH_YUV_CACHE_MB=0 turns the cache off.
CONVERSION_CACHE = PlaneCache(int(float(os.environ.get("ICM_BENCH_YUV_CACHE_MB", "64")) * 2**20))


def rgb_to_yuv420(
    rgb: np.ndarray, ffmpeg: str, scale: int | None = 100, timeout: float = 600.0
) -> Planes:
    """RGB -> scaled (or padded to even) 8-bit full-range YUV 4:2:0 planes (uint8), rounded.

    ffmpeg scales/pads, applies the matrix and subsamples chroma at 16 bit; the samples
    are rounded to 8 bit here (swscale's own 8-bit output truncates chroma). `scale`
    None keeps the size as it is (odd sides get ceil(side / 2) chroma samples). Results
    are cached per process by the image's SHA-256 (`CONVERSION_CACHE`); the planes
    returned are read-only.
    """
    rgb = check_rgb(rgb)
    if scale is not None:
        scale_filter(scale)
    key = (hashlib.sha256(rgb.data).hexdigest(), rgb.shape, scale)
    planes = CONVERSION_CACHE.get(key)
    if planes is None:
        planes = _rgb_to_yuv420(rgb, ffmpeg, scale, timeout)
        CONVERSION_CACHE.put(key, planes)
    return planes


def _rgb_to_yuv420(rgb: np.ndarray, ffmpeg: str, scale: int | None, timeout: float) -> Planes:
    height, width = rgb.shape[:2]
    with scratch("icm-yuv-") as tmp:
        src, dst = Path(tmp) / "in.rgb", Path(tmp) / "out.y4m"
        rgb.tofile(src)
        args = ffmpeg_args(
            ffmpeg, src, dst,
            {"f": "rawvideo", "pix_fmt": "rgb24", "s": f"{width}x{height}"},
            {"vf": "format=rgb24" if scale is None else f"{scale_filter(scale)},format=rgb24",
             "sws_flags": SWS_FLAGS,
             "pix_fmt": "yuv420p16le", "color_range": "pc", "strict": -1, "f": "yuv4mpegpipe"},
        )
        run_tool(args, timeout=timeout, what="ffmpeg RGB -> YUV 4:2:0")
        planes, bitdepth = read_y4m(dst)
    if len(planes) != 3 or bitdepth != 16:
        raise CodecError(f"ffmpeg gave {len(planes)} planes at {bitdepth} bit, not 4:2:0 16 bit")
    return full_range_16_to_8(*planes)


def full_range_16_to_8(
    y: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round ffmpeg's 16-bit full-range samples to 8 bit.

    ffmpeg's 16-bit full range is Y16 = 257 Y8 and C16 = 32768 + 257 (C8 - 128), so
    Y8 = floor(Y16 / 257 + 1/2) = (2 Y16 + 257) // 514 and
    C8 = floor((C16 - 32768) / 257 + 128 + 1/2) = (2 C16 + 513) // 514, in integers.
    """
    luma = (2 * y.astype(np.int64) + 257) // 514
    chroma = [(2 * c.astype(np.int64) + 513) // 514 for c in (u, v)]
    return tuple(np.clip(p, 0, 255).astype(np.uint8) for p in (luma, *chroma))


def yuv420_to_rgb(
    y: np.ndarray, u: np.ndarray, v: np.ndarray, ffmpeg: str, bitdepth: int = 10,
    timeout: float = 600.0,
) -> np.ndarray:
    """Full-range YUV 4:2:0 planes (8 or 10 bit) -> H x W x 3 uint8 RGB, rounded."""
    if bitdepth not in (8, 10):
        raise CodecError(f"bitdepth must be 8 or 10, got {bitdepth}")
    height, width = y.shape
    pix_fmt = "yuv420p" if bitdepth == 8 else "yuv420p10le"
    with scratch("icm-yuv-") as tmp:
        src, dst = Path(tmp) / "in.yuv", Path(tmp) / "out.rgb"
        write_yuv(src, (y, u, v), bitdepth)
        args = ffmpeg_args(
            ffmpeg, src, dst,
            {"f": "rawvideo", "pix_fmt": pix_fmt, "s": f"{width}x{height}", "color_range": "pc"},
            {"sws_flags": SWS_FLAGS, "pix_fmt": "rgb24", "f": "rawvideo"},
        )
        run_tool(args, timeout=timeout, what="ffmpeg YUV 4:2:0 -> RGB")
        data = np.fromfile(dst, dtype=np.uint8)
    if data.size != height * width * 3:
        raise CodecError(
            f"ffmpeg gave {data.size} RGB bytes for {width}x{height}, expected {height * width * 3}"
        )
    return data.reshape(height, width, 3)


def restore_size(
    rgb: np.ndarray, width: int, height: int, ffmpeg: str, scale: int | None = None,
    timeout: float = 600.0,
) -> np.ndarray:
    """Back to width x height: crop the padding (scale 100) or scale back in RGB (ffmpeg).

    With `scale` None it is inferred: a decoded size equal to the original padded to
    even means padding; any other size means a scaled picture.
    """
    rgb = check_rgb(rgb, "decoded image")
    h, w = rgb.shape[:2]
    if (h, w) == (height, width):
        return rgb
    padded_only = (h, w) == (height + height % 2, width + width % 2)
    if scale == 100 or (scale is None and padded_only):
        if h < height or w < width:
            raise CodecError(f"decoded {w}x{h} is smaller than the original {width}x{height}")
        return np.ascontiguousarray(rgb[:height, :width])
    with scratch("icm-yuv-") as tmp:
        src, dst = Path(tmp) / "in.rgb", Path(tmp) / "out.rgb"
        rgb.tofile(src)
        args = ffmpeg_args(
            ffmpeg, src, dst,
            {"f": "rawvideo", "pix_fmt": "rgb24", "s": f"{w}x{h}"},
            {"vf": f"scale={width}:{height}", "sws_flags": SWS_FLAGS, "pix_fmt": "rgb24",
             "f": "rawvideo"},
        )
        run_tool(args, timeout=timeout, what="ffmpeg scale back to the original size")
        data = np.fromfile(dst, dtype=np.uint8)
    if data.size != height * width * 3:
        raise CodecError(f"ffmpeg gave {data.size} RGB bytes, expected {height * width * 3}")
    return data.reshape(height, width, 3)


def decoded_to_rgb_filter(width: int, height: int, scale: int) -> str:
    """The filter a decoder's ffmpeg call applies to give RGB (run with `SWS_FLAGS`).

    Full-range 4:2:0 (whatever the stream signals) -> rgb24 with rounding; a picture
    coded at a reduced `scale` is scaled back to width x height in RGB, one at 100 %
    keeps its even padding (cropped by `crop_padding`). The same swscale conversions as
    `yuv420_to_rgb` then `restore_size`, in the decoder's process.
    """
    chain = "scale=in_range=full,format=rgb24"
    return chain if scale == 100 else f"{chain},scale={width}:{height}"


def decoded_rgb_size(width: int, height: int, scale: int) -> tuple[int, int]:
    """(width, height) of what `decoded_to_rgb_filter` gives: the padded size at 100 %."""
    scale_filter(scale)
    return (width + width % 2, height + height % 2) if scale == 100 else (width, height)


def read_rgb(path: str | Path, width: int, height: int, what: str = "ffmpeg") -> np.ndarray:
    """A raw rgb24 frame of width x height as H x W x 3 uint8; CodecError if the size differs."""
    data = np.fromfile(path, dtype=np.uint8)
    if data.size != height * width * 3:
        raise CodecError(
            f"{what} gave {data.size} RGB bytes, expected {height * width * 3} for {width}x{height}"
        )
    return data.reshape(height, width, 3)


def upshift(planes: tuple[np.ndarray, ...], bits: int = 2) -> tuple[np.ndarray, ...]:
    """8-bit samples to 8+bits bits by a left shift (what VTM does for InternalBitDepth 10)."""
    return tuple(p.astype(np.uint16) << bits for p in planes)


def write_yuv(path: str | Path, planes: tuple[np.ndarray, ...], bitdepth: int) -> None:
    """Write planes as one raw frame: uint8 samples, or 16-bit little-endian above 8 bit."""
    chunks = []
    for plane in planes:
        plane = np.asarray(plane)
        if plane.size and (plane.min() < 0 or plane.max() >= 1 << bitdepth):
            raise CodecError(
                f"YUV samples out of range for {bitdepth} bit: {plane.min()}..{plane.max()}"
            )
        chunks.append(plane.astype(np.uint8 if bitdepth <= 8 else "<u2").ravel())
    np.concatenate(chunks).tofile(path)


def _read_frame(path: str | Path, shapes: list[tuple[int, int]], bitdepth: int) -> list[np.ndarray]:
    dtype = np.dtype(np.uint8 if bitdepth <= 8 else "<u2")
    frame = sum(h * w for h, w in shapes) * dtype.itemsize
    path = Path(path)
    if not path.is_file():
        raise CodecError(f"YUV file {str(path)!r} does not exist")
    size = path.stat().st_size
    if size < frame or size % frame:
        raise CodecError(
            f"YUV file {str(path)!r} has {size} bytes, not a whole number of "
            f"{frame}-byte frames; check width, height and bit depth"
        )
    data = np.fromfile(path, dtype=dtype, count=frame // dtype.itemsize)
    planes, offset = [], 0
    for h, w in shapes:
        planes.append(data[offset:offset + h * w].reshape(h, w))
        offset += h * w
    return planes


def read_yuv420(
    path: str | Path, width: int, height: int, bitdepth: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first frame of a raw planar 4:2:0 file (uint8, or uint16 above 8 bit)."""
    cw, ch = -(-width // 2), -(-height // 2)
    y, u, v = _read_frame(path, [(height, width), (ch, cw), (ch, cw)], bitdepth)
    return y, u, v


def read_yuv400(path: str | Path, width: int, height: int, bitdepth: int) -> np.ndarray:
    """The first frame of a raw monochrome (4:0:0) file."""
    return _read_frame(path, [(height, width)], bitdepth)[0]


def read_y4m(path: str | Path) -> tuple[tuple[np.ndarray, ...], int]:
    """The first frame of a YUV4MPEG2 file (4:2:0 or mono, 8 to 16 bit) and its bit depth."""
    data = Path(path).read_bytes()
    end = data.find(b"\n")
    header = data[:end].decode("ascii", errors="replace").split()
    if end < 0 or not header or header[0] != "YUV4MPEG2":
        raise CodecError(f"{str(path)!r} is not a YUV4MPEG2 file")
    fields = {tok[0]: tok[1:] for tok in header[1:]}
    width, height = int(fields["W"]), int(fields["H"])
    colorspace = fields.get("C", "420jpeg")
    match = re.fullmatch(r"(420|mono)(?:p?(\d+))?(?:jpeg|mpeg2|paldv)?", colorspace)
    if not match:
        raise CodecError(f"{str(path)!r}: Y4M colour space C{colorspace} is not 4:2:0 or mono")
    bitdepth = int(match.group(2) or 8)
    shapes = [(height, width)]
    if match.group(1) == "420":
        shapes += [(-(-height // 2), -(-width // 2))] * 2
    start = data.find(b"\n", end + 1) + 1
    if not data[end + 1:start].startswith(b"FRAME"):
        raise CodecError(f"{str(path)!r} has no frame")
    dtype = np.dtype(np.uint8 if bitdepth <= 8 else "<u2")
    count = sum(h * w for h, w in shapes)
    if len(data) - start < count * dtype.itemsize:
        raise CodecError(f"{str(path)!r} is truncated: its first frame is incomplete")
    samples = np.frombuffer(data, dtype=dtype, count=count, offset=start)
    planes, offset = [], 0
    for h, w in shapes:
        planes.append(samples[offset:offset + h * w].reshape(h, w).copy())
        offset += h * w
    return tuple(planes), bitdepth
