"""The MFCNet diagnosis: same bitstreams with and without the original P2, and the P2 baselines."""

from __future__ import annotations

import math

from bench.train.programs import mfcnet_diagnose
from bench.train.programs.mfcnet_diagnose import diagnose, main


def test_rows_share_bitstreams_and_scores_are_aps(tmp_path, capsys, monkeypatch):
    rows = diagnose(images=1, data_root=str(tmp_path))
    printed = {k: dict(v) for k, v in rows.items()}
    share = rows.pop("p2-share")["share"]
    assert 0.0 <= share <= 1.0
    for i in range(7):
        decoded, kept = rows[f"decoded@{i}"], rows[f"keep-p2@{i}"]
        assert decoded["bpp"] == kept["bpp"] > 0  # one bitstream, scored twice
    assert rows["decoded@6"]["bpp"] > rows["decoded@0"]["bpp"]
    for name in ("original", "finenet(P3)", "upsample(P3)", "channel-mean"):
        assert math.isnan(rows[name]["bpp"])
    for r in rows.values():
        assert 0.0 <= r["bbox/AP"] <= 1.0 and 0.0 <= r["segm/AP"] <= 1.0
    monkeypatch.setattr(mfcnet_diagnose, "diagnose", lambda *a: printed)
    main(["--images", "1", "--data-root", str(tmp_path)])
    out = capsys.readouterr().out
    assert "boxes pooled from P2" in out and "| keep-p2@6 |" in out
