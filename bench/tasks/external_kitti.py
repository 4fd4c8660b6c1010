"""An external 3D detector on KITTI stereo frames, run in its own environment.

For a batch of (decoded) frames the harness writes a KITTI object folder at
``{images}``::

    {images}/training/image_2/<id>.png   left view (lossless PNG of the decoded image)
    {images}/training/image_3/<id>.png   right view
    {images}/training/calib/<id>.txt     calibration (P0..P3, R0_rect, Tr_velo_to_cam,
                                         Tr_imu_to_velo)
    {images}/ImageSets/val.txt           the batch's frame ids

creates the folder ``{output}`` and runs the command, which must write one KITTI
result file ``{output}/<id>.txt`` per frame (16 columns, the last the score; an
empty file for a frame without detections), as OpenPCDet's and mmdetection3d's
KITTI result writers do. Calibration entries a dataset lacks are filled so that the
file parses everywhere: P0 / P1 with P2 / P3, Tr_imu_to_velo with the identity.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.errors import TaskError
from bench.tasks.base import Evaluator
from bench.tasks.external import ExternalCommandTask, write_png
from bench.types import Sample

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def kitti_calib_for_file(calib: dict[str, Any]) -> dict[str, np.ndarray]:
    """All seven calib entries, filling those a dataset does not provide."""
    out = {k: np.asarray(v, dtype=np.float64) for k, v in calib.items()}
    out.setdefault("P0", out["P2"])
    out.setdefault("P1", out["P3"])
    out.setdefault("Tr_imu_to_velo", np.hstack([np.eye(3), np.zeros((3, 1))]))
    return out


def write_kitti_frames(samples: list[Sample], root: Path) -> list[str]:
    """Write the samples as a KITTI object folder under `root`; returns the frame ids."""
    from bench.datasets.kitti_calib import write_calib

    base = root / "training"
    for sub in ("image_2", "image_3", "calib"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    ids = []
    for sample in samples:
        if not _SAFE_ID.match(sample.id) or sample.id.startswith("."):
            raise TaskError(f"external-kitti: item id {sample.id!r} is not usable as a file name")
        if not sample.stereo or not {"P2", "P3"} <= set(sample.calib or {}):
            raise TaskError(f"external-kitti needs stereo samples with P2/P3 calibration; item "
                            f"{sample.id!r} has {len(sample.images)} view(s)")
        write_png(sample.images[0], base / "image_2" / f"{sample.id}.png")
        write_png(sample.images[1], base / "image_3" / f"{sample.id}.png")
        write_calib(base / "calib" / f"{sample.id}.txt", kitti_calib_for_file(sample.calib))
        ids.append(sample.id)
    (root / "ImageSets").mkdir(exist_ok=True)
    (root / "ImageSets" / "val.txt").write_text("".join(f"{i}\n" for i in ids))
    return ids


class ExternalKittiTask(ExternalCommandTask):
    """Runs a user's KITTI 3D detector command once per batch and reads its label files.

    Args:
        command: an argument list (never a shell string) using the placeholders
            {images} (the KITTI folder), {output} (the folder to write <id>.txt
            into), {id_map} (a JSON file: frame ids with image sizes) and {workdir}.
        timeout_s, cwd, env, revision: as for every external-command task.
    """

    name: ClassVar[str] = "external-kitti"
    output_name: ClassVar[str] = "results"

    def write_inputs(self, samples: list[Sample], folder: Path) -> dict[str, Any]:
        ids = write_kitti_frames(samples, folder)
        (folder.parent / self.output_name).mkdir(exist_ok=True)
        return {"frames": [{"id": i, "width": int(s.images[0].shape[1]),
                            "height": int(s.images[0].shape[0])} for i, s in zip(ids, samples)]}

    def read_outputs(self, samples: list[Sample], output: Path,
                     id_map: dict[str, Any]) -> list[Any]:
        from bench.metrics.kitti_io import read_label_file
        from bench.models.stereo3d_decode import anno_to_detections

        missing = [s.id for s in samples if not (output / f"{s.id}.txt").is_file()]
        if missing:
            raise TaskError(
                f"external-kitti: the command wrote no result file for {len(missing)} of "
                f"{len(samples)} frame(s), e.g. {str(output / (missing[0] + '.txt'))!r}; write "
                "<id>.txt for every frame into {output} (empty when nothing is detected)")
        preds = []
        for sample in samples:
            path = output / f"{sample.id}.txt"
            try:
                anno = read_label_file(path)
            except Exception as exc:  # noqa: BLE001 (a DatasetError about the command's output)
                raise TaskError(f"external-kitti: {exc}") from None
            if len(anno["name"]) and "score" not in anno:
                raise TaskError(f"external-kitti: {str(path)!r} has 15 columns; results need a "
                                "16th, the score")
            preds.append(anno_to_detections(anno))
        return preds

    def evaluator(self, dataset: Any) -> Evaluator:
        from bench.tasks.stereo3d import KittiEvaluator

        return KittiEvaluator(dataset)
