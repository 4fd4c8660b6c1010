"""The generic trainer: a tiny program trains, checkpoints, resumes exactly, exports a card."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.errors import SpecError, TrainingDiverged
from bench.registry import PROGRAMS
from bench.train.program import TrainProgram
from bench.train.recipe import OptimSpec, load_recipe
from bench.train.trainer import Trainer, lr_factor, param_groups, train


class LineFit(TrainProgram):
    """Fits y = 3x - 1 from noisy random batches drawn from torch's RNG."""

    def __init__(self, recipe, device="cpu", noise: float = 0.1):
        super().__init__(recipe, device)
        self.noise = noise

    def setup(self):
        self.net = torch.nn.Linear(1, 1)
        self.seen = 0

    def modules(self):
        return {"net": self.net}

    def parameters(self):
        return list(self.net.parameters())

    def loss(self, step):
        x = torch.rand(16, 1)
        y = 3 * x - 1 + self.noise * torch.randn(16, 1)
        self.seen += 16
        loss = torch.mean((self.net(x) - y) ** 2)
        return loss, {"mse": float(loss.detach())}

    def evaluate(self):
        return {"w": float(self.net.weight), "b": float(self.net.bias)}

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, state):
        self.seen = state.get("seen", 0)

    def export(self, path: Path):
        torch.save({"format": "test/line/1", "state_dict": self.net.state_dict()}, path)
        return {"seen": self.seen}


if "test-line" not in PROGRAMS:
    PROGRAMS.register("test-line", LineFit, "test only")


def recipe_file(tmp_path, steps=200, **extra):
    text = f"""
name: line
program: {{type: test-line, kwargs: {{noise: 0.05}}}}
steps: {steps}
seed: 3
optim: {{lr: 0.2, schedule: step, milestones: [150], gamma: 0.5}}
log_every: 20
checkpoint_every: 10
work_dir: {tmp_path / 'work'}
out: {tmp_path / 'line.pt'}
card: {tmp_path / 'line.md'}
"""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "line.yaml"
    path.write_text(text)
    return path


def test_trains_exports_and_writes_a_card(tmp_path):
    lines = []
    summary = train(str(recipe_file(tmp_path)), log=lines.append)
    assert summary["steps"] == 200 and Path(summary["weights"]).is_file()
    assert abs(summary["evaluation"]["w"] - 3) < 0.3
    card = (tmp_path / "line.md").read_text()
    assert "# line" in card and "test-line" in card and "s_per_step" in card
    assert any("step 20/200" in line and "mse" in line and "ETA" in line for line in lines)


def test_resume_gives_the_same_weights_as_one_run(tmp_path):
    one = train(str(recipe_file(tmp_path / "a")), log=lambda s: None)
    path = recipe_file(tmp_path / "b")
    train(str(path), steps=95, log=lambda s: None)  # stops at 30 (state saved)
    resumed = train(str(path), resume=True, log=lambda s: None)
    assert resumed["steps"] == 200 and resumed["export"]["seen"] == 200 * 16
    assert resumed["evaluation"] == pytest.approx(one["evaluation"], abs=0)


def test_resume_refuses_another_program_configuration(tmp_path):
    path = recipe_file(tmp_path)
    train(str(path), steps=10, log=lambda s: None)
    with pytest.raises(SpecError, match="another program configuration"):
        train(str(path), ["program.kwargs.noise=0.5"], resume=True, log=lambda s: None)


def test_recipe_errors_name_the_key(tmp_path):
    path = recipe_file(tmp_path)
    with pytest.raises(SpecError, match="optim.lrr: unknown key"):
        load_recipe(str(path), ["optim.lrr=1"])
    with pytest.raises(SpecError, match="neither a recipe file nor a shipped recipe"):
        load_recipe("no-such-recipe")


def test_lr_schedules():
    spec = OptimSpec(lr=1.0, schedule="cosine", warmup_steps=10, min_lr=0.1)
    assert lr_factor(spec, 0, 100) == pytest.approx(0.1)
    assert lr_factor(spec, 10, 100) == pytest.approx(1.0)
    assert lr_factor(spec, 100, 100) == pytest.approx(0.1)
    step = OptimSpec(schedule="step", milestones=[5, 8], gamma=0.5)
    assert [lr_factor(step, s, 10) for s in (0, 5, 8)] == [1.0, 0.5, 0.25]


def test_interrupt_saves_the_state(tmp_path, monkeypatch):
    path = recipe_file(tmp_path)
    recipe = load_recipe(str(path))
    trainer = Trainer(recipe, log=lambda s: None)
    calls = {"n": 0}
    real = LineFit.loss

    def flaky(self, step):
        calls["n"] += 1
        if calls["n"] == 15:
            raise KeyboardInterrupt
        return real(self, step)

    monkeypatch.setattr(LineFit, "loss", flaky)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert (tmp_path / "work" / "state.pt").is_file()
    monkeypatch.setattr(LineFit, "loss", real)
    summary = Trainer(recipe, log=lambda s: None).run(resume=True)
    assert summary["steps"] == 200


def test_a_non_finite_loss_is_skipped_then_stops_the_run(tmp_path):
    from bench.train import trainer as trainer_module
    from bench.train.recipe import load_recipe as load

    trainer = Trainer(load(str(recipe_file(tmp_path, steps=1))), log=lambda s: None)
    trainer.total = 1
    trainer._setup()
    net = trainer.program.net
    before = [p.detach().clone() for p in net.parameters()]
    nan = (torch.tensor(float("nan")), {"mse": float("nan")})
    trainer.program.loss = lambda step: nan
    assert trainer._one_step() == {"loss": 0.0, "mse": 0.0, "skipped": 1.0}
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # no update
    del trainer.program.loss  # the real loss again: a finite step resets the count
    assert "skipped" not in trainer._one_step() and trainer.skips_in_row == 0
    trainer.program.loss = lambda step: nan
    with pytest.raises(TrainingDiverged, match="not finite .* lower optim.lr"):
        for _ in range(trainer_module.MAX_SKIPS):
            trainer._one_step()


def test_a_step_whose_gradient_is_not_finite_updates_nothing(tmp_path):
    trainer = Trainer(load_recipe(str(recipe_file(tmp_path))), log=lambda s: None)
    trainer.total = 200
    trainer._setup()
    net = trainer.program.net
    before = [p.detach().clone() for p in net.parameters()]
    real = trainer.program.loss

    def overflowing(step):  # a finite loss whose backward gives inf
        loss, logs = real(step)
        return loss + 0.0 * torch.sqrt(net.weight.sum() * 0.0).sum(), logs

    trainer.program.loss = overflowing
    out = trainer._one_step()
    assert out["skipped"] == 1.0 and out["grad_not_finite"] == 1.0 and trainer.skips_in_row == 1
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert all(p.grad is None for p in net.parameters())
    trainer.program.loss = real
    assert "skipped" not in trainer._one_step() and trainer.skips_in_row == 0


def test_param_groups_scale_the_named_parameters_only():
    a, b, c = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    frozen = torch.nn.Parameter(torch.zeros(1))
    groups = param_groups([a, b, c], {10.0: [b, frozen], 0.5: [c]}, lr=1e-3)
    by_lr = {g["lr"]: [id(p) for p in g["params"]] for g in groups}
    assert by_lr == {1e-3: [id(a)], 0.5e-3: [id(c)], 1e-2: [id(b)]}
    assert param_groups([a], {}, lr=1.0) == [{"params": [a], "lr": 1.0}]
    with pytest.raises(ValueError, match="two lr scales"):
        param_groups([a, b], {2.0: [a], 3.0: [a]}, lr=1.0)


def test_lr_scales_reach_the_optimiser_and_follow_the_schedule(tmp_path, monkeypatch):
    monkeypatch.setattr(LineFit, "lr_scales", lambda self: {10.0: [self.net.bias]},
                        raising=False)
    recipe = load_recipe(str(recipe_file(tmp_path, steps=160)))
    trainer = Trainer(recipe, log=lambda s: None)
    trainer.run()
    weight, bias = trainer.optim.param_groups
    assert weight["params"] == [trainer.program.net.weight]
    assert bias["params"] == [trainer.program.net.bias]
    assert bias["lr"] == pytest.approx(10 * weight["lr"]) and weight["lr"] == pytest.approx(0.1)
