"""One generic registry with lazy "module:attr" targets and entry-point plugins.

Importing the package stays cheap: a target module is imported the first time its
name is looked up. Third-party packages add names through the entry-point groups
``icm_bench.codecs``, ``icm_bench.datasets`` and ``icm_bench.tasks``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from importlib.metadata import entry_points
from typing import Any

from bench.errors import RegistryError, SpecError


def did_you_mean(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """A ' Did you mean X?' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def load_target(target: str) -> Any:
    """Import "package.module:attr" and return attr."""
    module_name, _, attr = target.partition(":")
    if not attr:
        raise RegistryError(f"target {target!r} is not of the form 'module:attr'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"cannot import {module_name!r} (for {target!r}): {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise RegistryError(f"module {module_name!r} has no attribute {attr!r}") from exc


class Registry:
    """Named, lazily imported objects of one kind (codecs, datasets or tasks)."""

    def __init__(self, kind: str, group: str):
        self.kind = kind
        self.group = group
        self._targets: dict[str, str] = {}
        self._help: dict[str, str] = {}
        self._loaded: dict[str, Any] = {}
        self._plugins_scanned = False

    def register(self, name: str, target: str | Any, help: str = "") -> None:
        """Add `name` -> target ("module:attr" or the object itself)."""
        if name in self._targets or name in self._loaded:
            raise RegistryError(f"{self.kind} {name!r} is already registered")
        if isinstance(target, str):
            self._targets[name] = target
        else:
            self._loaded[name] = target
        self._help[name] = help

    def _scan_plugins(self) -> None:
        if self._plugins_scanned:
            return
        self._plugins_scanned = True
        for ep in entry_points(group=self.group):
            if ep.name in self._targets or ep.name in self._loaded:
                raise RegistryError(
                    f"plugin {ep.value!r} registers {self.kind} {ep.name!r}, which exists already"
                )
            self._targets[ep.name] = ep.value
            self._help[ep.name] = f"plugin ({ep.value})"

    def names(self) -> list[str]:
        self._scan_plugins()
        return sorted(set(self._targets) | set(self._loaded))

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def build(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Instantiate `name` with keyword params; unknown params name themselves."""
        cls = self.get(name)
        params = dict(params or {})
        sig = inspect.signature(cls.__init__ if isinstance(cls, type) else cls)
        accepted = [p for p in sig.parameters if p not in ("self", "args", "kwargs")]
        takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
        unknown = [k for k in params if k not in accepted]
        if unknown and not takes_kwargs:
            key = unknown[0]
            raise SpecError(
                f"{self.kind} {name!r} has no parameter {key!r}.{did_you_mean(key, accepted)} "
                f"Parameters: {', '.join(accepted) or '(none)'}"
            )
        try:
            return cls(**params)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{self.kind} {name!r}: bad parameters {params}: {exc}") from exc

    def get(self, name: str) -> Any:
        """The registered object (or a direct "module:attr" target); RegistryError with a
        suggestion for unknown names."""
        self._scan_plugins()
        if name in self._loaded:
            return self._loaded[name]
        if ":" in name and name not in self._targets:
            # A direct "module:attr" target: plugins usable without an entry point.
            obj = load_target(name)
            self._loaded[name] = obj
            return obj
        if name not in self._targets:
            raise RegistryError(
                f"unknown {self.kind} {name!r}.{did_you_mean(name, self.names())} "
                f"Known: {', '.join(self.names())}"
            )
        obj = load_target(self._targets[name])
        self._loaded[name] = obj
        return obj


CODECS = Registry("codec", "icm_bench.codecs")
DATASETS = Registry("dataset", "icm_bench.datasets")
TASKS = Registry("task", "icm_bench.tasks")
PROGRAMS = Registry("training program", "icm_bench.programs")

# Built-in names. Targets are imported on first use only.
for _name, _target, _help in [
    ("identity", "bench.codecs.identity:IdentityCodec", "no coding: the uncompressed reference"),
    ("vvenc", "bench.codecs.ffmpeg:VvencCodec", "VVC intra, libvvenc via ffmpeg (QP)"),
    ("x265", "bench.codecs.ffmpeg:X265Codec", "HEVC intra, libx265 via ffmpeg (QP)"),
    ("aom", "bench.codecs.ffmpeg:AomCodec", "AV1 intra, libaom via ffmpeg (QP/CRF)"),
    ("svtav1", "bench.codecs.ffmpeg:SvtAv1Codec", "AV1 intra, SVT-AV1 via ffmpeg (QP)"),
    ("jpeg", "bench.codecs.pillow_jpeg:PillowJpegCodec",
     "JPEG as published: libjpeg via Pillow, quality 1..100, 4:2:0"),
    ("mjpeg", "bench.codecs.ffmpeg:MjpegCodec", "JPEG via ffmpeg's mjpeg encoder (q 2..31, 4:2:0)"),
    ("webp", "bench.codecs.ffmpeg:WebpCodec", "WebP via ffmpeg libwebp (quality 0..100)"),
    ("jpegxl", "bench.codecs.ffmpeg:JpegXlCodec", "JPEG XL via ffmpeg libjxl (distance)"),
    ("vtm", "bench.codecs.vtm:VtmCodec", "VVC intra with VTM (user-built binaries; the VCM image anchor)"),
    ("feature-anchor", "bench.codecs.feature_anchor:FeatureAnchorCodec",
     "VVC feature anchor: packed 10-bit feature frame, VTM or libvvenc inside"),
    ("compressai", "bench.codecs.compressai_codec:CompressAICodec",
     "CompressAI learned image codecs from local checkpoints (compress/decompress)"),
    ("learned-baseline", "bench.codecs.learned_baseline:LearnedBaselineCodec",
     "the in-project learned baseline: a small variable-rate hyperprior (committed weights)"),
    ("ci-icm", "bench.codecs.ci_icm:CiIcmCodec",
     "CI-ICM: channel-importance ELIC for machines, one decoded image per task"),
    ("mfcnet", "bench.codecs.mfcnet:MfcNetCodec",
     "MFCNet/BFCNet: FPN features, P3 (+P4/P5) coded, P2 predicted at the decoder"),
    ("mvsfc", "bench.codecs.mvsfc:MvsfcCodec",
     "MVSFC-Net: joint stereo multi-scale feature compression (one bitstream)"),
    ("sa-icm", "bench.codecs.sa_icm:SaIcmCodec",
     "SA-ICM + feature fusion: scalable, base layer for machines, enhancement for humans"),
    ("sa-icm-mse", "bench.codecs.sa_icm:SaIcmMseCodec",
     "the MSE-trained LIC-TCM of the SA-ICM base's size (one layer; scalable preset's baseline)"),
    ("sa-icm-simulcast", "bench.codecs.sa_icm:SaIcmSimulcastCodec",
     "simulcast: the SA-ICM base layer plus an independent MSE codec stream (two layers)"),
]:
    CODECS.register(_name, _target, _help)

for _name, _target, _help in [
    ("coco", "bench.datasets.coco:CocoDataset", "COCO-format: instances JSON + image folder"),
    ("synthetic-coco", "bench.datasets.synthetic_coco:SyntheticCocoDataset",
     "deterministic synthetic COCO-format set, generated on demand"),
    ("kitti", "bench.datasets.kitti:KittiDataset", "KITTI object layout (stereo, calib, labels)"),
    ("synthetic-kitti", "bench.datasets.synthetic_kitti:SyntheticKittiDataset",
     "deterministic synthetic KITTI-layout stereo set, generated on demand"),
    ("images", "bench.datasets.images:ImageFolderDataset",
     "a folder of PNG/JPEG images (Kodak, CLIC, your frames), sorted by name"),
]:
    DATASETS.register(_name, _target, _help)

for _name, _target, _help in [
    ("pixel", "bench.tasks.pixel:PixelQualityTask", "pixel quality: PSNR (RGB, luma), MS-SSIM"),
    ("detection", "bench.tasks.detection:DetectionTask",
     "built-in small Mask R-CNN (committed weights), bbox + segm mAP, split 'fpn'"),
    ("torchvision-maskrcnn", "bench.tasks.detection_torchvision:TorchvisionMaskRCNNTask",
     "torchvision Mask R-CNN R50-FPN v1/v2, local weights, split 'fpn'"),
    ("torchvision-fasterrcnn", "bench.tasks.detection_torchvision:TorchvisionFasterRCNNTask",
     "torchvision Faster R-CNN R50-FPN v1/v2, local weights, split 'fpn'"),
    ("detectron2", "bench.tasks.detection_detectron2:Detectron2Task",
     "detectron2 Faster/Mask R-CNN X101-FPN (optional extra), split 'fpn'"),
    ("external-coco", "bench.tasks.external:ExternalCocoTask",
     "any detector run as an external command; reads COCO results JSON"),
    ("stereo3d", "bench.tasks.stereo3d:Stereo3DTask",
     "built-in stereo 3D detector (committed weights), KITTI AP, split 'stereo'"),
    ("external-kitti", "bench.tasks.external_kitti:ExternalKittiTask",
     "any KITTI 3D detector run as an external command; reads KITTI label files"),
]:
    TASKS.register(_name, _target, _help)

for _name, _target, _help in [
    ("image-codec", "bench.train.programs.image_codec:ImageCodecProgram",
     "learned image codecs: rate + distortion (mse, ms-ssim, task features)"),
    ("ci-icm", "bench.train.programs.ci_icm:CiIcmProgram", "CI-ICM against a frozen detector"),
    ("mfcnet", "bench.train.programs.mfcnet:MfcNetProgram", "MFCNet/BFCNet on FPN features"),
    ("mvsfc", "bench.train.programs.mvsfc:MvsfcProgram", "MVSFC-Net with the stereo detector"),
    ("sa-icm", "bench.train.programs.sa_icm:SaIcmProgram", "SA-ICM base and enhancement layers"),
    ("detector", "bench.train.programs.detector:DetectorProgram",
     "the built-in small Mask R-CNN on synthetic-coco"),
    ("stereo3d", "bench.train.programs.stereo3d:Stereo3DProgram",
     "the built-in stereo 3D detector on synthetic-kitti"),
]:
    PROGRAMS.register(_name, _target, _help)
