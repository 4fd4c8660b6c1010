import pytest

from bench.errors import RegistryError, SpecError
from bench.registry import CODECS, Registry


def test_lazy_target_imported_on_first_get():
    reg = Registry("thing", "icm_bench.test_nothing")
    reg.register("ordered", "collections:OrderedDict", "help text")
    assert reg.names() == ["ordered"]
    from collections import OrderedDict

    assert reg.get("ordered") is OrderedDict
    assert reg.help("ordered") == "help text"


def test_unknown_name_suggests():
    with pytest.raises(RegistryError, match="Did you mean 'vvenc'"):
        CODECS.get("vvnec")


def test_duplicate_registration_rejected():
    reg = Registry("thing", "icm_bench.test_nothing")
    reg.register("a", "collections:OrderedDict")
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("a", "collections:Counter")


def test_direct_module_attr_target():
    assert CODECS.get("fake_codecs:QuantZlibCodec").point_kind == "step"
    with pytest.raises(RegistryError, match="cannot import"):
        CODECS.get("no_such_module_xyz:Thing")


def test_build_rejects_unknown_params_with_suggestion():
    with pytest.raises(SpecError, match="Did you mean 'fail_at'"):
        CODECS.build("fake_codecs:FailingCodec", {"fail_att": [1]})


def test_entry_point_plugins(monkeypatch):
    from importlib.metadata import EntryPoint

    eps = [EntryPoint(name="plug", value="collections:Counter", group="icm_bench.test_group")]
    monkeypatch.setattr("bench.registry.entry_points", lambda group: [e for e in eps if e.group == group])
    reg = Registry("thing", "icm_bench.test_group")
    from collections import Counter

    assert "plug" in reg.names()
    assert reg.get("plug") is Counter
