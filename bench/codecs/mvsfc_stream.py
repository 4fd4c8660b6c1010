"""The joint bitstream of one MVSFC stereo pair: every byte the receiver needs.

Written with the project's learned-codec byte format (bench.codecs.learned_io): the
integers are the MVSFC format version, the rate point in thousandths (+1; 0 = a
single-rate model) and the original (H, W) of f0, f1 and f2; the strings are the
entropy-coded hyper-latents and latents (see MvsfcNet.compress for their order). The
rate point is quantised to thousandths before encoding (`quantize_rate`), so encoder and
decoder use the same gains.
"""

from __future__ import annotations

from typing import Any

from bench.codecs.learned_io import pack_streams, unpack_streams
from bench.errors import CodecError

FORMAT_VERSION = 1
RATE_SCALE = 1000


def quantize_rate(rate: float | None) -> float | None:
    """The rate point as the stream carries it (thousandths)."""
    return None if rate is None else round(float(rate) * RATE_SCALE) / RATE_SCALE


def to_bytes(compressed: dict[str, Any]) -> bytes:
    """Serialise MvsfcNet.compress's output."""
    rate = compressed.get("rate")
    code = 0 if rate is None else round(float(rate) * RATE_SCALE) + 1
    if code < 0:
        raise ValueError(f"negative rate point {rate}")
    sizes = [int(d) for hw in compressed["sizes"] for d in hw]
    return pack_streams([FORMAT_VERSION, code, *sizes], compressed["strings"])


def from_bytes(data: bytes) -> dict[str, Any]:
    """Inverse of to_bytes: {"strings", "sizes", "rate"}; ValueError for a bad stream."""
    try:
        ints, strings = unpack_streams(data)
    except CodecError as exc:
        raise ValueError(str(exc)) from None
    if len(ints) != 8 or ints[0] != FORMAT_VERSION:
        raise ValueError(f"not an MVSFC stream (format {ints[:1]}, {len(ints)} integers)")
    code, dims = ints[1], ints[2:]
    return {"strings": list(strings), "sizes": [tuple(dims[i:i + 2]) for i in (0, 2, 4)],
            "rate": None if code == 0 else (code - 1) / RATE_SCALE}
