"""Paired comparison of two training logs (bench.train.paired)."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.train.paired import main, paired, parse_log


def _log(name: str, rows: list[tuple[int, float, float]]) -> str:
    lines = [f"[{name}] step {s}/300  loss {loss:.4g}  bpp {bpp:.4g}  psnr 24.0  lr 1e-05  "
             "0.8 s/step  ETA 1m00s" for s, loss, bpp in rows]
    lines.insert(1, f"[{name}] eval at step 100: L0/bpp 0.1  L0/bbox_AP 0.4")
    lines.append(f"weights: bench/models/weights/{name}.pt; card: runs/x/card.md")
    return "\n".join(lines) + "\n"


A = _log("a", [(100, 1.1, 0.20), (200, 1.2, 0.30), (300, 1.0, 0.25)])
B = _log("b", [(100, 1.0, 0.25), (200, 1.0, 0.30), (300, 1.0, 0.20)])


def test_parse_log_reads_step_lines_only():
    windows = parse_log(A)
    assert sorted(windows) == [100, 200, 300]
    assert windows[200] == {"loss": 1.2, "bpp": 0.3, "psnr": 24.0, "lr": 1e-05}


def test_paired_differences_are_window_means_with_standard_errors():
    rows = {r["key"]: r for r in paired(parse_log(A), parse_log(B))}
    assert "lr" not in rows
    assert rows["loss"]["mean"] == pytest.approx(10.0)        # +10 %, +20 %, 0 %
    assert rows["loss"]["se"] == pytest.approx(10.0 / 3 ** 0.5)
    assert rows["bpp"]["mean"] == pytest.approx((-20.0 + 0.0 + 25.0) / 3)
    assert rows["psnr"]["unit"] == "dB" and rows["psnr"]["mean"] == 0.0
    after = {r["key"]: r for r in paired(parse_log(A), parse_log(B), after=100)}
    assert after["loss"]["windows"] == 2 and after["loss"]["mean"] == pytest.approx(10.0)
    first = {r["key"]: r for r in paired(parse_log(A), parse_log(B), until=200)}
    assert first["loss"]["windows"] == 2 and first["loss"]["mean"] == pytest.approx(15.0)
    assert paired(parse_log(A), parse_log(B), after=100, until=200) == []  # one window


def test_logs_without_common_steps_are_an_error():
    with pytest.raises(BenchError, match=r"in \(300, 300\]"):
        paired(parse_log(A), parse_log(B), after=300)


def test_cli_prints_a_table_and_names_a_missing_log(tmp_path, capsys):
    (tmp_path / "a.log").write_text(A)
    (tmp_path / "b.log").write_text(B)
    assert main([str(tmp_path / "a.log"), str(tmp_path / "b.log")]) == 0
    assert "| loss | +10.00 % +- 5.77 | 3 |" in capsys.readouterr().out
    assert main([str(tmp_path / "a.log"), str(tmp_path / "missing.log")]) == 2
    assert "missing.log" in capsys.readouterr().err
