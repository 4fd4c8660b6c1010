"""Why jobs failed: the failed items of a run, grouped by reason, for every output.

`collect_failures(store)` reads the planned jobs that failed and their failed items
and groups them by codec and reason (the first line of the error, with quoted paths
and names folded, so one missing folder is one group, not one per image). Each group
keeps a few example items, the rate points it hit, the command of the first failing
binary and that command's last stderr lines. The builders below render the groups for
`icm-bench show` (text and JSON), `icm-bench run` (stderr), summary.md and index.html.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.results.store import DB_NAME, RunStore
from bench.types import RatePoint

EXAMPLES = 3  # example items shown per group
STDERR_LINES = 5  # last stderr lines shown per group
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


@dataclass
class FailureGroup:
    """Failed items (or whole jobs) of one codec that failed for one reason."""

    codec: str
    reason: str  # the first line of the first error of this group
    points: list[str] = field(default_factory=list)  # rate-point labels ("qp=99")
    items: list[str] = field(default_factory=list)  # example item ids
    n_items: int = 0  # failed items (0 when the job failed before its items)
    n_jobs: int = 0
    command: str = ""
    stderr: list[str] = field(default_factory=list)  # last lines

    def to_json(self) -> dict[str, Any]:
        return {"codec": self.codec, "reason": self.reason, "points": self.points,
                "items": self.items, "n_items": self.n_items, "n_jobs": self.n_jobs,
                "command": self.command, "stderr": self.stderr}


def _first_line(error: str | None) -> str:
    lines = [ln.strip() for ln in (error or "").splitlines() if ln.strip()]
    return lines[0] if lines else "failed (no reason recorded)"


def _key(codec: str, reason: str) -> tuple[str, str]:
    return codec, _QUOTED.sub("'…'", reason)


def _tail(text: str | None, n: int = STDERR_LINES) -> list[str]:
    lines = [ln.rstrip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-n:]


def _point_label(point_text: str) -> str:
    try:
        return RatePoint.from_dict(json.loads(point_text)).label
    except (ValueError, KeyError, TypeError):
        return point_text


def collect_failures(store: RunStore) -> list[FailureGroup]:
    """The failed jobs of the store's current plan, grouped by codec and reason."""
    groups: dict[tuple[str, str], FailureGroup] = {}
    seen_jobs: set[tuple[str, str]] = set()
    for label, point, _shard, key in store.plan():
        if (label, key) in seen_jobs:
            continue
        seen_jobs.add((label, key))
        job = store.job(key)
        if job is None or job["status"] == "ok":
            continue
        items = [it for it in store.items([key]) if it.status != "ok"]
        causes = [(it.item_id, it.error) for it in items] or [(None, job["error"])]
        hit: set[tuple[str, str]] = set()
        for item_id, error in causes:
            reason = _first_line(error)
            g = groups.setdefault(_key(label, reason), FailureGroup(label, reason))
            if _key(label, reason) not in hit:
                hit.add(_key(label, reason))
                g.n_jobs += 1
            pl = _point_label(point)
            if pl not in g.points:
                g.points.append(pl)
            if item_id is not None:
                g.n_items += 1
                if len(g.items) < EXAMPLES:
                    g.items.append(item_id)
            if not g.command and job.get("command"):
                g.command, g.stderr = job["command"], _tail(job.get("stderr"))
            elif not g.stderr and error and "\n" in error:
                g.stderr = _tail(error)
    return list(groups.values())


def failures_of_point(groups: list[FailureGroup], codec: str, point_label: str
                      ) -> list[dict[str, Any]]:
    """The groups that hit one point, as JSON (for `show --json`)."""
    return [g.to_json() for g in groups if g.codec == codec and point_label in g.points]


def _where(g: FailureGroup) -> str:
    items = ""
    if g.n_items:
        more = f" and {g.n_items - len(g.items)} more" if g.n_items > len(g.items) else ""
        items = f", {g.n_items} item(s): {', '.join(g.items)}{more}"
    return f"{g.codec} at {', '.join(g.points)}{items}"


def format_failures(groups: list[FailureGroup], limit: int | None = None) -> str:
    """Plain text: one block per reason (where, then the command and its last stderr lines)."""
    if not groups:
        return ""
    shown = groups if limit is None else groups[:limit]
    lines = [f"Failed jobs ({len(groups)} reason(s)):"]
    for g in shown:
        lines.append(f"- {g.reason}")
        lines.append(f"    {_where(g)}")
        if g.command:
            lines.append(f"    command: {g.command}")
        for ln in g.stderr:
            lines.append(f"    | {ln}")
    if len(shown) < len(groups):
        lines.append(f"... and {len(groups) - len(shown)} more reason(s): `icm-bench show RUN`")
    return "\n".join(lines)


# ------------------------------------------------------------------ reports


def _store_dir(source: str) -> Path | None:
    path = Path(source)
    return path if (path / DB_NAME).is_file() else None


def failures_of_runs(runs: list[Any]) -> list[tuple[str, list[FailureGroup]]]:
    """(run name, groups) of each report run read from a store (curves files have none)."""
    out = []
    for run in runs:
        folder = _store_dir(str(getattr(run, "source", "")))
        if folder is None:
            continue
        store = RunStore(folder, readonly=True)
        try:
            groups = collect_failures(store)
        finally:
            store.close()
        if groups:
            out.append((str(run.name), groups))
    return out


def markdown_section(runs: list[Any]) -> list[str]:
    """summary.md lines: a "Failed jobs" section (nothing when no job failed)."""
    found = failures_of_runs(runs)
    if not found:
        return []
    parts = ["", "## Failed jobs", ""]
    for name, groups in found:
        if len(found) > 1:
            parts += [f"### {name}", ""]
        for g in groups:
            parts.append(f"- **{g.reason}** ({_where(g)})")
            if g.command or g.stderr:
                block = ([f"command: {g.command}"] if g.command else []) + g.stderr
                parts += ["", "  ```", *[f"  {ln}" for ln in block], "  ```"]
        parts.append("")
    return parts


def html_section(runs: list[Any]) -> str:
    """index.html: a "Failed jobs" block beside the incomplete-points warning ("" when no
    job failed)."""
    found = failures_of_runs(runs)
    if not found:
        return ""
    esc = html.escape
    total = sum(len(groups) for _, groups in found)
    parts = [f"<section id='failures' class='warn'><p><strong>Failed jobs</strong>: {total} "
             "reason(s); their points are incomplete (`icm-bench show RUN` lists them too)</p>"]
    for name, groups in found:
        if len(found) > 1:
            parts.append(f"<h3>{esc(name)}</h3>")
        rows = []
        for g in groups:
            block = ([f"command: {g.command}"] if g.command else []) + g.stderr
            detail = f"<pre>{esc(chr(10).join(block))}</pre>" if block else ""
            rows.append(f"<tr class='incomplete'><td>{esc(g.reason)}{detail}</td>"
                        f"<td>{esc(_where(g))}</td></tr>")
        parts.append("<table><thead><tr><th>reason</th><th>where</th></tr></thead><tbody>"
                     + "".join(rows) + "</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)
