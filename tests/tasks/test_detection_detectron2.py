"""Tests for the optional detectron2 task: the install message and the safe .pkl reader."""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pytest

from bench.errors import TaskError
from bench.tasks.detection_detectron2 import Detectron2Task, load_pkl_weights

HAS_D2 = importlib.util.find_spec("detectron2") is not None


@pytest.mark.skipif(HAS_D2, reason="detectron2 is installed here")
def test_absent_detectron2_says_how_to_install(tmp_path):
    with pytest.raises(TaskError, match="pip install"):
        Detectron2Task(weights=tmp_path / "model_final.pkl")


def test_pkl_reader_accepts_arrays(tmp_path):
    path = tmp_path / "model_final.pkl"
    weights = {"backbone.bottom_up.stem.conv1.weight": np.arange(6, dtype=np.float32).reshape(2, 3)}
    with open(path, "wb") as f:
        pickle.dump({"model": weights, "__author__": "Detectron2 Model Zoo"}, f)
    state = load_pkl_weights(path)
    assert np.array_equal(state["backbone.bottom_up.stem.conv1.weight"],
                          weights["backbone.bottom_up.stem.conv1.weight"])


class _Payload:
    def __reduce__(self):
        import os

        return (os.getcwd, ())


def test_pkl_reader_refuses_code(tmp_path):
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"model": {"w": np.zeros(2)}, "x": _Payload()}, f)
    with pytest.raises(TaskError, match="refusing"):
        load_pkl_weights(path)
