"""RD points of the learned baseline against JPEG on the demo's images (for its model card).

    python benchmarks/bench_learned_baseline_rd.py [--weights PATH] [--images 24]
        [--lambdas 0.0018 0.0035 ...] [--json out.json]

The demo's images are synthetic-coco val 0..23 at 320x240 (rendered in memory, the same
pixels the demo codes). Curves follow the harness's conventions: bpp = all bits over all
pixels, PSNR = mean of per-image PSNR. Anchors: the harness's `jpeg` codec (ffmpeg mjpeg,
q 2..31, the demo's points) and Pillow/libjpeg at quality 5..95 (4:2:0, standard tables,
what issue 12 switches `jpeg` to). BD-rate (pchip, monotonic fit as in the demo) on
psnr_y and psnr_rgb; negative = fewer bits than the anchor for the same quality.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

DEMO_JPEG_POINTS = [2, 4, 8, 16, 31]
PILLOW_QUALITIES = [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]


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
    def code(img: np.ndarray) -> tuple[int, np.ndarray]:
        bs = codec.encode(img, point)
        return bs.bits, codec.decode(bs)
    return code


def pillow_coder(quality: int) -> Callable[[np.ndarray], tuple[int, np.ndarray]]:
    from PIL import Image

    def code(img: np.ndarray) -> tuple[int, np.ndarray]:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=quality)
        data = buf.getvalue()
        with Image.open(io.BytesIO(data)) as im:
            return 8 * len(data), np.asarray(im.convert("RGB"))
    return code


def bd_table(test: list[dict], anchors: dict[str, list[dict]]) -> dict[str, Any]:
    from bench.analysis.bd import bd_rate
    from bench.errors import AnalysisError

    out: dict[str, Any] = {}
    for name, anchor in anchors.items():
        for metric in ("psnr_y", "psnr_rgb"):
            try:
                res = bd_rate([p["bpp"] for p in anchor], [p[metric] for p in anchor],
                              [p["bpp"] for p in test], [p[metric] for p in test],
                              method="pchip", monotonic=True)
                out[f"{name}/{metric}"] = {"bd_rate_percent": res.bd_rate_percent,
                                           "bd_quality_db": res.bd_quality}
            except AnalysisError as exc:
                out[f"{name}/{metric}"] = {"error": str(exc)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--lambdas", type=float, nargs="*",
                    default=[0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932, 0.18])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from bench.codecs.ffmpeg import JpegCodec
    from bench.codecs.learned_baseline import LearnedBaselineCodec
    from bench.datasets.images import render_synthetic
    from bench.types import RatePoint

    torch.set_num_threads(1)
    images = [render_synthetic(i) for i in range(args.images)]
    baseline = LearnedBaselineCodec(weights=args.weights)
    test = [{"lambda": v, **curve(images, codec_coder(baseline, RatePoint("lambda", v)))}
            for v in args.lambdas]
    jpeg = JpegCodec()
    demo_jpeg = [{"q": q, **curve(images, codec_coder(jpeg, RatePoint("q", q)))}
                 for q in DEMO_JPEG_POINTS]
    pillow = [{"quality": q, **curve(images, pillow_coder(q))} for q in PILLOW_QUALITIES]
    result = {"images": args.images, "learned_baseline": test, "jpeg_ffmpeg_mjpeg": demo_jpeg,
              "jpeg_pillow": pillow,
              "bd": bd_table(test, {"jpeg_ffmpeg_mjpeg": demo_jpeg, "jpeg_pillow": pillow})}
    for name in ("learned_baseline", "jpeg_ffmpeg_mjpeg", "jpeg_pillow"):
        print(name)
        for p in result[name]:
            print("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                   for k, v in p.items()))
    print(json.dumps(result["bd"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
