"""External-command tasks: run any detector that lives in its own environment.

The harness writes the decoded images of a batch (losslessly, as PNG, under the
dataset's file names) and an id map into a fresh folder, runs the user's command (an
argument list, never a shell string) with the placeholders {images}, {output},
{id_map} and {workdir} replaced, and reads the results back. `ExternalCommandTask`
holds the dataset-agnostic part; `ExternalCocoTask` reads a COCO results JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from abc import abstractmethod
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import numpy as np

from bench.errors import TaskError
from bench.tasks.base import Evaluator, Task
from bench.types import Sample

PLACEHOLDERS = ("{images}", "{output}", "{id_map}", "{workdir}")


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a command's whole process group (it leads its own), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def fill_placeholders(command: list[str], values: dict[str, str]) -> list[str]:
    """The argument list with each {name} placeholder replaced (inside arguments too)."""
    out = []
    for arg in command:
        for name, value in values.items():
            arg = arg.replace("{" + name + "}", value)
        out.append(arg)
    return out


def write_png(image: np.ndarray, path: Path) -> None:
    """An H x W x 3 uint8 RGB array as a PNG file (lossless)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="PNG", compress_level=1)


class ExternalCommandTask(Task):
    """Runs one command per batch of samples; subclasses say what to write and read."""

    name: ClassVar[str] = "external"
    version: ClassVar[str] = "1"
    output_name: ClassVar[str] = "output"

    def __init__(self, command: list[str], timeout_s: float = 3600.0, cwd: str | None = None,
                 env: dict[str, str] | None = None, revision: str = ""):
        if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
            raise TaskError(
                f"{self.name}: `command` must be a non-empty list of strings (an argument "
                f"list, not a shell string), got {command!r}"
            )
        if not any(p in arg for arg in command for p in ("{images}", "{output}")):
            raise TaskError(f"{self.name}: `command` must use the {{images}} and {{output}} "
                            f"placeholders somewhere, got {command!r}")
        self.command = list(command)
        self.timeout_s = float(timeout_s)
        self.cwd = cwd
        self.env = dict(env or {})
        self.revision = revision
        self.last_seconds: float | None = None

    @abstractmethod
    def write_inputs(self, samples: list[Sample], folder: Path) -> dict[str, Any]:
        """Write the batch's inputs under `folder`; return the id map (written as JSON)."""

    @abstractmethod
    def read_outputs(self, samples: list[Sample], output: Path,
                     id_map: dict[str, Any]) -> list[Any]:
        """One prediction per sample, read from what the command wrote at `output`."""

    def predict(self, sample: Sample) -> Any:
        return self.predict_batch([sample])[0]

    def predict_batch(self, samples: list[Sample]) -> list[Any]:
        """Write the batch, run the command once, read the predictions back."""
        if not samples:
            return []
        with tempfile.TemporaryDirectory(prefix="icm-bench-external-") as tmp:
            work = Path(tmp)
            images, output = work / "images", work / self.output_name
            id_map_path = work / "id_map.json"
            images.mkdir()
            id_map = self.write_inputs(samples, images)
            id_map_path.write_text(json.dumps(id_map, indent=1))
            argv = fill_placeholders(self.command, {
                "images": str(images), "output": str(output),
                "id_map": str(id_map_path), "workdir": str(work)})
            self.run_command(argv)
            if not output.exists():
                raise TaskError(f"{self.name}: the command finished but wrote nothing at "
                                f"{{output}} ({output}); command: {' '.join(argv)}")
            return self.read_outputs(samples, output, id_map)

    def run_command(self, argv: list[str]) -> None:
        """Run the command (no shell) in its own process group with the timeout; record its
        wall time in last_seconds. A timeout or an interrupt kills the whole group (the
        command's own children too)."""
        env = {**os.environ, **self.env} if self.env else None
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=self.cwd, env=env,
                                    start_new_session=True)
        except FileNotFoundError as exc:
            raise TaskError(f"{self.name}: command not found: {argv[0]!r} ({exc})") from exc
        except OSError as exc:
            raise TaskError(f"{self.name}: cannot run {argv[0]!r}: {exc.strerror or exc} (is "
                            "it an executable for this machine?)") from exc
        try:
            out, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise TaskError(f"{self.name}: command timed out after {self.timeout_s:.0f}s: "
                            f"{' '.join(argv)}") from None
        except BaseException:
            kill_group(proc)
            raise
        finally:
            self.last_seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = "\n    ".join((err or out or "").strip().splitlines()[-15:])
            raise TaskError(f"{self.name}: command exited with {proc.returncode}\n"
                            f"  command: {' '.join(argv)}\n  stderr (last lines):\n    {tail}")

    def params(self) -> dict[str, Any]:
        return {"command": self.command, "timeout_s": self.timeout_s, "cwd": self.cwd,
                "env": self.env, "revision": self.revision}


def image_file_name(sample: Sample) -> str:
    """The sample's file name in the dataset, as .png (kept relative, no '..')."""
    name = str(sample.meta.get("file_name") or f"{sample.id}.png")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        path = PurePosixPath(path.name)
    return str(path.with_suffix(".png"))


class ExternalCocoTask(ExternalCommandTask):
    """An external detector that reads a folder of images and writes a COCO results JSON.

    id_map.json holds a COCO "images" list (id, file_name, width, height) of the batch.
    The results file is a JSON list of COCO result dicts whose image_id values are
    those ids and whose category_id values are the dataset's.
    """

    name: ClassVar[str] = "external-coco"
    output_name: ClassVar[str] = "results.json"

    def __init__(self, command: list[str], iou_types: Iterable[str] = ("bbox",),
                 timeout_s: float = 3600.0, cwd: str | None = None,
                 env: dict[str, str] | None = None, revision: str = ""):
        super().__init__(command, timeout_s, cwd, env, revision)
        self.iou_types = [str(t) for t in iou_types]
        bad = [t for t in self.iou_types if t not in ("bbox", "segm")]
        if bad or not self.iou_types:
            raise TaskError(
                f"external-coco iou_types must be from ['bbox', 'segm'], got {iou_types!r}")

    def write_inputs(self, samples: list[Sample], folder: Path) -> dict[str, Any]:
        from bench.tasks.detection import coco_image_id

        images = []
        for sample in samples:
            name = image_file_name(sample)
            write_png(sample.image, folder / name)
            h, w = sample.image.shape[:2]
            images.append({"id": coco_image_id(sample), "file_name": name, "width": w, "height": h})
        return {"images": images}

    def read_outputs(self, samples: list[Sample], output: Path,
                     id_map: dict[str, Any]) -> list[Any]:
        try:
            results = json.loads(output.read_text())
        except (OSError, ValueError) as exc:
            raise TaskError(f"external-coco: cannot read the results JSON {output}: {exc}") from exc
        if not isinstance(results, list):
            raise TaskError("external-coco: the results JSON must be a list of COCO result dicts")
        per_image: dict[int, list[dict]] = {im["id"]: [] for im in id_map["images"]}
        for n, det in enumerate(results):
            check_result(det, n, per_image, self.iou_types)
            per_image[int(det["image_id"])].append(det)
        return [per_image[im["id"]] for im in id_map["images"]]

    def evaluator(self, dataset: Any) -> Evaluator:
        from bench.tasks.detection import CocoDetectionEvaluator

        return CocoDetectionEvaluator(dataset, self.iou_types)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "iou_types": self.iou_types}


def check_result(det: Any, n: int, per_image: dict[int, list], iou_types: list[str]) -> None:
    """Raise TaskError unless `det` is a COCO result dict for one of the batch's images."""
    if not isinstance(det, dict):
        raise TaskError(f"external-coco: result #{n} is not a dict: {det!r:.80}")
    needed = ["image_id", "category_id", "score"] + ["bbox" if t == "bbox" else "segmentation"
                                                     for t in iou_types]
    missing = [k for k in needed if k not in det]
    if missing:
        raise TaskError(f"external-coco: result #{n} lacks {', '.join(missing)}")
    if det["image_id"] not in per_image:
        raise TaskError(f"external-coco: result #{n} names image_id {det['image_id']!r}, which is "
                        f"not in this batch (see id_map.json); ids: {sorted(per_image)[:10]}")
