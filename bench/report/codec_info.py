"""What each codec of a report is: implementation and settings, and the chroma it codes.

A codec that has them answers itself (`describe()`, `chroma`: the ffmpeg codecs, jpeg);
for the others the registry's help line and a table of known types stand in. Building
a codec object is cheap (no model loading, docs/contracts.md) and nothing is run.
"""

from __future__ import annotations

from typing import Any

from bench.report.sources import Curve, RunData
from bench.report.tables import Column, Table

LEARNED_CHROMA = "RGB, no chroma subsampling (learned transform)"
KNOWN_CHROMA = {
    "identity": "RGB 4:4:4, uncompressed",
    "vtm": "YCbCr 4:2:0 10-bit full range (BT.601 from 8-bit 4:2:0)",
    "compressai": LEARNED_CHROMA, "learned-baseline": LEARNED_CHROMA, "ci-icm": LEARNED_CHROMA,
    "sa-icm": LEARNED_CHROMA,
    "mfcnet": "features (FPN tensors)", "mvsfc": "features (stereo backbone tensors)",
}
PSNR_RGB_NOTE = (
    "PSNR-RGB compares the decoded RGB with the original RGB, so for codecs that code "
    "YCbCr 4:2:0 it includes the loss of the chroma subsampling itself: on the demo's "
    "synthetic images the 4:2:0 round trip alone (no coding) gives 31.9 dB PSNR-RGB and "
    "57.1 dB PSNR-Y. PSNR-Y measures the luma these codecs code.")


def describe_codec(ctype: str | None, params: dict[str, Any],
                   build_params: dict[str, Any] | None = None) -> tuple[str, str]:
    """(implementation and settings, chroma format) of a registered codec type.

    `params` are the output-determining options (shown when the codec cannot describe
    itself); `build_params` (runtime fields included) build it, default `params`.
    """
    from bench.registry import CODECS

    if not ctype:
        return "-", "-"
    try:
        codec = CODECS.build(ctype, dict(build_params if build_params is not None else params))
    except Exception:  # noqa: BLE001 - a plugin not installed here: fall back to the tables
        codec = None
    text = ""
    if codec is not None and callable(getattr(codec, "describe", None)):
        text = str(codec.describe())
    if not text:
        try:
            text = CODECS.help(ctype) or ctype
        except Exception:  # noqa: BLE001
            text = ctype
        settings = ", ".join(f"{k} {v}" for k, v in sorted((params or {}).items()))
        text = f"{text}; {settings}" if settings else text
    chroma = getattr(codec, "chroma", None) if codec is not None else None
    if not chroma and ctype == "feature-anchor":
        inner = (params or {}).get("inner", "vvenc")
        chroma = ("features in one 10-bit 4:0:0 frame" if inner == "vtm" else
                  "features in the luma of a 10-bit 4:2:0 frame (chroma 512, counted)")
    return text, str(chroma or KNOWN_CHROMA.get(ctype, "-"))


def codecs_table(runs: list[RunData], curves: list[Curve]) -> Table:
    """One row per curve: type, implementation and settings, chroma format, version."""
    table = Table([Column("codec"), Column("type"), Column("implementation and settings"),
                   Column("codes"), Column("version", latex=False)],
                  caption="Codecs: implementation, settings and the chroma format they code")
    for c in curves:
        desc = (runs[c.run_index].plan.get("codecs") or {}).get(c.codec) or {}
        text, chroma = describe_codec(c.type, desc.get("params") or {}, desc.get("build_params"))
        version = desc.get("version") or ((runs[c.run_index].provenance.get("codecs") or {})
                                          .get(c.codec)) or "-"
        table.rows.append([c.label, c.type or "-", text, chroma, version])
    return table
