"""execute.devices: codecs on an accelerator run one worker per device; CPU codecs keep theirs."""

from __future__ import annotations

import pytest

from bench.execute.runner import run_spec
from bench.results.store import RunStore
from bench.spec import validate_spec


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_device_codecs_run_on_the_listed_devices(tmp_path, executor):
    spec = validate_spec({
        "name": "dev",
        "dataset": {"type": "synthetic-coco", "params": {"n_images": 4, "width": 64, "height": 64,
                                                         "root": str(tmp_path / "data")}},
        "codecs": [{"name": "gpu", "type": "fake_codecs:DeviceCodec", "points": [4, 8, 16]},
                   {"name": "cpu", "type": "fake_codecs:QuantZlibCodec", "points": [4, 8]}],
        "execute": {"executor": executor, "workers": 2, "shard_size": 2,
                    "devices": ["accel:0", "accel:1"]},
    })
    out = run_spec(spec, tmp_path / "results", None, progress=False)
    assert out.jobs_failed == 0
    store = RunStore(out.run_dir)
    devices: dict[str, set[str]] = {}
    for label, _point, _shard, key in store.plan():
        devices.setdefault(label, set()).update(it.device for it in store.items([key]))
    store.close()
    assert devices["gpu"] <= {"accel:0", "accel:1"}
    assert devices["cpu"] == {"cpu"}
    if executor == "process":
        assert devices["gpu"] == {"accel:0", "accel:1"}  # both device lanes were used
    # the device a job ran on does not enter its key: a rerun finds every job done
    again = run_spec(spec, tmp_path / "results", None, progress=False)
    assert again.jobs_run == 0
