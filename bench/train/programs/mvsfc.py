"""Training program `mvsfc`: MVSFC-Net against the frozen stereo 3D detector.

Data: the synthetic KITTI training split rendered at 621 x 188 (the detector's input
size), held in memory, sampled as random column crops with the detector's photometric
jitter (bench.train.stereo3d). Per step: the frozen backbone gives f0..f2 of both
views, MVSFC codes them (additive noise on y for the likelihoods; the decoder sees y
rounded around the predicted mean with a straight-through gradient, or noise), the
frozen head runs on the decoded features, and the loss is the detector's losses plus
sigma(rate) * (bpp_L + bpp_R), one rate point drawn per batch item (gain units). The
evaluation codes held-out frames for real (compress/decompress, byte counts).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.train.program import TrainProgram

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "models" / "weights"
KEYS = {"AP3D": "Car/3d/moderate/R40", "APBEV": "Car/bev/moderate/R40"}


def code_features(net: Any, feats: dict[str, Any], rate: float | None
                  ) -> tuple[bytes, dict[str, Any], float, float]:
    """One pair through real coding: (bytes, decoded features, encode s, decode s)."""
    from bench.codecs.mvsfc_stream import from_bytes, quantize_rate, to_bytes
    from bench.models.mvsfc.training import join_views, split_views

    left, right = split_views(feats)
    t0 = time.perf_counter()
    data = to_bytes(net.compress(left, right, rate=quantize_rate(rate)))
    t1 = time.perf_counter()
    dec = net.decompress(**from_bytes(data))
    t2 = time.perf_counter()
    return data, join_views(dec["left"], dec["right"]), t1 - t0, t2 - t1


def _kitti(dataset: Any, preds: dict[str, list]) -> dict[str, float]:
    from bench.metrics.kitti import flatten_kitti, kitti_evaluate
    from bench.models.stereo3d_decode import detections_to_anno

    ids = list(preds)
    flat = flatten_kitti(kitti_evaluate(dataset.label_annos(ids),
                                        [detections_to_anno(preds[i]) for i in ids]))
    return {short: float(flat[key]) for short, key in KEYS.items()}


def evaluate_codec(net: Any, detector: Any, dataset: Any,
                   rates: Sequence[float | None]) -> dict[str, float]:
    """Uncompressed AP and, per rate point, bpp, AP3D, APBEV and coding times."""
    from bench.models.stereo3d_decode import decode_detections, image_tensor, net_geometry

    net.eval()
    detector.eval()
    ref: dict[str, list] = {}
    coded: dict[Any, dict[str, list]] = {r: {} for r in rates}
    bits = {r: 0 for r in rates}
    times = {r: [0.0, 0.0] for r in rates}
    pixels = 0
    for item_id in dataset.ids():
        s = dataset.load(item_id)
        h, w = s.images[0].shape[:2]
        geo = net_geometry((w, h), s.calib)
        left, right = (image_tensor(im, geo) for im in s.images)
        feats = detector.features(left, right)
        ref[item_id] = decode_detections(detector.head(feats), geo)
        pixels += 2 * w * h
        for r in rates:
            data, dec, enc_s, dec_s = code_features(net, feats, r)
            bits[r] += 8 * len(data)
            times[r][0] += enc_s
            times[r][1] += dec_s
            coded[r][item_id] = decode_detections(detector.head(dec), geo)
    out = {f"ref/{k}": v for k, v in _kitti(dataset, ref).items()}
    n = max(1, len(ref))
    for r in rates:
        tag = "r" if r is None else f"r{r:g}"
        out[f"{tag}/bpp"] = bits[r] / max(1, pixels)
        out.update({f"{tag}/{k}": v for k, v in _kitti(dataset, coded[r]).items()})
        out[f"{tag}/encode_s"] = times[r][0] / n
        out[f"{tag}/decode_s"] = times[r][1] / n
    return out


class MvsfcProgram(TrainProgram):
    """MVSFC-Net trained with the stereo detector's losses and sigma * (bpp_L + bpp_R).

    Args:
        config: "small" (the detector's 32/48/96 features), "tiny" (smoke tests) or "paper".
        ablation: without contextual transforms and cross-view context.
        detector: stereo3d weights (default the committed ones).
        n_train, n_val: synthetic frames for training and for the real-coding evaluation.
        width, height: frame size (the detector's 621 x 188 needs no resizing).
        data_seed, data_root, workers: the synthetic sets' seed, folder, render processes.
        batch_size, crop_width: items per step; crop width in pixels (a multiple of 128
            keeps f2 a multiple of 8 wide, so crops need no padding in width).
        decoder_input: "ste" or "noise" (see MvsfcNet.forward).
        distill, distill_until: weight of the feature MSE and the step where it reaches 0
            (0 and 0: none, as in the paper).
        init: a weights file to start from (tensors whose names and shapes match).
        init_skip: name prefixes not taken from `init` (e.g. the gain units).
        eval_rates: rate points of the evaluation (default every trained point).
    """

    def __init__(self, recipe: Any, device: str = "cpu", config: str = "small",
                 ablation: bool = False, detector: str | None = None, n_train: int = 600,
                 n_val: int = 12, width: int = 621, height: int = 188, data_seed: int = 0,
                 data_root: str = "datasets", workers: int = 1, batch_size: int = 4,
                 crop_width: int = 256, decoder_input: str = "ste", distill: float = 0.0,
                 distill_until: int = 0, init: str | None = None,
                 init_skip: list[str] | None = None, eval_rates: list[float] | None = None):
        super().__init__(recipe, device)
        self.config_name, self.ablation = config, bool(ablation)
        self.detector_path = Path(detector) if detector else WEIGHTS_DIR / "stereo3d.pt"
        self.n_train, self.n_val, self.size = int(n_train), int(n_val), (int(width), int(height))
        self.data_seed, self.data_root, self.workers = int(data_seed), data_root, int(workers)
        self.batch_size, self.crop_width = int(batch_size), int(crop_width)
        if decoder_input not in ("ste", "noise"):
            raise ValueError(f"decoder_input must be 'ste' or 'noise', got {decoder_input!r}")
        self.decoder_input = decoder_input
        self.distill, self.distill_until = float(distill), int(distill_until)
        self.init, self.eval_rates = init, eval_rates
        self.init_skip = tuple(init_skip or ())

    # ------------------------------------------------------------------ set-up

    def setup(self) -> None:
        import torch

        from bench.datasets.synthetic_kitti import SyntheticKittiDataset
        from bench.models.mvsfc import MvsfcNet, get_config
        from bench.tasks.stereo3d import load_stereo3d
        from bench.train.stereo3d import load_split

        self.det, _ = load_stereo3d(self.detector_path, self.device)
        for p in self.det.parameters():
            p.requires_grad_(False)
        self.cfg = get_config(self.config_name, self.ablation)
        self.net = MvsfcNet(self.cfg).to(self.device)
        if self.init:
            self._load_init(self.init)
        self.sigmas = torch.tensor(self.cfg.rate_sigmas, dtype=torch.float32, device=self.device)
        common = {"width": self.size[0], "height": self.size[1], "seed": self.data_seed,
                  "root": self.data_root, "workers": self.workers}
        self.data = load_split(SyntheticKittiDataset(n_frames=self.n_train, split="train",
                                                     **common))
        self.val = SyntheticKittiDataset(n_frames=self.n_val, split="val", **common)

    def _load_init(self, path: str) -> None:
        from bench.models.mvsfc.weights import load_weights

        src, _ = load_weights(path)
        mine = self.net.state_dict()
        take = {k: v for k, v in src.state_dict().items()
                if k in mine and mine[k].shape == v.shape
                and not k.startswith(("gaussian",) + self.init_skip)}
        self.net.load_state_dict({**mine, **take})
        self.init_loaded = len(take)

    def modules(self) -> dict[str, Any]:
        return {"codec": self.net}

    def parameters(self) -> list[Any]:
        return [p for n, p in self.net.named_parameters() if not n.endswith("quantiles")]

    def aux_parameters(self) -> list[Any]:
        return [p for n, p in self.net.named_parameters() if n.endswith("quantiles")]

    def train(self, mode: bool = True) -> None:
        self.net.train(mode)
        self.det.eval()

    # ------------------------------------------------------------------ one step

    def _batch(self, step: int):
        import torch

        from bench.train.stereo3d import batch

        rng = np.random.default_rng([self.recipe.seed, step])
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        idx = rng.choice(len(self.data["targets"]), self.batch_size, replace=False)
        left, right, tgt, fb = batch(self.data, idx, self.crop_width, rng, gen)
        n_rates = self.cfg.n_rates
        rates = torch.from_numpy(rng.integers(0, n_rates, self.batch_size)).float() \
            if n_rates else None
        dev = self.device
        return (left.to(dev), right.to(dev), {k: v.to(dev) for k, v in tgt.items()},
                fb.to(dev), None if rates is None else rates.to(dev))

    def loss(self, step: int) -> tuple[Any, dict[str, float]]:
        import torch

        from bench.models.mvsfc.training import (
            distill_weight,
            feature_mse,
            join_views,
            rate_loss,
            split_views,
            view_bits,
        )
        from bench.models.stereo3d_targets import detector_losses

        left, right, tgt, fb, rates = self._batch(step)
        with torch.no_grad():
            feats_l, feats_r = split_views(self.det.features(left, right))
        out = self.net(feats_l, feats_r, rate=rates, decoder_input=self.decoder_input)
        head = self.det.head(join_views(out["left"], out["right"]))
        task = sum(detector_losses(head, tgt, fb).values())
        pixels = min(self.crop_width, self.size[0]) * self.size[1]
        bits_l, bits_r = view_bits(out["likelihoods"])
        bpp_l, bpp_r = bits_l / pixels, bits_r / pixels
        loss = task + rate_loss(self.sigmas, rates, bpp_l, bpp_r)
        logs = {"task": float(task.detach()), "bpp": float(((bpp_l + bpp_r) / 2).mean().detach())}
        w = distill_weight(self.distill, self.distill_until, step)
        if w > 0:
            mse = (feature_mse(out["left"], feats_l) + feature_mse(out["right"], feats_r)) / 2
            loss = loss + w * mse
            logs["mse"] = float(mse.detach())
        return loss, logs

    def aux_loss(self) -> Any:
        return self.net.aux_loss()

    # ------------------------------------------------------------------ results

    def _rates(self) -> list[float | None]:
        if self.eval_rates is not None:
            return [float(r) for r in self.eval_rates]
        return [float(r) for r in range(self.cfg.n_rates)] if self.cfg.n_rates else [None]

    def evaluate(self) -> dict[str, float]:
        self.net.update(force=True)
        return evaluate_codec(self.net, self.det, self.val, self._rates())

    def export(self, path: Path) -> dict[str, Any]:
        from bench.models.mvsfc.weights import export_weights

        summary = {"config": self.cfg.name, "rate_sigmas": list(self.cfg.rate_sigmas),
                   "recipe": self.recipe.name, "n_train": self.n_train,
                   "crop_width": self.crop_width, "batch_size": self.batch_size,
                   "decoder_input": self.decoder_input, "distill": self.distill,
                   "distill_until": self.distill_until, "init": self.init,
                   "init_skip": list(self.init_skip)}
        return export_weights(self.net, path, summary)

    def card(self, summary: dict[str, Any]) -> str:
        from bench.train.card import generic_card

        head = (f"MVSFC-Net `{self.cfg.name}` trained against the frozen stereo detector "
                f"({self.detector_path.name}); rate points sigma = "
                f"{', '.join(f'{s:g}' for s in self.cfg.rate_sigmas)}. The full model card "
                "with RD points and BD-rates is bench/models/mvsfc.md.\n\n")
        return head + generic_card(self.recipe, summary)
