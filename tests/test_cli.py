import json
import subprocess
import sys

import pytest
import yaml


def icm(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_spec_error_is_one_message_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"dataset": {"type": "synthetic-coco"}, "codecs": [], "anchr": "x"}))
    proc = icm("run", str(bad))
    assert proc.returncode == 2
    assert "anchr: unknown key. Did you mean 'anchor'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_preset_exit_2():
    proc = icm("run", "nosuchpreset")
    assert proc.returncode == 2 and "neither a spec file nor a preset" in proc.stderr


def test_ls_and_show_json(tmp_path):
    proc = icm("ls", "codecs")
    assert proc.returncode == 0 and "vvenc" in proc.stdout and "identity" in proc.stdout
    assert icm("ls", "presets").stdout.startswith("demo") or "demo" in icm("ls", "presets").stdout
    assert icm("ls", "codex").returncode == 2

    spec = {
        "name": "cli",
        "dataset": {"type": "synthetic-coco", "params": {"n_images": 2, "width": 64, "height": 64,
                                                          "root": str(tmp_path / "data")}},
        "codecs": [{"name": "id", "type": "identity", "points": [0]}],
        "execute": {"executor": "serial"},
    }
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump(spec))
    proc = icm("run", str(path), "--results-dir", str(tmp_path / "r"), "--reports-dir", str(tmp_path / "p"))
    assert proc.returncode == 0, proc.stderr
    assert "report:" in proc.stdout
    proc = icm("show", "cli", "--json", "--results-dir", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    (pt,) = json.loads(proc.stdout)
    assert set(pt) == {"codec", "point", "bpp", "rates", "metrics", "metric_rates", "complete"}
    assert pt["complete"] is True and pt["bpp"] == pytest.approx(24.0)
    assert icm("show", "nope", "--results-dir", str(tmp_path / "r")).returncode == 2
