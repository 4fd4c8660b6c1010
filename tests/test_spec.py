import pytest
import yaml

from bench.errors import SpecError
from bench.spec import apply_override, load_spec, preset_names, validate_spec

BASE = {
    "name": "t",
    "dataset": {"type": "synthetic-coco", "params": {"n_images": 2}},
    "codecs": [
        {"name": "a", "type": "jpeg", "points": [2, 4]},
        {"name": "b", "type": "x265", "points": [27, 32]},
    ],
    "anchor": "b",
}


def test_valid_spec_fills_defaults():
    spec = validate_spec(BASE)
    assert spec.execute.executor == "process"
    assert spec.codec("a").points == [2, 4]
    assert spec.bd.method == "pchip"


def test_unknown_key_names_dotted_path_and_suggests():
    raw = {**BASE, "codecs": [{"name": "a", "type": "jpeg", "pionts": [2]}]}
    raw["anchor"] = None
    with pytest.raises(SpecError) as err:
        validate_spec(raw)
    assert "codecs.0.pionts" in str(err.value)
    assert "Did you mean 'points'" in str(err.value)


def test_unknown_top_level_key_suggests():
    with pytest.raises(SpecError, match=r"excute: unknown key\. Did you mean 'execute'"):
        validate_spec({**BASE, "excute": {}})


def test_anchor_must_be_a_codec():
    with pytest.raises(SpecError, match="anchor 'c' is not one of the codecs"):
        validate_spec({**BASE, "anchor": "c"})


def test_duplicate_codec_names_rejected():
    raw = {**BASE, "codecs": [{"type": "jpeg", "points": [2]}, {"type": "jpeg", "points": [3]}]}
    raw["anchor"] = None
    with pytest.raises(SpecError, match="unique"):
        validate_spec(raw)


def test_bad_value_type_is_reported_with_path():
    with pytest.raises(SpecError, match="execute.shard_size"):
        validate_spec({**BASE, "execute": {"shard_size": 0}})


def test_override_by_index_and_by_name():
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    apply_override(raw, "codecs.0.points=[5, 6]")
    apply_override(raw, "codecs.b.params.preset=slow")
    apply_override(raw, "execute.workers=3")
    spec = validate_spec(raw)
    assert spec.codec("a").points == [5, 6]
    assert spec.codec("b").params == {"preset": "slow"}
    assert spec.execute.workers == 3


@pytest.mark.parametrize("bad", ["nokey", "codecs.7.points=1", "codecs.zz.points=1"])
def test_bad_override(bad):
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    with pytest.raises(SpecError):
        apply_override(raw, bad)


def test_load_spec_from_file_and_unknown_preset(tmp_path):
    path = tmp_path / "my.yaml"
    raw = dict(BASE)
    raw.pop("name")
    path.write_text(yaml.safe_dump(raw))
    assert load_spec(str(path)).name == "my"
    with pytest.raises(SpecError, match="Did you mean 'demo'"):
        load_spec("dem")


def test_invalid_yaml_is_a_spec_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(str(path))


def test_presets_validate():
    assert "demo" in preset_names()
    for name in preset_names():
        load_spec(name)


def test_include_anchor_definition(tmp_path, monkeypatch):
    (tmp_path / "anchors").mkdir()
    (tmp_path / "anchors" / "my-anchor.yaml").write_text(
        yaml.safe_dump({"name": "my-anchor", "type": "x265", "params": {"scale": 100},
                        "points": [22, 27], "source": "test"})
    )
    monkeypatch.chdir(tmp_path)
    raw = {**BASE, "codecs": [{"include": "my-anchor", "params": {"scale": 50}}], "anchor": "my-anchor"}
    spec = validate_spec(raw)
    c = spec.codec("my-anchor")
    assert c.type == "x265" and c.points == [22, 27] and c.params == {"scale": 50}
    with pytest.raises(SpecError, match="anchor definition 'nope' not found"):
        validate_spec({**BASE, "codecs": [{"include": "nope"}], "anchor": None})


def test_the_implicit_pixel_task_computes_ms_ssim_only_when_named():
    from bench.spec import validate_spec

    base = {"name": "x", "dataset": {"type": "synthetic-coco"},
            "codecs": [{"name": "a", "type": "identity", "points": [0]}]}
    plain = validate_spec({**base, "task": {"type": "detection"}}).task_list()
    assert plain[1].type == "pixel" and plain[1].params == {}
    named = validate_spec({**base, "task": {"type": "detection"},
                           "bd": {"metrics": ["ms_ssim"]}}).task_list()
    assert named[1].params == {"metrics": ["psnr_rgb", "psnr_y", "ms_ssim"]}
    pixel = validate_spec({**base, "report": {"metrics": ["ms_ssim"]}}).task_list()
    assert pixel[0].params["metrics"][-1] == "ms_ssim"
