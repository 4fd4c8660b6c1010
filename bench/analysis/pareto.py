"""The Pareto front of (rate, quality) points, e.g. over the four VCM resolution scales."""

from __future__ import annotations

import math
from itertools import groupby

from bench.errors import AnalysisError


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool = True) -> list[int]:
    """Indices of the non-dominated (rate, quality) points, sorted by rate.

    A point is dominated when another has no higher rate and no worse quality, and is
    strictly better in one of the two. Identical points do not dominate each other.
    """
    for i, (rate, quality) in enumerate(points):
        if not (math.isfinite(rate) and math.isfinite(quality)):
            raise AnalysisError(
                f"point {i} is ({rate}, {quality}); rate and quality must be finite"
            )
    sign = 1.0 if higher_is_better else -1.0
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -sign * points[i][1], i))
    front: list[int] = []
    best = -math.inf
    for _, group in groupby(order, key=lambda i: points[i][0]):
        group = list(group)
        top = sign * points[group[0]][1]
        if top > best:
            front.extend(i for i in group if sign * points[i][1] == top)
            best = top
    return front
