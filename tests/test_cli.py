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
    assert set(pt) == {"codec", "point", "bpp", "rates", "metrics", "metric_rates", "complete",
                       "units", "failures"}
    assert pt["units"]["psnr_y"] == "dB"
    assert pt["failures"] == []
    assert pt["complete"] is True and pt["bpp"] == pytest.approx(24.0)
    assert icm("show", "nope", "--results-dir", str(tmp_path / "r")).returncode == 2


WRONG = [
    [], ["--bogus"], ["run"], ["run", "a", "b"], ["run", "x.yaml", "--workers", "abc"],
    ["run", "x.yaml", "--nope"], ["ls"], ["ls", "a", "b"], ["show"], ["show", "--json"],
    ["doctor", "extra"], ["bd"], ["bd", "a.csv"], ["report"], ["report", "--formats"],
    ["export"], ["compare"], ["compare", "a"], ["train"], ["eval"], ["eval", "coco"],
    ["eval", "coco", "a.json", "b.json"], ["eval", "kitti"], ["eval", "nope"], ["codec"],
    ["codec", "run"], ["codec", "run", "jpeg", "x.png"], ["nosuchcommand"],
]


@pytest.mark.parametrize("args", WRONG, ids=lambda a: " ".join(a) or "(bare)")
def test_every_command_used_wrongly_is_one_line_exit_2(args, capsys):
    from bench.cli import run_main

    code = run_main(args)
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "--help" in lines[0]


def test_bare_command_and_version_through_the_entry_point():
    proc = icm()
    assert proc.returncode == 2 and proc.stderr.startswith("error: missing command")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = icm("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("icm-bench ")
    assert icm("--help").returncode == 0


def test_internal_error_is_one_line_with_the_traceback_in_a_file(capsys, monkeypatch):
    from bench import cli

    def boom(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.delenv("ICM_BENCH_DEBUG", raising=False)
    monkeypatch.setattr("bench.catalog.listing", boom)
    assert cli.run_main(["ls", "codecs"]) == 1
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert "internal error ZeroDivisionError: a bug" in line
    path = line.split("traceback in ")[1].split(" ")[0]
    assert "ZeroDivisionError" in open(path).read()
    monkeypatch.setenv("ICM_BENCH_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.run_main(["ls", "codecs"])


def test_run_exits_1_on_failed_jobs_unless_allowed(tmp_path):
    spec = {
        "name": "fails",
        "dataset": {"type": "synthetic-coco", "params": {"n_images": 1, "width": 64, "height": 64,
                                                          "root": str(tmp_path / "data")}},
        "codecs": [{"name": "bad", "type": "fake_codecs:FailingCodec",
                    "params": {"fail_at": [8]}, "points": [8]}],
        "execute": {"executor": "serial"},
        "report": {"formats": ["md"]},
    }
    path = tmp_path / "fails.yaml"
    path.write_text(yaml.safe_dump(spec))
    args = ["run", str(path), "--results-dir", str(tmp_path / "r"), "--reports-dir",
            str(tmp_path / "p")]
    env = {**__import__("os").environ, "PYTHONPATH": str(__import__("pathlib").Path(__file__).parent / "support")}
    proc = subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "encoder exploded" in proc.stderr and "1 job(s) failed" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "bench.cli", *args, "--allow-failures"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
