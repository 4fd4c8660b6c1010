"""A non-editable install (a wheel in a fresh virtual environment) finds its presets,
anchor definitions (`include:`), dataset manifests (`manifest:`) and recipes: they ship
as package data. Runs from a folder outside the checkout."""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def sh(*args, cwd, timeout=300):
    # without PYTHONPATH: the installed wheel must be found, never a checkout on the path
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv (seeing this environment's dependencies) with icm-bench from a built wheel."""
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    shutil.copytree(ROOT / "bench", src / "bench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    built = sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
               "--no-index", ".", "-w", tmp / "dist", cwd=src)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("icm_bench-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    inst = sh(sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps",
              "--no-index", wheel, cwd=tmp)
    if inst.returncode != 0 and "no such option: --python" in inst.stderr:
        pytest.skip("pip too old for --python")
    assert inst.returncode == 0, inst.stderr
    work = tmp / "elsewhere"
    work.mkdir()
    return env_dir, work


def test_wheel_ships_presets_anchors_manifests_recipes(installed):
    env_dir, work = installed
    py, exe = env_dir / "bin" / "python", env_dir / "bin" / "icm-bench"
    where = sh(py, "-c", "import bench; print(bench.__file__)", cwd=work)
    assert str(env_dir) in where.stdout, where.stdout + where.stderr  # not the checkout
    assert sh(exe, "--version", cwd=work).stdout.startswith("icm-bench ")
    presets = sh(exe, "ls", "presets", cwd=work)
    assert presets.returncode == 0 and "demo" in presets.stdout, presets.stderr
    files = sh(py, "-c", "import bench.spec as s, bench.train.recipe as r; "
                         "print(s._find_named_yaml('vcm-image-vvenc', s.ANCHORS_DIRS, 'a'));"
                         "print(s._find_named_yaml('coco2017-val', s.MANIFEST_DIRS, 'm'));"
                         "print((r.RECIPES_DIR / 'detector.yaml').is_file())", cwd=work)
    assert files.returncode == 0, files.stderr
    anchor, manifest, recipe = files.stdout.split()
    assert str(env_dir) in anchor and str(env_dir) in manifest and recipe == "True"
    # the committed weights the presets use, sub-folders included (learned-images)
    weights = sh(py, "-c", "import pathlib, bench.models as m; w = pathlib.Path(m.__file__)"
                           ".parent / 'weights'; print(sorted(p.name for p in w.rglob('*.p*')))",
                 cwd=work)
    assert "learned-baseline.pt" in weights.stdout and ".pth.tar" in weights.stdout, weights


def test_tiny_run_with_an_anchor_include_from_the_wheel(installed):
    env_dir, work = installed
    spec = {
        "name": "wheel",
        "dataset": {"type": "synthetic-coco", "params": {"n_images": 1, "width": 64,
                                                          "height": 64, "root": "data"}},
        "codecs": [{"include": "vcm-image-vvenc", "params": {"preset": "faster"},
                    "points": [37]},
                   {"name": "id", "type": "identity", "points": [0]}],
        "execute": {"executor": "serial"},
        "report": {"formats": ["md"]},
    }
    (work / "wheel.yaml").write_text(yaml.safe_dump(spec))
    proc = sh(env_dir / "bin" / "icm-bench", "run", "wheel.yaml", cwd=work)
    if proc.returncode != 0 and "no encoder 'libvvenc'" in proc.stderr:
        pytest.skip("this ffmpeg has no libvvenc")
    assert proc.returncode == 0, proc.stderr
    assert (work / "reports" / "wheel" / "summary.md").is_file()
    manifest = dict(spec, name="m", dataset={"manifest": "coco2017-val"})
    (work / "m.yaml").write_text(yaml.safe_dump(manifest))
    proc = sh(env_dir / "bin" / "icm-bench", "run", "m.yaml", cwd=work)
    assert "manifest" not in proc.stderr and "COCO" in proc.stderr  # found; no COCO here
