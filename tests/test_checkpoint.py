"""Weights files: pickled code refused up front, hashes cached, formats checked, atomic saves."""

from __future__ import annotations

import collections
import json
import os

import pytest
import torch

from bench import checkpoint
from bench.checkpoint import (
    CheckpointError,
    check_no_code,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ICM_BENCH_CACHE_DIR", str(tmp_path / "cache"))
    checkpoint._memo.clear()


def test_a_state_dict_loads(tmp_path):
    sd = collections.OrderedDict(w=torch.randn(2, 3), n=torch.tensor(3))
    path = save_checkpoint(tmp_path / "ok.pt", {"format": "x/1", "state_dict": sd, "cfg": {"a": [1]}})
    out = load_checkpoint(path, fmt="x/1")
    assert torch.equal(out["state_dict"]["w"], sd["w"]) and out["cfg"] == {"a": [1]}


@pytest.mark.parametrize("zipped", [True, False])
def test_pickled_code_is_refused_before_torch_reads_it(tmp_path, zipped, monkeypatch):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(1), "x": Payload()}, path, _use_new_zipfile_serialization=zipped)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was reached"))
    with pytest.raises(CheckpointError, match="posix.system|os.system"):
        load_checkpoint(path)


def test_a_pickled_module_is_refused(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(CheckpointError, match="torch.nn.modules.linear.Linear"):
        check_no_code(path)


def test_format_and_missing_file_are_clear(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", {"format": "a/1"})
    with pytest.raises(CheckpointError, match="not a 'b/1' weights file"):
        load_checkpoint(path, fmt="b/1")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "junk.pt")


def test_hash_is_cached_by_size_and_mtime(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    first = file_sha256(path)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    cached = json.loads((tmp_path / "cache" / "sha256.json").read_text())
    assert list(cached.values()) == [first]
    checkpoint._memo.clear()
    monkeypatch.setattr(checkpoint, "_hash_file", lambda p: pytest.fail("re-hashed"))
    assert file_sha256(path) == first  # from the persistent cache
    monkeypatch.undo()
    path.write_bytes(b"abcd")  # size (and mtime) change: hashed again
    assert file_sha256(path) != first
