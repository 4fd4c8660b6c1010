"""Spec keys of the BD tables: anchors, the monotonic mode, the bootstrap."""

import pytest

from bench.errors import SpecError
from bench.spec import validate_spec

BASE = {
    "name": "t",
    "dataset": {"type": "synthetic-coco"},
    "codecs": [{"name": "a", "type": "jpeg", "points": [10, 50]},
               {"name": "b", "type": "jpeg", "points": [20, 60]},
               {"name": "c", "type": "jpeg", "points": [30, 70]}],
}


def test_anchor_list_puts_anchor_first_without_repeats():
    spec = validate_spec({**BASE, "anchor": "b", "anchors": ["a", "b"]})
    assert spec.anchor_list() == ["b", "a"]
    assert validate_spec(BASE).anchor_list() == []
    assert validate_spec({**BASE, "anchors": ["c"]}).anchor_list() == ["c"]


def test_unknown_anchor_in_the_list_is_named():
    with pytest.raises(SpecError, match="anchor 'd' is not one of the codecs"):
        validate_spec({**BASE, "anchors": ["a", "d"]})


@pytest.mark.parametrize("value, kept", [(True, True), (False, False), ("auto", "auto"),
                                         ("strict", "strict"), ("always", "always")])
def test_monotonic_takes_modes_and_the_old_flag(value, kept):
    assert validate_spec({**BASE, "bd": {"monotonic": value}}).bd.monotonic == kept


def test_monotonic_default_and_bad_mode():
    assert validate_spec(BASE).bd.monotonic == "auto"
    with pytest.raises(SpecError, match="monotonic"):
        validate_spec({**BASE, "bd": {"monotonic": "sometimes"}})


def test_bootstrap_settings():
    spec = validate_spec({**BASE, "bd": {"bootstrap": {"resamples": 0}}})
    assert spec.bd.bootstrap.resamples == 0 and spec.bd.bootstrap.seed == 0
    assert validate_spec(BASE).bd.bootstrap.resamples == 200
    with pytest.raises(SpecError, match="confidence"):
        validate_spec({**BASE, "bd": {"bootstrap": {"confidence": 95}}})
    with pytest.raises(SpecError, match="resampels"):
        validate_spec({**BASE, "bd": {"bootstrap": {"resampels": 10}}})
