"""Where MFCNet loses accuracy: the coded levels or the predicted P2.

    python -m bench.train.programs.mfcnet_diagnose [WEIGHTS] [--images 8]

On held-out synthetic-coco images (the training program's `holdout` split) it scores the
detector's head on:

- `decoded@i`: every level from the real bitstream of rate point i (P2 from FineNet);
- `keep-p2@i`: the same bitstream, but the original P2 (what the coded P3..P5 cost);
- `finenet(P3)`: P2 predicted by FineNet from the *original* P3, P3..P5 original (the
  accuracy a perfect P3 would give: the prediction's own ceiling);
- `upsample(P3)`: P2 = bilinear x2 of the original P3 (FineNet's base without its residual);
- `channel-mean`: P2 replaced by its per-channel means (no spatial information).

It also reports the share of ground-truth boxes whose RoI features come from P2 under
torchvision's level mapper (sqrt(area) < 112 pixels; canonical 224 at P4).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import torch
import torch.nn.functional as F


def _replace_p2(model: Any, feats: dict[str, Any], kind: str) -> dict[str, Any]:
    from bench.models.mfcnet.normalise import denormalise, joint_range, normalise

    p2, p3 = torch.from_numpy(feats["p2"]), torch.from_numpy(feats["p3"])
    lo, hi = joint_range([p2, p3])
    coarse = normalise(p3, lo, hi)[None]
    with torch.no_grad():
        if kind == "finenet(P3)":
            pred = model.finenet(coarse).clamp(0, 1)
        elif kind == "upsample(P3)":
            pred = F.interpolate(coarse, scale_factor=2.0, mode="bilinear", align_corners=False)
        else:
            pred = normalise(p2, lo, hi).mean((-2, -1), keepdim=True).expand(1, *p2.shape)
    pred = pred[0, :, :p2.shape[-2], :p2.shape[-1]]
    return {**feats, "p2": denormalise(pred, lo, hi).numpy()}


def p2_share(dataset: Any) -> float:
    """Share of ground-truth boxes pooled from P2 (sqrt(w h) < 112 px)."""
    coco = dataset.coco()
    ids = {int(i) for i in dataset.ids()}
    sizes = [math.sqrt(a["bbox"][2] * a["bbox"][3]) for a in coco.dataset["annotations"]
             if a["image_id"] in ids]
    return sum(s < 112 for s in sizes) / len(sizes) if sizes else math.nan


def diagnose(weights: str | None = None, images: int = 8,
             data_root: str = "datasets") -> dict[str, dict[str, float]]:
    """{row name: {"bpp", "bbox/AP", "segm/AP"}} for the rows of the module docstring;
    `weights` defaults to the committed mfcnet-small.pt."""
    from pathlib import Path

    from bench.codecs.mfcnet import DEFAULT_WEIGHTS, WEIGHTS_DIR
    from bench.models.mfcnet.weights import load_mfcnet
    from bench.train.programs.mfcnet_eval import code_features, head_ap, load_holdout

    model = load_mfcnet(Path(weights) if weights else WEIGHTS_DIR / DEFAULT_WEIGHTS["mfcnet"])
    cache = load_holdout(images, data_root, None)
    feats = cache["feats"]
    pixels = sum(s.image.shape[0] * s.image.shape[1] for s in cache["samples"])
    rows = {"original": {"bpp": math.nan, **head_ap(cache, feats)}}
    for i in range(model.config.n_rates):
        total, recs = code_features(model, feats, i)  # one bitstream per image, scored twice
        bpp = total * 8 / pixels
        rows[f"decoded@{i}"] = {"bpp": bpp, **head_ap(cache, recs)}
        kept = [{**r, "p2": f["p2"]} for r, f in zip(recs, feats)]
        rows[f"keep-p2@{i}"] = {"bpp": bpp, **head_ap(cache, kept)}
    for kind in ("finenet(P3)", "upsample(P3)", "channel-mean"):
        rows[kind] = {"bpp": math.nan,
                      **head_ap(cache, [_replace_p2(model, f, kind) for f in feats])}
    rows["p2-share"] = {"share": p2_share(cache["dataset"])}
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("weights", nargs="?", help="default: the committed mfcnet-small.pt")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--data-root", default="datasets")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = diagnose(args.weights, args.images, args.data_root)
    share = rows.pop("p2-share")["share"]
    print(f"{args.images} holdout images; boxes pooled from P2: {share:.1%}")
    print("| features | bpp | bbox AP (%) | segm AP (%) |\n|---|---:|---:|---:|")
    for name, r in rows.items():
        bpp = "-" if math.isnan(r["bpp"]) else f"{r['bpp']:.4f}"
        print(f"| {name} | {bpp} | {100 * r['bbox/AP']:.1f} | {100 * r['segm/AP']:.1f} |")


if __name__ == "__main__":
    main()
