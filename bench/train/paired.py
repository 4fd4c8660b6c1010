"""Paired comparison of two training runs from their text logs (`icm-bench train` output).

Two recipes with the same program, data and seed draw the same batches (and rate levels)
in the same order, so their logged window means differ by the networks, not by the data.
This compares them window by window: for each logged key, the mean over windows of
A/B - 1 (dB keys: A - B) with its standard error. A diagnostic of the training
objective (likelihood rates, training crops), never a reported rate or accuracy.

    python -m bench.train.paired bench/models/logs/ci-icm.log \
        bench/models/logs/ci-icm-baseline.log --after 1000
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from pathlib import Path

from bench.errors import BenchError

LINE = re.compile(r"^\[(?P<name>[^\]]+)\] step (?P<step>\d+)/\d+\s+(?P<rest>.*)$")
PAIR = re.compile(r"([A-Za-z_][\w/]*) (-?[\d.]+(?:e[-+]?\d+)?|inf|nan)(?=\s|$)")
DB_KEYS = frozenset({"psnr"})
SKIP_KEYS = frozenset({"lr", "aux", "skipped", "grad_not_finite"})


def parse_log(text: str) -> dict[int, dict[str, float]]:
    """{step: {key: window mean}} of a trainer's step lines (eval and other lines ignored)."""
    windows: dict[int, dict[str, float]] = {}
    for line in text.splitlines():
        m = LINE.match(line.strip())
        if m is None:
            continue
        values = {k: float(v) for k, v in PAIR.findall(m["rest"])}
        windows[int(m["step"])] = values
    return windows


def paired(a: dict[int, dict[str, float]], b: dict[int, dict[str, float]],
           after: int = 0, until: int | None = None) -> list[dict[str, float | str | int]]:
    """Per key logged in both runs: mean and standard error of the window-wise difference
    over the windows ending in (after, until]."""
    last = until if until is not None else max([*a, *b, 0])
    steps = sorted(s for s in set(a) & set(b) if after < s <= last)
    if not steps:
        raise BenchError(f"the two logs share no logged step in ({after}, {last}]")
    keys = [k for k in a[steps[0]] if k in b[steps[0]] and k not in SKIP_KEYS]
    rows = []
    for key in keys:
        diffs = [_diff(key, a[s].get(key), b[s].get(key)) for s in steps]
        diffs = [d for d in diffs if d is not None]
        if len(diffs) < 2:
            continue
        rows.append({"key": key, "unit": "dB" if key in DB_KEYS else "%",
                     "mean": statistics.fmean(diffs),
                     "se": statistics.stdev(diffs) / math.sqrt(len(diffs)),
                     "windows": len(diffs)})
    return rows


def _diff(key: str, va: float | None, vb: float | None) -> float | None:
    if va is None or vb is None or not (math.isfinite(va) and math.isfinite(vb)):
        return None
    if key in DB_KEYS:
        return va - vb
    return None if vb == 0 else 100.0 * (va / vb - 1.0)


def format_rows(rows: list[dict], name_a: str, name_b: str, after: int,
                until: int | None = None) -> str:
    span = f"after step {after}" + ("" if until is None else f" up to step {until}")
    head = (f"{name_a} against {name_b}, logged windows {span} "
            "(A/B - 1 in %, A - B in dB; +- one standard error)\n\n"
            "| key | difference | windows |\n|---|---:|---:|\n")
    body = "".join(f"| {r['key']} | {r['mean']:+.2f} {r['unit']} +- {r['se']:.2f} | "
                   f"{r['windows']} |\n" for r in rows)
    return head + body


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.train.paired", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log_a", type=Path, help="the run under test (text log)")
    ap.add_argument("log_b", type=Path, help="the run it is compared with")
    ap.add_argument("--after", type=int, default=0, help="use windows after this step")
    ap.add_argument("--until", type=int, default=None, help="and up to this step")
    args = ap.parse_args(argv)
    try:
        logs = [parse_log(_read(p)) for p in (args.log_a, args.log_b)]
        rows = paired(*logs, after=args.after, until=args.until)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_rows(rows, args.log_a.stem, args.log_b.stem, args.after, args.until), end="")
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise BenchError(f"cannot read the training log {str(path)!r}: {exc.strerror}; "
                         "give the text that `icm-bench train` printed") from None


if __name__ == "__main__":
    raise SystemExit(main())
