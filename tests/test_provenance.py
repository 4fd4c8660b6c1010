"""Provenance: complete, cheap, and never importing torch."""

import subprocess
import sys
from importlib import metadata

from bench import provenance


def test_collect_does_not_import_torch():
    code = ("import sys; from bench import provenance; p = provenance.collect({'a': 'v1'}); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert p['codecs'] == {'a': 'v1'} and p['packages']['numpy']; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_distributions_match_importlib_metadata():
    def norm(name):
        return name.lower().replace("-", "_").replace(".", "_")

    expected = {}
    for d in metadata.distributions():
        if d.metadata.get("Name"):
            expected.setdefault(norm(d.metadata["Name"]), d.version)
    got = {norm(k): v for k, v in provenance.all_distributions().items()}
    assert got == expected
    assert provenance.package_versions()["numpy"] == metadata.version("numpy")


def test_driver_gpus_are_read_from_the_information_files(tmp_path):
    for bus, model in (("0000:01:00.0", "NVIDIA H100"), ("0000:02:00.0", "NVIDIA L4")):
        (tmp_path / bus).mkdir()
        (tmp_path / bus / "information").write_text(f"Model: \t {model}\nIRQ: 1\n")
    assert provenance._driver_gpus(tmp_path) == ["NVIDIA H100", "NVIDIA L4"]
    assert provenance._driver_gpus(tmp_path / "absent") == []


def test_threads_are_recorded():
    info = provenance.threads_info({"executor": "process", "workers": 3, "threads_per_worker": 2})
    assert (info["workers"], info["threads_per_job"], info["codec_binary_threads"]) == (3, 2, 1)
    assert provenance.threads_info({"executor": "serial"})["workers"] == 1
    assert provenance.collect()["threads"]["threads_per_job"] == 1
