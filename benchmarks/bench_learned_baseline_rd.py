"""RD points of the learned baseline against JPEG on the demo's images (for its model card).

    python benchmarks/bench_learned_baseline_rd.py [--weights PATH] [--images 24]
        [--lambdas 0.0025 0.0057 ...] [--json out.json]

The demo's images are synthetic-coco val 0..23 at 320x240 (rendered in memory, the same
pixels the demo codes). Curves follow the harness's conventions: bpp = all bits over all
pixels, PSNR = mean of per-image PSNR. Every curve goes through the codecs' real paths
(encode -> bytes -> decode). Anchors: `jpeg` (libjpeg via Pillow, 4:2:0, standard tables)
at the demo's qualities 10..90 and on a denser grid 5..95, and `mjpeg` (ffmpeg's MJPEG
encoder, the demo's former `jpeg`) at q 2..31. BD-rate (pchip; monotonic mode `auto` as in
the demo, i.e. strict for PSNR) on psnr_y and psnr_rgb; negative = fewer bits than the
anchor for the same quality. The learned baseline's points default to its trained lambdas.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ANCHORS = {  # name: (codec type, point kind, points)
    "jpeg_demo": ("jpeg", "quality", [10, 30, 50, 70, 90]),
    "jpeg_dense": ("jpeg", "quality", [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]),
    "mjpeg": ("mjpeg", "q", [2, 3, 4, 6, 8, 12, 16, 24, 31]),
}


def curve(images: list[np.ndarray], code: Callable[[np.ndarray], tuple[int, np.ndarray]]
          ) -> dict[str, float]:
    """One point: bpp over all pixels, mean per-image PSNR (RGB, Y)."""
    from bench.metrics.quality import psnr_rgb, psnr_y

    bits = pixels = 0
    rgb, luma = [], []
    for img in images:
        n_bits, rec = code(img)
        bits += n_bits
        pixels += img.shape[0] * img.shape[1]
        rgb.append(psnr_rgb(img, rec))
        luma.append(psnr_y(img, rec))
    return {"bpp": bits / pixels, "psnr_rgb": float(np.mean(rgb)), "psnr_y": float(np.mean(luma))}


def codec_coder(codec: Any, point: Any) -> Callable[[np.ndarray], tuple[int, np.ndarray]]:
    """encode -> bitstream bits, decode -> reconstruction."""
    def code(img: np.ndarray) -> tuple[int, np.ndarray]:
        bs = codec.encode(img, point)
        return bs.bits, codec.decode(bs)
    return code


def bd_table(test: list[dict], anchors: dict[str, list[dict]]) -> dict[str, Any]:
    """BD-rate (percent) and BD-quality (dB) of `test` against each anchor curve."""
    from bench.analysis.bd import bd_rate
    from bench.errors import AnalysisError

    out: dict[str, Any] = {}
    for name, anchor in anchors.items():
        for metric in ("psnr_y", "psnr_rgb"):
            try:
                res = bd_rate([p["bpp"] for p in anchor], [p[metric] for p in anchor],
                              [p["bpp"] for p in test], [p[metric] for p in test],
                              method="pchip", monotonic="auto")
                out[f"{name}/{metric}"] = {"bd_rate_percent": res.bd_rate_percent,
                                           "bd_quality_db": res.bd_quality}
            except AnalysisError as exc:
                out[f"{name}/{metric}"] = {"error": str(exc)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--lambdas", type=float, nargs="*", default=None)
    ap.add_argument("--anchors", nargs="*", default=list(ANCHORS))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from bench.codecs.learned_baseline import LearnedBaselineCodec
    from bench.datasets.images import render_synthetic
    from bench.registry import CODECS
    from bench.types import RatePoint

    torch.set_num_threads(1)
    images = [render_synthetic(i) for i in range(args.images)]
    baseline = LearnedBaselineCodec(weights=args.weights)
    lambdas = args.lambdas or baseline.trained_lambdas()
    result: dict[str, Any] = {"images": args.images, "learned_baseline": [
        {"lambda": v, **curve(images, codec_coder(baseline, RatePoint("lambda", v)))}
        for v in lambdas]}
    for name in args.anchors:
        kind, point_kind, points = ANCHORS[name]
        codec = CODECS.build(kind, {})
        result[name] = [
            {point_kind: q, **curve(images, codec_coder(codec, RatePoint(point_kind, q)))}
            for q in points]
    result["bd"] = bd_table(result["learned_baseline"], {n: result[n] for n in args.anchors})
    for name in ["learned_baseline", *args.anchors]:
        print(name)
        for p in result[name]:
            print("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                   for k, v in p.items()))
    print(json.dumps(result["bd"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
