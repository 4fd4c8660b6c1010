"""Tests for the external-command task."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from bench.errors import TaskError
from bench.tasks.external import ExternalCocoTask, fill_placeholders, image_file_name
from bench.types import Sample

# A stand-in for a detector living in its own environment: it reads the images and the
# id map, and writes one box per image (the whole image) plus what it saw, as JSON.
ECHO = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from PIL import Image
    images, id_map, output = sys.argv[1:4]
    results = []
    for im in json.loads(Path(id_map).read_text())["images"]:
        w, h = Image.open(Path(images) / im["file_name"]).size
        assert (w, h) == (im["width"], im["height"])
        results.append({"image_id": im["id"], "category_id": 1, "score": 0.5,
                        "bbox": [0, 0, w, h]})
    Path(output).write_text(json.dumps(results))
""")

# Runs the built-in detector over the folder: the external path of the built-in task.
BUILTIN = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from PIL import Image
    from bench.tasks.detection import DetectionTask
    from bench.types import Sample
    images, id_map, output = sys.argv[1:4]
    task = DetectionTask(device="cpu")
    results = []
    for im in json.loads(Path(id_map).read_text())["images"]:
        rgb = np.asarray(Image.open(Path(images) / im["file_name"]).convert("RGB"))
        results += task.predict(Sample(str(im["id"]), (rgb,), meta={"coco_id": im["id"]}))
    Path(output).write_text(json.dumps(results))
""")


def _script(tmp_path, text, name="det.py"):
    path = tmp_path / name
    path.write_text(text)
    return [sys.executable, str(path), "{images}", "{id_map}", "{output}"]


def _samples():
    rng = np.random.default_rng(0)
    return [Sample(str(i), (rng.integers(0, 255, (20 + i, 30, 3), dtype=np.uint8),),
                   meta={"coco_id": i, "file_name": f"sub/{i:012d}.jpg"}) for i in (5, 9)]


def test_fill_placeholders_and_file_names():
    argv = fill_placeholders(["det", "--in={images}", "{output}", "{x}"],
                             {"images": "/a", "output": "/b"})
    assert argv == ["det", "--in=/a", "/b", "{x}"]
    assert image_file_name(_samples()[0]) == "sub/000000000005.png"
    assert image_file_name(Sample("7", (), meta={"file_name": "../../etc/x.jpg"})) == "x.png"


def test_runs_command_and_groups_results(tmp_path):
    task = ExternalCocoTask(_script(tmp_path, ECHO))
    samples = _samples()
    preds = task.predict_batch(samples)
    assert [[d["image_id"] for d in p] for p in preds] == [[5], [9]]
    assert preds[1][0]["bbox"] == [0, 0, 30, 29]
    assert task.last_seconds is not None and task.last_seconds > 0
    assert task.predict(samples[0])[0]["image_id"] == 5


def test_images_written_losslessly(tmp_path):
    keep = tmp_path / "kept"
    copy = textwrap.dedent(f"""
        import shutil, sys
        shutil.copytree(sys.argv[1], {str(keep)!r})
        open(sys.argv[3], "w").write("[]")
    """)
    samples = _samples()
    assert ExternalCocoTask(_script(tmp_path, copy)).predict_batch(samples) == [[], []]
    for s in samples:
        back = np.asarray(Image.open(keep / image_file_name(s)))
        assert np.array_equal(back, s.image)


@pytest.mark.parametrize("body, message", [
    ("import sys; sys.stderr.write('model exploded'); sys.exit(3)", "model exploded"),
    ("pass", "wrote nothing"),
    ("import sys; open(sys.argv[3], 'w').write('{not json')", "cannot read"),
    ("import sys, json; open(sys.argv[3], 'w').write(json.dumps([{'image_id': 77, "
     "'category_id': 1, 'score': 1, 'bbox': [0, 0, 1, 1]}]))", "77"),
    ("import sys, json; open(sys.argv[3], 'w').write(json.dumps([{'image_id': 5}]))", "lacks"),
])
def test_command_failures_are_task_errors(tmp_path, body, message):
    task = ExternalCocoTask(_script(tmp_path, body))
    with pytest.raises(TaskError, match=message):
        task.predict_batch(_samples())


def test_bad_command_specs(tmp_path):
    with pytest.raises(TaskError, match="argument list"):
        ExternalCocoTask("python det.py {images} {output}")
    with pytest.raises(TaskError, match="placeholders"):
        ExternalCocoTask(["det", "--x"])
    with pytest.raises(TaskError, match="not found"):
        ExternalCocoTask(["/nonexistent/det", "{images}", "{output}"]).predict_batch(_samples())
    with pytest.raises(TaskError, match="iou_types"):
        ExternalCocoTask(["det", "{images}", "{output}"], iou_types=["keypoints"])


def test_spec_with_external_task_matches_builtin(tmp_path):
    from bench.execute.runner import run_spec
    from bench.spec import validate_spec

    def spec(name, task):
        return validate_spec({
            "name": name,
            "dataset": {"type": "synthetic-coco", "params": {
                "n_images": 6, "width": 320, "height": 240, "root": str(tmp_path / "data")}},
            "task": task,
            "codecs": [{"name": "identity", "type": "identity", "points": [0]}],
            "execute": {"executor": "serial", "shard_size": 3},
        })

    command = _script(tmp_path, BUILTIN)
    external = run_spec(spec("ext", {"type": "bench.tasks.external:ExternalCocoTask", "params": {
        "command": command, "iou_types": ["bbox", "segm"]}}),
        tmp_path / "results", None, progress=False)
    builtin = run_spec(spec("builtin", {"type": "bench.tasks.detection:DetectionTask",
                                        "params": {"device": "cpu"}}),
                       tmp_path / "results", None, progress=False)
    assert external.jobs_failed == 0 and builtin.jobs_failed == 0
    ext, ref = external.points[0].metrics, builtin.points[0].metrics
    assert ref["bbox/AP"] > 0.3
    for key in ("bbox/AP", "bbox/AP50", "segm/AP", "segm/AR100"):
        assert ext[key] == pytest.approx(ref[key], abs=1e-6), key
