"""Storage faults: a full disk, a read-only results folder, a permission error on
bitstreams/. Each gives one line naming the path and what to do; finished jobs stay
stored and a re-run completes. `show` works on a read-only store."""

import errno
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml
from faultkit import ROOT, env, points_json, run_cli, tiny_spec, write_spec

from bench.cli import run_main
from bench.results.store import RunStore


def unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_unshare = pytest.mark.skipif(not unshare_works(),
                                   reason="unprivileged user+mount namespaces unavailable")


class FullDisk:
    """A sqlite connection whose disk fills up after `ok` stored jobs."""

    def __init__(self, con, ok):
        self._con, self.left = con, ok

    def execute(self, sql, *args):
        if sql.lstrip().upper().startswith("INSERT OR REPLACE INTO JOBS"):
            if self.left <= 0:
                raise sqlite3.OperationalError("database or disk is full")
            self.left -= 1
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)

    def __enter__(self):
        return self._con.__enter__()

    def __exit__(self, *exc):
        return self._con.__exit__(*exc)


def cli(capsys, spec, results, *extra):
    code = run_main(["run", str(spec), "--results-dir", str(results),
                     "--reports-dir", str(results.parent / "reports"), *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


def error_line(err):
    (line,) = [ln for ln in err.splitlines() if ln.startswith("error:")]
    return line


def stored_ok(results, name):
    store = RunStore(results / name, readonly=True)
    try:
        return len(store.done_keys())
    finally:
        store.close()


def test_disk_full_in_sqlite_then_resume_completes(tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path, tiny_spec(tmp_path, "d", n_images=2))
    results = tmp_path / "r"
    real = RunStore._connect_rw
    monkeypatch.setattr(RunStore, "_connect_rw", lambda self: FullDisk(real(self), ok=3))
    code, err = cli(capsys, spec, results)
    line = error_line(err)
    assert code == 2 and "database or disk is full" in line
    assert str(results / "d" / "run.sqlite") in line and "free space" in line
    assert stored_ok(results, "d") == 3  # the jobs stored before the disk filled are kept
    monkeypatch.setattr(RunStore, "_connect_rw", real)
    code, err = cli(capsys, spec, results)
    assert code == 0, err
    assert stored_ok(results, "d") == 6
    code, _ = cli(capsys, spec, tmp_path / "clean")
    assert points_json(results, "d") == points_json(tmp_path / "clean", "d")


@pytest.mark.parametrize("err_no,words", [(errno.ENOSPC, "disk is full"),
                                          (errno.EACCES, "permission denied")])
def test_bitstream_write_errors_name_the_path(tmp_path, monkeypatch, capsys, err_no, words):
    spec = write_spec(tmp_path, tiny_spec(tmp_path, "b", n_images=2))
    results = tmp_path / "r"
    real, calls = Path.write_bytes, []

    def write_bytes(self, data):
        if "bitstreams" in self.parts:
            calls.append(self)
            if len(calls) > 2:
                raise OSError(err_no, __import__("os").strerror(err_no), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    code, err = cli(capsys, spec, results)
    line = error_line(err)
    assert code == 2 and words in line.lower() and "bitstreams" in line
    assert stored_ok(results, "b") == 2
    monkeypatch.setattr(Path, "write_bytes", real)
    code, err = cli(capsys, spec, results)
    assert code == 0 and stored_ok(results, "b") == 6


def test_show_writes_nothing_next_to_a_finished_store(tmp_path, capsys):
    spec = write_spec(tmp_path, tiny_spec(tmp_path, "s", n_images=1))
    results = tmp_path / "r"
    assert cli(capsys, spec, results)[0] == 0
    folder = results / "s"
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    for args in (["show", "s"], ["show", "s", "--json"]):
        assert run_main([*args, "--results-dir", str(results)]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


SCRIPT = """set -e
mount --bind "$1" "$1"
mount -o remount,bind,ro "$1"
shift
exec "$@"
"""


def in_readonly_mount(folder, *argv):
    """Run argv with `folder` mounted read-only (a private mount namespace; works as root)."""
    return subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT, "sh", str(folder), *argv],
                          env=env(), cwd=ROOT, capture_output=True, text=True, timeout=300)


@needs_unshare
def test_show_and_run_on_a_read_only_folder(tmp_path, capsys):
    import sys

    spec = write_spec(tmp_path, tiny_spec(tmp_path, "ro", n_images=1))
    results = tmp_path / "r"
    assert cli(capsys, spec, results)[0] == 0
    show = in_readonly_mount(results, sys.executable, "-m", "bench.cli", "show", "ro",
                             "--results-dir", str(results))
    assert show.returncode == 0 and "complete" in show.stdout, show.stderr
    # a spec with a new point must write: one line, the path, what to do
    raw = yaml.safe_load(spec.read_text())
    raw["codecs"][0]["points"].append(128)
    spec.write_text(yaml.safe_dump(raw))
    run = in_readonly_mount(results, sys.executable, "-m", "bench.cli", "run", str(spec),
                            "--results-dir", str(results), "--reports-dir",
                            str(tmp_path / "reports"))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    line = error_line(run.stderr)
    assert str(results / "ro") in line and ("read-only" in line or "writable" in line), line


FULL_DISK = """set -e
mount -t tmpfs -o size=2m tmpfs "$1"
python=$2; spec=$3; out=$4
head -c 1900000 /dev/zero > "$1/filler" || true
set +e
"$python" -m bench.cli run "$spec" --results-dir "$1/r" --reports-dir "$1/rep" 2> "$out/err1"
echo $? > "$out/rc1"
rm -f "$1/filler"
"$python" -m bench.cli run "$spec" --results-dir "$1/r" --reports-dir "$1/rep" 2> "$out/err2"
echo $? > "$out/rc2"
"$python" -m bench.cli show full --json --results-dir "$1/r" > "$out/points.json"
"""


@needs_unshare
def test_real_full_disk_then_resume(tmp_path):
    """A 2 MB tmpfs, nearly filled: the run stops with one line, the resume completes."""
    import json
    import sys

    raw = tiny_spec(tmp_path, "full", [{"name": "id", "type": "identity", "points": [0]}],
                    n_images=8)
    spec = write_spec(tmp_path, raw)
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    # generate the dataset outside the small disk first
    assert run_cli("run", str(spec), "--results-dir", str(tmp_path / "clean"),
                   "--reports-dir", str(tmp_path / "rep")).returncode == 0
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", FULL_DISK, "sh", str(mnt),
                           sys.executable, str(spec), str(out)],
                          env=env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    err1 = (out / "err1").read_text()
    assert (out / "rc1").read_text().strip() == "2", err1
    assert "Traceback" not in err1
    line = error_line(err1)
    assert "full" in line and str(mnt) in line, line
    assert (out / "rc2").read_text().strip() == "0", (out / "err2").read_text()
    assert json.loads((out / "points.json").read_text()) == points_json(tmp_path / "clean",
                                                                         "full")
