"""The worker's sample cache: loads once, hands out copies, bounded, sees replaced files."""

import os

import numpy as np

from bench.execute.worker import SampleCache
from bench.types import Sample


class Files:
    def __init__(self, folder):
        self.folder, self.loads = folder, 0

    def image_files(self, item_id):
        return [self.folder / f"{item_id}.npy"]

    def load(self, item_id):
        self.loads += 1
        return Sample(id=item_id, images=(np.load(self.image_files(item_id)[0]),), meta={"n": 1})


def test_loads_once_and_hands_out_copies(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 4, 3), np.uint8))
    ds, cache = Files(tmp_path), SampleCache(10_000)
    first = cache.load("ds", ds, "a")
    first.images[0][0, 0, 0] = 9
    first.meta["n"] = 2
    again = cache.load("ds", ds, "a")
    assert ds.loads == 1 and (cache.hits, cache.misses) == (1, 1)
    assert again.images[0][0, 0, 0] == 0 and again.meta == {"n": 1}


def test_a_replaced_file_is_read_again(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.zeros((4, 4, 3), np.uint8))
    ds, cache = Files(tmp_path), SampleCache(10_000)
    cache.load("ds", ds, "a")
    np.save(path, np.ones((4, 4, 3), np.uint8))
    os.utime(path, ns=(1, 10**18))
    assert cache.load("ds", ds, "a").images[0][0, 0, 0] == 1 and ds.loads == 2


def test_bounded_by_bytes(tmp_path):
    for name in "abc":
        np.save(tmp_path / f"{name}.npy", np.zeros((10, 10, 3), np.uint8))  # 300 bytes each
    ds, cache = Files(tmp_path), SampleCache(700)
    for name in "abc":
        cache.load("ds", ds, name)
    assert cache.bytes == 600
    cache.load("ds", ds, "a")  # evicted first: read again
    assert ds.loads == 4
    off = SampleCache(0)
    off.load("ds", ds, "a")
    off.load("ds", ds, "a")
    assert ds.loads == 6 and off.bytes == 0
