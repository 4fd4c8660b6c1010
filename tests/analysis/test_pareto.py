import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis.pareto import pareto_front
from bench.errors import AnalysisError


def dominated_brute_force(points, i, higher_is_better):
    r, q = points[i]
    for j, (r2, q2) in enumerate(points):
        if j == i:
            continue
        better_q = q2 >= q if higher_is_better else q2 <= q
        strictly = r2 < r or (q2 > q if higher_is_better else q2 < q)
        if r2 <= r and better_q and strictly:
            return True
    return False


def test_small_front_in_rate_order():
    points = [(0.8, 0.70), (0.1, 0.50), (0.4, 0.72), (0.3, 0.60), (0.35, 0.55)]
    assert pareto_front(points) == [1, 3, 2]


def test_lower_is_better_uses_the_other_direction():
    points = [(1.0, 10.0), (2.0, 5.0), (3.0, 7.0)]
    assert pareto_front(points, higher_is_better=False) == [0, 1]
    assert pareto_front(points, higher_is_better=True) == [0]


def test_equal_rate_keeps_only_the_best_and_identical_points_both():
    points = [(1.0, 0.5), (1.0, 0.6), (1.0, 0.6), (2.0, 0.6)]
    assert pareto_front(points) == [1, 2]


def test_empty_and_non_finite():
    assert pareto_front([]) == []
    with pytest.raises(AnalysisError, match="point 1"):
        pareto_front([(1.0, 0.5), (math.nan, 0.4)])


coords = st.integers(min_value=0, max_value=8).map(float)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(coords, coords), max_size=25), st.booleans())
def test_matches_brute_force_definition(points, hib):
    front = pareto_front(points, higher_is_better=hib)
    expected = {i for i in range(len(points)) if not dominated_brute_force(points, i, hib)}
    assert set(front) == expected
    rates = [points[i][0] for i in front]
    assert rates == sorted(rates)
