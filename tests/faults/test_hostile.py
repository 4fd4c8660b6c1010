"""Hostile inputs: YAML that tries to run code or blow up, checkpoints with pickled code,
names that try to leave their folders. Each is refused (or contained) without a traceback."""

import os

import pytest
import torch
from faultkit import one_line_error, run_cli, tiny_spec, write_spec

from bench.errors import SpecError, TaskError
from bench.execute.plan import make_plan
from bench.results.store import RunStore
from bench.spec import validate_spec
from bench.tasks.external import image_file_name
from bench.types import Sample


def bomb(levels=9):
    lines = ["name: bomb", "dataset:", "  type: synthetic-coco", "  params:",
             '    x0: &x0 ["l","l","l","l","l","l","l","l","l"]']
    lines += [f"    x{i}: &x{i} [" + ",".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines + ["codecs: [{name: id, type: identity, points: [0]}]"]) + "\n"


@pytest.mark.parametrize("text,exit_2", [
    ('name: x\ndescription: !!python/object/apply:os.system ["touch {pwned}"]\n', True),
    ("name: x\ncodecs: !!python/name:os.system\n", True),
    (bomb(), True),                                # a billion laughs: refused, fast
    ("- just\n- a list\n", True),
    ("name: deep\ndescription: " + "[" * 20000 + "]" * 20000 + "\n", True),
    ("name: \x00\x01\n", True),
], ids=["python-apply", "python-name", "billion-laughs", "not-a-mapping", "deep", "control"])
def test_hostile_yaml_is_refused_without_running_anything(tmp_path, text, exit_2):
    pwned = tmp_path / "PWNED"
    spec = tmp_path / "hostile.yaml"
    spec.write_text(text.replace("{pwned}", str(pwned)))
    proc = run_cli("run", str(spec), "--results-dir", str(tmp_path / "r"), timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert any(ln.startswith("error:") for ln in proc.stderr.splitlines()), proc.stderr
    if exit_2:
        assert proc.returncode == 2, proc.stderr
    assert not pwned.exists()
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_binary_garbage_spec(tmp_path):
    spec = tmp_path / "garbage.yaml"
    spec.write_bytes(os.urandom(2000) + b"\xff\xfe")
    proc = run_cli("run", str(spec), timeout=60)
    assert proc.returncode == 2
    one_line_error(proc.stderr)


@pytest.mark.parametrize("task", ["stereo3d", "detection"])
def test_pickled_checkpoint_is_refused_once_at_planning(tmp_path, task):
    weights = tmp_path / "evil.pt"
    torch.save({"format": "x", "hook": os.system}, weights)  # a pickled reference to code
    raw = tiny_spec(tmp_path, "p", n_images=1)
    raw["task"] = {"type": task, "params": {"weights": str(weights)}}
    with pytest.raises(TaskError, match="not a weights-only checkpoint") as info:
        make_plan(validate_spec(raw))
    assert "os.system" in str(info.value) or "posix.system" in str(info.value)
    proc = run_cli("run", str(write_spec(tmp_path, raw)), "--results-dir", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert "weights-only" in one_line_error(proc.stderr.split("\n  ")[0])
    assert not (tmp_path / "r").exists()  # no job ran, no store was made


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", "..\\evil"])
def test_run_names_cannot_leave_the_results_folder(tmp_path, name):
    with pytest.raises(SpecError, match="plain name"):
        validate_spec({**tiny_spec(tmp_path), "name": name})
    proc = run_cli("run", str(write_spec(tmp_path, tiny_spec(tmp_path))), "--set",
                   f"name={name}", "--results-dir", str(tmp_path / "r"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_item_ids_and_layer_names_stay_inside_bitstreams(tmp_path):
    store = RunStore(tmp_path / "run", create=True)
    root = (tmp_path / "run" / "bitstreams").resolve()
    for item, layer in [("../../../etc/passwd", "v0/main"), ("..", "../x"), ("a\\..\\b", ".."),
                        ("/abs", "v0/../../y")]:
        path = store.bitstream_path("../key", item, layer).resolve()
        assert root in path.parents and path.parent.parent == root
    store.close()


def test_external_task_file_names_stay_inside_the_batch_folder():
    for name in ["../../x.jpg", "/etc/passwd", "a/../../b.png", "..\\..\\c.jpg"]:
        sample = Sample(id="1", images=(None,), meta={"file_name": name})
        out = image_file_name(sample)
        assert not out.startswith("/") and ".." not in out.split("/")


def test_codec_labels_cannot_write_outside_the_report(tmp_path):
    raw = tiny_spec(tmp_path, "lab", [{"name": "../../evil", "type": "fake_codecs:QuantZlibCodec",
                                       "points": [8]}], n_images=1)
    raw["report"] = {"formats": ["md", "csv"]}
    proc = run_cli("run", str(write_spec(tmp_path, raw)), "--results-dir", str(tmp_path / "r"),
                   "--reports-dir", str(tmp_path / "rep"))
    assert proc.returncode == 0, proc.stderr
    outside = [p for p in tmp_path.rglob("*evil*")
               if (tmp_path / "rep") not in p.parents and (tmp_path / "r") not in p.parents]
    assert not outside
