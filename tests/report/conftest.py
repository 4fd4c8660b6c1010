"""Fixtures for report tests: a tiny real run (test codecs, no ffmpeg) and hand-made runs."""

from __future__ import annotations

import pytest

from bench.execute.runner import run_spec
from bench.results.store import RunStore
from bench.spec import validate_spec


def tiny_spec(root, name="t", **over):
    raw = {
        "name": name,
        "description": "tiny report run",
        "dataset": {"type": "synthetic-coco",
                    "params": {"n_images": 4, "width": 64, "height": 64, "root": str(root / "data")}},
        "codecs": [
            {"name": "qa", "type": "fake_codecs:QuantZlibCodec", "points": [4, 16, 32, 64]},
            {"name": "qb", "type": "fake_codecs:QuantZlibCodec", "points": [8, 24, 48]},
            {"name": "bad", "type": "fake_codecs:FailingCodec", "params": {"fail_at": [16]},
             "points": [4, 16, 32]},
        ],
        "anchor": "qa",
        "execute": {"executor": "serial", "shard_size": 4},
    }
    raw.update(over)
    return validate_spec(raw)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished tiny run (one failing point); yields its results folder."""
    root = tmp_path_factory.mktemp("tiny")
    out = run_spec(tiny_spec(root), root / "results", None, progress=False)
    return out.run_dir


@pytest.fixture
def tiny_store(tiny_run):
    store = RunStore(tiny_run)
    yield store
    store.close()
