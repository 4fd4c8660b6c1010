"""Selecting item ids: an id-list file, then a limit (datasets and evaluators share it)."""

from __future__ import annotations

from pathlib import Path

from bench.errors import DatasetError


def select_ids(
    all_ids: list[str],
    limit: int | None = None,
    ids_file: str | Path | None = None,
    source: str = "dataset",
) -> list[str]:
    """Apply an id-list file (one id per line, '#' comments) and then `limit`."""
    ids = list(all_ids)
    if ids_file is not None:
        path = Path(ids_file)
        if not path.is_file():
            raise DatasetError(f"ids_file {str(path)!r} does not exist")
        wanted = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
        wanted = [w for w in wanted if w]
        known = set(ids)
        missing = [w for w in wanted if w not in known]
        if missing:
            raise DatasetError(
                f"ids_file {str(path)!r} lists {len(missing)} id(s) not in the {source}, "
                f"e.g. {missing[:3]}"
            )
        ids = wanted
    if limit is not None:
        if limit < 1:
            raise DatasetError(f"limit must be >= 1, got {limit}")
        ids = ids[:limit]
    return ids
