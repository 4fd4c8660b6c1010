import sys

import numpy as np
import pytest

from bench.datasets.kitti_calib import read_calib
from bench.errors import TaskError
from bench.tasks.external_kitti import ExternalKittiTask, kitti_calib_for_file
from bench.tasks.stereo3d import KittiEvaluator
from bench.types import Sample

# A stand-in for a detector living in its own environment: it reads the KITTI folder
# the harness wrote and writes one result file per frame.
DETECTOR = r'''
import sys
from pathlib import Path
from PIL import Image
root, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ids = (root / "ImageSets" / "val.txt").read_text().split()
for n, i in enumerate(ids):
    left = Image.open(root / "training" / "image_2" / f"{i}.png")
    right = Image.open(root / "training" / "image_3" / f"{i}.png")
    assert left.size == right.size
    calib_text = (root / "training" / "calib" / f"{i}.txt").read_text()
    calib = dict(line.split(":", 1) for line in calib_text.splitlines())
    assert set(calib) == {"P0", "P1", "P2", "P3", "R0_rect", "Tr_velo_to_cam", "Tr_imu_to_velo"}
    focal = float(calib["P2"].split()[0])
    if mode == "skip" and n == 1:
        continue
    score = "" if mode == "noscore" else f" {0.5 + 0.1 * n}"
    box = f"10 20 {left.size[0] - 1} 40"
    line = f"Car -1 -1 0.1 {box} 1.5 1.6 3.9 1.0 1.6 {focal / 10:.3f} 0.2{score}\n"
    (out / f"{i}.txt").write_text(line if n == 0 else "")
if mode == "fail":
    print("model checkpoint not found", file=sys.stderr)
    sys.exit(3)
'''


@pytest.fixture
def detector(tmp_path):
    script = tmp_path / "detector.py"
    script.write_text(DETECTOR)
    return lambda mode="ok": ExternalKittiTask(
        [sys.executable, str(script), "{images}", "{output}", mode])


def _sample(item_id, value):
    images = tuple(np.full((20, 48, 3), value + v, dtype=np.uint8) for v in (0, 1))
    p2 = np.array([[100.0, 0, 24, 6], [0, 100, 10, 0], [0, 0, 1, 0]])
    p3 = p2 - np.array([[0, 0, 0, 54.0], [0, 0, 0, 0], [0, 0, 0, 0]])
    calib = {"P2": p2, "P3": p3, "R0_rect": np.eye(3), "Tr_velo_to_cam": np.eye(3, 4)}
    return Sample(id=item_id, images=images, calib=calib)


def test_runs_the_command_on_a_kitti_folder_and_reads_its_results(detector):
    preds = detector().predict_batch([_sample("000007", 10), _sample("000009", 50)])
    assert len(preds) == 2 and preds[1] == []
    (det,) = preds[0]
    assert det["type"] == "Car" and det["score"] == pytest.approx(0.5)
    assert det["bbox"] == [10.0, 20.0, 47.0, 40.0]
    assert det["location"] == [1.0, 1.6, 10.0]  # P2's focal length / 10: calib was written
    assert det["dimensions"] == [1.5, 1.6, 3.9]


def test_single_predict_and_evaluator(detector):
    task = detector()
    assert task.predict(_sample("000001", 0))[0]["type"] == "Car"
    assert task.name == "external-kitti"
    with pytest.raises(TaskError, match="KITTI dataset"):
        task.evaluator(object())
    assert isinstance(task.evaluator(_FakeKitti()), KittiEvaluator)


class _FakeKitti:
    def ids(self):
        return []

    def label_annos(self, ids=None):
        return []


def test_command_failures_are_task_errors(detector):
    samples = [_sample("000001", 0), _sample("000002", 9)]
    with pytest.raises(TaskError, match="model checkpoint not found"):
        detector("fail").predict_batch(samples)
    with pytest.raises(TaskError, match="000002.txt"):
        detector("skip").predict_batch(samples)
    with pytest.raises(TaskError, match="16th"):
        detector("noscore").predict_batch(samples)
    with pytest.raises(TaskError, match="stereo samples"):
        detector().predict_batch([Sample(id="000001", images=(samples[0].images[0],))])
    with pytest.raises(TaskError, match="file name"):
        detector().predict_batch([_sample("../x", 0)])
    with pytest.raises(TaskError, match="argument"):
        ExternalKittiTask("python detect.py {images} {output}")


def test_calib_file_is_complete_and_keeps_given_values(tmp_path):
    calib = kitti_calib_for_file(_sample("1", 0).calib)
    from bench.datasets.kitti_calib import write_calib

    write_calib(tmp_path / "c.txt", calib)
    again = read_calib(tmp_path / "c.txt")
    np.testing.assert_array_equal(again["P3"], _sample("1", 0).calib["P3"])
    np.testing.assert_array_equal(again["P0"], again["P2"])
    assert again["Tr_imu_to_velo"].shape == (3, 4)
