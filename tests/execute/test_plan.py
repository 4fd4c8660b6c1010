"""The order jobs are handed to workers."""

from bench.execute.job import Job
from bench.execute.plan import execution_order


def job(label, value, shard):
    return Job(key=f"{label}-{value}-{shard}", label=label, codec={},
               point={"kind": "qp", "value": value}, dataset={}, item_ids=[], tasks=[], shard=shard)


def test_codecs_take_turns_and_go_shard_by_shard_through_their_points():
    jobs = [job(c, p, s) for c, pts in (("id", [0]), ("vv", [22, 27, 32]), ("jp", [2, 4]))
            for p in pts for s in range(2)]
    order = [j.key for j in execution_order(jobs)]
    assert sorted(order) == sorted(j.key for j in jobs)
    assert order[:3] == ["id-0-0", "vv-22-0", "jp-2-0"]  # every codec in the first round
    assert [k for k in order if k.startswith("vv")] == [
        "vv-22-0", "vv-27-0", "vv-32-0", "vv-22-1", "vv-27-1", "vv-32-1"]
    assert execution_order([]) == []


def test_a_codec_check_error_names_the_spec_entry(tmp_path):
    import pytest

    from bench.errors import CodecError
    from bench.execute.plan import make_plan
    from bench.spec import validate_spec

    missing = tmp_path / "mine.pt"
    spec = validate_spec({
        "name": "named",
        "dataset": {"type": "synthetic-coco", "params": {"n_images": 1, "width": 64, "height": 64,
                                                          "root": str(tmp_path / "data")}},
        "codecs": [{"name": "my-learned", "type": "learned-baseline",
                    "params": {"weights": str(missing)}, "points": [0.01]}],
    })
    with pytest.raises(CodecError) as caught:
        make_plan(spec)
    message = str(caught.value)
    assert message.startswith("codec 'my-learned' (type learned-baseline): weights ")
    assert str(missing) in message and "do not exist" in message
