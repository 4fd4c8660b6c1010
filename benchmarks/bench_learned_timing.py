"""Per-image encode/decode time of learned codecs: transform and entropy coding apart.

    python benchmarks/bench_learned_timing.py [--device cpu|cuda] [--images 4] [--warmup 1]
        [--threads 1] [--archs bmshj2018-factorized mbt2018-mean ...] [--ci-icm-paper]
        [--json out.json]

Codes the first synthetic-coco val images (320x240, the demo's) with each codec through
its real path (compress -> packed bytes -> decompress -> 8-bit image), after `--warmup`
untimed items per codec and point (model loading, CDF tables, allocator, cuDNN choices).
Times come from the codecs' own `last_timing`: `encode_s` / `decode_s` (wall, including
entropy coding and serialisation), the part spent inside CompressAI's entropy models
(`*_entropy_s`, rANS on the CPU) and the rest (`*_transform_s`: the networks, on the
device). On a CUDA device the Timer synchronises at both ends and records CUDA events
(`*_gpu_ms`). Autoregressive models (mbt2018, cheng2020) code inside their context loop:
no split is reported for them. `--archs` adds CompressAI architectures at their paper
sizes with untrained weights (their transform times are representative; their entropy
times are not, since untrained latents have other statistics); `--ci-icm-paper` adds
CI-ICM's `paper` configuration with all four modules and with none (= ELIC), untrained,
for the complexity of the modules at the paper's size. Every row gives the network's
parameter count. CI-ICM decodes its plain output (one synthesis, as each task output is).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

KEYS = ("encode_s", "encode_transform_s", "encode_entropy_s", "encode_gpu_ms",
        "decode_s", "decode_transform_s", "decode_entropy_s", "decode_gpu_ms")


def committed_codecs(device: str) -> list[tuple[str, Any, list[Any]]]:
    """(label, codec, points) of the codecs whose weights are in the repository."""
    from bench.codecs.compressai_codec import CompressAICodec
    from bench.codecs.learned_baseline import DEFAULT_WEIGHTS, LearnedBaselineCodec
    from bench.types import RatePoint

    out = []
    if DEFAULT_WEIGHTS.is_file():
        points = [RatePoint("lambda", v) for v in (0.0025, 0.013, 0.068)]
        out.append(("learned-baseline", LearnedBaselineCodec(device=device), points))
    small = Path(__file__).resolve().parents[1] / "bench/models/weights/compressai-small"
    if small.is_dir():
        codec = CompressAICodec(model="bmshj2018-factorized", checkpoint_dir=str(small),
                                device=device)
        out.append(("compressai factorized-small", codec,
                    [RatePoint("quality", q) for q in (1, 6)]))
    from bench.codecs.ci_icm import CiIcmCodec, weights_path

    for name in ("ci-icm", "ci-icm-baseline"):
        if weights_path(name).is_file():
            out.append((name, CiIcmCodec(weights=name, device=device),
                        [RatePoint("level", 0), RatePoint("level", 4)]))
    return out


def untrained_ci_icm(modules: bool, device: str) -> tuple[str, Any, list[Any]]:
    """CI-ICM's `paper` configuration (all four modules, or none = ELIC), untrained."""
    import torch

    from bench.codecs.ci_icm import CiIcmCodec
    from bench.models.ci_icm import CiIcm, get_config
    from bench.types import RatePoint

    switches = {k: modules for k in ("cig", "fcgs", "ci_ctx", "tsca")}
    model = CiIcm(get_config("paper", rate_levels=5, **switches)).eval()
    with torch.no_grad():
        model.update(force=True)
    codec = CiIcmCodec(device=device)
    codec.attach_model(model.to(device))
    label = "ci-icm paper, all modules" if modules else "ci-icm paper, no modules (ELIC)"
    return f"{label} (untrained)", codec, [RatePoint("level", 0)]


def untrained_codec(arch: str, device: str) -> tuple[str, Any, list[Any]]:
    """A CompressAI architecture at its paper size (zoo quality 4 config), untrained."""
    import torch
    from compressai.zoo import image_models

    from bench.codecs.compressai_codec import ALIASES, CompressAICodec
    from bench.types import RatePoint

    name = ALIASES.get(arch, arch)
    if name in image_models:
        model = image_models[name](quality=4)
    else:
        from compressai.registry import MODELS

        model = MODELS[name]()
    model.eval()
    with torch.no_grad():
        model.update(force=True)
    codec = CompressAICodec(model=name, device=device)
    point = RatePoint("quality", 4)
    codec.use_model(point, model.to(device))
    return f"compressai {name} (untrained)", codec, [point]


def time_codec(codec: Any, points: list[Any], images: list[Any], warmup: int) -> list[dict]:
    """Median milliseconds of each timing key per point, and the bits per pixel."""
    rows = []
    for point in points:
        for img in images[:1] * warmup:
            codec.decode(codec.encode(img, point))
        samples: dict[str, list[float]] = {k: [] for k in KEYS}
        bits = pixels = 0
        for img in images:
            bs = codec.encode(img, point)
            enc = dict(codec.last_timing)
            codec.decode(bs)
            timing = {**enc, **{k: v for k, v in codec.last_timing.items() if k.startswith("decode")}}
            bits, pixels = bits + bs.bits, pixels + img.shape[0] * img.shape[1]
            for k in KEYS:
                if timing.get(k) is not None:
                    samples[k].append(timing[k] * (1 if k.endswith("_ms") else 1000))
        row = {"point": point.label, "bpp": round(bits / pixels, 4),
               "parameters": codec.parameter_count(point)}
        for k, v in samples.items():
            name = k.removesuffix("_s").removesuffix("_ms") + "_ms"
            name = name if not k.endswith("gpu_ms") else k
            row[name] = round(statistics.median(v), 2) if v else None
        rows.append(row)
    return rows


def markdown(results: list[dict], env: dict) -> str:
    cols = ["encode_ms", "encode_transform_ms", "encode_entropy_ms",
            "decode_ms", "decode_transform_ms", "decode_entropy_ms"]
    if env["device"].startswith("cuda"):
        cols += ["encode_gpu_ms", "decode_gpu_ms"]
    lines = [(f"device {env['device']} ({env.get('device_name', env.get('cpu', ''))}), "
              f"threads {env.get('threads')}, {env['images']} images {env['size']}, "
              f"warm-up {env['warmup']}; medians in ms"), "",
             "| codec | point | parameters | bpp | " + " | ".join(cols) + " |",
             "|---|---|---:|---|" + "---|" * len(cols)]
    for r in results:
        vals = ["-" if r.get(c) is None else f"{r[c]:.1f}" for c in cols]
        lines.append(f"| {r['codec']} | {r['point']} | {r['parameters']:,} | {r['bpp']:.3f} | "
                     + " | ".join(vals) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--archs", nargs="*", default=["bmshj2018-factorized", "mbt2018-mean"])
    ap.add_argument("--ci-icm-paper", action="store_true",
                    help="add CI-ICM's paper configuration, untrained, with and without modules")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from bench.datasets.images import render_synthetic
    from bench.timing import timing_env
    from bench.train.card import hardware

    torch.set_num_threads(args.threads)
    images = [render_synthetic(i) for i in range(args.images)]
    env = {**timing_env(args.device), "cpu": hardware()["cpu"], "images": args.images,
           "size": "320x240", "warmup": args.warmup, "torch": torch.__version__}
    codecs = committed_codecs(args.device) + [untrained_codec(a, args.device) for a in args.archs]
    if args.ci_icm_paper:
        codecs += [untrained_ci_icm(m, args.device) for m in (True, False)]
    results = []
    for label, codec, points in codecs:
        for row in time_codec(codec, points, images, args.warmup):
            results.append({"codec": label, **row})
            print(json.dumps(results[-1]), flush=True)
    print(markdown(results, env))
    if args.json:
        args.json.write_text(json.dumps({"env": env, "results": results}, indent=1))


if __name__ == "__main__":
    main()
