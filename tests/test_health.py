"""Health monitor: the documented rules on synthetic histories, and scenario runs that must (and must not)
raise events; plus --balance, --on-event stop and the report."""
import json
import math

import pytest
import torch

from conftest import tiny_config
from gankit.cli.main import main
from gankit.report import build_report
from gankit.training import fit, start_run
from gankit.training.health import HealthConfig, Monitor
from gankit.training.diagnostics import HealthCallback
from gankit.training.hooks import Callback
from gankit.training.loop import default_callbacks

CFG = HealthConfig(warmup=100, window=100)


def _row(step, acc_real=0.6, acc_fake=0.55, **extra):
    row = {"step": step, "d_loss": 1.3, "g_loss": 0.8, "acc_real": acc_real, "acc_fake": acc_fake,
           "p_fake": 0.45, "d_grad_norm": 1.0, "g_grad_norm": 0.5}
    row.update(extra)
    return row


def _feed(monitor, rows):
    return [e.row() for row in rows for e in monitor.update(row)]


def test_warmup_grows_with_long_runs():
    rows = [_row(s, 0.99, 0.99) for s in range(10, 2000, 10)]
    events = _feed(Monitor(CFG, total_steps=10_000), rows)  # warm-up max(100, 0.1 * 10,000) = 1,000
    assert [(e["event"], e["step"]) for e in events] == [("discriminator_overpowering", 1100)]


def test_healthy_history_raises_nothing():
    rows = [_row(s, diversity=0.9) for s in range(10, 1000, 10)]
    assert _feed(Monitor(CFG), rows) == []


def test_overpowering_fires_once_after_warmup_and_again_after_recovery():
    rows = [_row(s, 0.99, 0.98) for s in range(10, 400, 10)]
    rows += [_row(s) for s in range(400, 600, 10)]
    rows += [_row(s, 0.99, 0.99) for s in range(600, 900, 10)]
    events = _feed(Monitor(CFG), rows)
    names = [(e["event"], e["step"]) for e in events]
    assert [n for n, _ in names] == ["discriminator_overpowering"] * 2
    assert names[0][1] == 200  # warmup + window
    assert 600 < names[1][1] <= 700
    assert events[0]["evidence"]["acc_real"] > 0.95 and "lower d's learning rate" in events[0]["remedy"].lower()


def test_small_data_overpowering_between_092_and_097_fires():
    """The issue-27 run: DCGAN on 500 face crops, D's accuracy 0.92-0.97 all run; augmented runs sit at 0.8."""
    wobble = [0.92, 0.97, 0.94, 0.95, 0.93]
    rows = [_row(s, wobble[i % 5], wobble[(i + 2) % 5]) for i, s in enumerate(range(10, 400, 10))]
    assert [e["event"] for e in _feed(Monitor(CFG), rows)] == ["discriminator_overpowering"]
    augmented = [_row(s, 0.82, 0.84) for s in range(10, 400, 10)]
    assert _feed(Monitor(CFG), augmented) == []
    near = [_row(s, 0.88, 0.97) for s in range(10, 400, 10)]  # real side below the bound: D is not perfect
    assert _feed(Monitor(CFG), near) == []


@pytest.mark.parametrize("minutes, expected", [(5, 0), (0, 20_000)])
def test_a_time_limited_run_warms_up_for_warmup_steps_not_a_share_of_its_bound(tmp_path, minutes, expected):
    cfg = tiny_config(tmp_path, train={"minutes": minutes, "steps": 20_000})
    health = [c for c in default_callbacks(cfg) if isinstance(c, HealthCallback)]
    assert [c.make_monitor().total_steps for c in health] == [expected]


def test_generator_winning():
    events = _feed(Monitor(CFG), [_row(s, 0.99, 0.01) for s in range(10, 300, 10)])
    assert [e["event"] for e in events] == ["generator_winning"]


def test_wasserstein_skips_the_sign_rules():
    assert _feed(Monitor(CFG, sign_meaningful=False), [_row(s, 1.0, 1.0) for s in range(10, 500, 10)]) == []


def test_divergence_needs_no_warmup():
    events = _feed(Monitor(CFG), [_row(10), _row(20, d_loss=math.nan)])
    assert events[0]["event"] == "divergence" and events[0]["step"] == 20
    assert events[0]["evidence"] == {"non_finite": ["d_loss"]}


def test_exploding_gradient_is_divergence():
    rows = [_row(s) for s in range(10, 80, 10)] + [_row(80, g_grad_norm=5e3)]
    assert [e["event"] for e in _feed(Monitor(CFG), rows)] == ["divergence"]


def test_collapse_from_diversity_or_coverage():
    low = [_row(s, diversity=0.9 if s < 150 else 0.1) for s in range(10, 300, 10)]
    events = _feed(Monitor(CFG), low)
    assert [(e["event"], e["step"]) for e in events] == [("mode_collapse", 160)]
    cov = [_row(s, diversity=0.9, mode_coverage=0.25, modes=2) for s in range(10, 300, 10)]
    assert _feed(Monitor(CFG), cov)[0]["evidence"]["mode_coverage"] == 0.25
    classes = [_row(s, diversity=0.9, class_coverage=0.1 if s >= 150 else 1.0) for s in range(10, 300, 10)]
    events = _feed(Monitor(CFG), classes)
    assert [(e["event"], e["step"], e["evidence"]) for e in events] == [("mode_collapse", 160,
                                                                         {"class_coverage": 0.1})]


HEALTH = {"warmup": 10, "window": 10, "warmup_fraction": 0.0}


def _events(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "event" in r]


def test_constant_generator_is_flagged_as_collapsed(tmp_path):
    cfg = tiny_config(tmp_path, health=HEALTH, train={"steps": 30, "lr_g": 1e-12})
    run = start_run(cfg)
    with torch.no_grad():
        last = [m for m in run.game.G.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.zero_()  # G's output no longer depends on z
    summary = fit(run)
    assert summary["events"][0] == "mode_collapse"
    ev = _events(run.dir)[0]
    assert ev["event"] == "mode_collapse" and ev["evidence"]["diversity_vs_real"] < 0.01


def test_discriminator_trained_alone_is_flagged_as_overpowering(tmp_path):
    cfg = tiny_config(tmp_path, health=HEALTH, train={"steps": 60, "lr_g": 1e-12, "lr_d": 2e-3})
    summary = fit(start_run(cfg))
    assert "discriminator_overpowering" in summary["events"]


def test_healthy_run_raises_nothing(tmp_path):
    cfg = tiny_config(tmp_path, health={"warmup": 200, "window": 200, "warmup_fraction": 0.0},
                      model={"g_width": 64, "d_width": 128},
                      train={"steps": 800, "batch_size": 64, "log_every": 50, "sample_every": 400})
    summary = fit(start_run(cfg))
    assert summary["events"] == [] and 0.7 < summary["metrics"]["diversity"] < 1.3  # healthy: near the data's


def test_balance_lowers_an_overpowering_discriminators_rate(tmp_path):
    cfg = tiny_config(tmp_path, health={**HEALTH, "balance": True},
                      train={"steps": 40, "lr_g": 1e-12, "lr_d": 2e-3})
    run = start_run(cfg)
    fit(run)
    actions = [e for e in _events(run.dir) if e["event"] == "balance"]
    assert actions and actions[0]["action"] == "lr_d 0.002 -> 0.001"
    assert 2e-3 / 64 <= run.game.opt_D.param_groups[0]["lr"] < 2e-3  # lowered, never below the floor


def test_on_event_stop_ends_the_run_with_a_checkpoint(tmp_path, capsys):
    argv = ["train", "--out", str(tmp_path / "runs"), "--device", "cpu", "--on-event", "stop", "--steps", "60",
            "--set", "train.lr_g=1e-12", "--set", "train.lr_d=2e-3", "--set", "train.log_every=2",
            "--set", "health.warmup=10", "--set", "health.window=10", "--set", "health.warmup_fraction=0",
            "--set", "model.g_width=16"]
    code = main(argv)
    out, err = capsys.readouterr()
    summary = json.loads(out)
    # an untrained, frozen G is both out-discriminated and near-constant: whichever rule fires first stops it
    assert code == 3 and summary["stopped_by"] in ("discriminator_overpowering", "mode_collapse")
    assert summary["step"] < 60 and f"health: {summary['stopped_by']}" in err
    assert (tmp_path / "runs" / "00000-digits-mlp" / "checkpoint.pt").is_file()


class _PoisonD(Callback):
    """A callback that puts a NaN into D's weights at a given step (an injected divergence)."""

    def __init__(self, at):
        self.at = at

    def on_step(self, run, stats):
        if run.step == self.at:
            with torch.no_grad():
                next(run.game.D.parameters()).fill_(math.nan)


def test_divergence_keeps_the_last_good_checkpoint(tmp_path):
    from gankit.checkpoint import load_checkpoint
    from gankit.training.loop import default_callbacks

    cfg = tiny_config(tmp_path, train={"steps": 12, "checkpoint_every": 4})
    run = start_run(cfg)
    summary = fit(run, callbacks=[_PoisonD(5)] + default_callbacks(cfg))
    # poisoned again after each rollback to step 4: three rollbacks (the default limit), then the stop
    assert summary["events"] == ["divergence_rollback"] * 3 + ["divergence"]
    assert summary["stopped_by"] == "divergence"
    ckpt = load_checkpoint(run.dir)
    assert ckpt["step"] == 4 and all(torch.isfinite(v).all() for v in ckpt["D"].values())


@pytest.mark.parametrize("preset,expected", [("digits_mlp", "timeline.png"), ("toy_ring", "surfaces.png")])
def test_report_builds_from_a_tiny_run(tmp_path, preset, expected):
    extra = {"data": {"num_points": 500}} if preset == "toy_ring" else {}
    cfg = tiny_config(tmp_path, preset, health=HEALTH, train={"steps": 12, "grid_size": 64}, **extra)
    run = start_run(cfg)
    fit(run)
    result = build_report(run.dir)
    names = {p.split("/")[-1] for p in result["figures"]}
    assert {"losses.png", "accuracy.png", "grad_norms.png", "diversity.png", "samples.gif", expected} <= names
    page = (run.dir / "report.html").read_text()
    assert page.count("<img") == len(names) and "data:image/gif;base64" in page
    assert "http://" not in page and "https://" not in page  # opens offline
    assert "Health events" in page


class _OneDigit(torch.nn.Module):
    """A 'generator' that returns real MNIST images of a single digit: varied pixels, one class."""

    def __init__(self, images: torch.Tensor, z_dim: int):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, 0
        self.images = images.float() / 127.5 - 1
        self.scale = torch.nn.Parameter(torch.ones(()))  # something for G's optimizer to hold

    def forward(self, z, y=None):
        idx = torch.arange(len(z)) % len(self.images)
        return self.images[idx] * self.scale


def test_a_generator_of_one_class_is_flagged_by_class_coverage(tmp_path, shared_data):
    cfg = tiny_config(tmp_path, "mnist_mlp", health=HEALTH,
                      data={"data_dir": str(shared_data)},
                      train={"steps": 30, "log_every": 5, "grid_size": 64, "ema_decay": 0.0})
    run = start_run(cfg)
    ones = run.data.x[run.data.labels == 1][:64]
    run.game.G = _OneDigit(ones, run.game.z_dim)
    run.game.opt_G = torch.optim.SGD(run.game.G.parameters(), lr=0.0)
    summary = fit(run)
    assert "mode_collapse" in summary["events"]
    ev = next(e for e in _events(run.dir) if e["event"] == "mode_collapse")
    assert ev["evidence"] == {"class_coverage": 0.1}
    rows = [r for r in map(json.loads, (run.dir / "metrics.jsonl").read_text().splitlines()) if "diversity" in r]
    assert rows[-1]["diversity"] > 0.35  # pixel diversity alone would not have caught it


def test_collapse_within_classes_of_a_conditional_run():
    rows = [_row(s, diversity=0.9, class_diversity=0.9 if s < 150 else 0.05) for s in range(10, 300, 10)]
    events = _feed(Monitor(CFG), rows)
    assert [(e["event"], e["step"], e["evidence"]) for e in events] == [
        ("mode_collapse", 160, {"class_diversity_vs_real": 0.05})]


class _OnePerClass(torch.nn.Module):
    """A conditional 'generator' that returns the same real image for every request of a class."""

    def __init__(self, x: torch.Tensor, labels: torch.Tensor, num_classes: int, z_dim: int):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.images = torch.stack([x[labels == c][0] for c in range(num_classes)]).float() / 127.5 - 1
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, z, y=None):
        return self.images[y] * self.scale


def test_a_conditional_generator_of_one_image_per_class_is_flagged(tmp_path):
    """Across classes its samples differ (diversity stays high); within a class they are all the same."""
    cfg = tiny_config(tmp_path, health=HEALTH, model={"conditional": True}, train={"steps": 30, "ema_decay": 0.0})
    run = start_run(cfg)
    run.game.G = _OnePerClass(run.data.x, run.data.labels, run.data.num_classes, run.game.z_dim)
    run.game.opt_G = torch.optim.SGD(run.game.G.parameters(), lr=0.0)
    summary = fit(run)
    ev = next(e for e in _events(run.dir) if e["event"] == "mode_collapse")
    assert ev["evidence"] == {"class_diversity_vs_real": 0.0}
    rows = [r for r in map(json.loads, (run.dir / "metrics.jsonl").read_text().splitlines()) if "diversity" in r]
    assert rows[-1]["diversity"] > 0.35 and "mode_collapse" in summary["events"]


class _RealPerClass(_OnePerClass):
    """Returns a different real image of the requested class for each request: the data's own variety."""

    def __init__(self, x, labels, num_classes, z_dim):
        super().__init__(x, labels, num_classes, z_dim)
        self.by_class = [x[labels == c].float() / 127.5 - 1 for c in range(num_classes)]

    def forward(self, z, y=None):
        picks = (z[:, 0].abs() * 1000).long()  # a different image for each latent
        images = [self.by_class[c][i % len(self.by_class[c])] for c, i in zip(y.tolist(), picks.tolist())]
        return torch.stack(images) * self.scale


def test_real_images_per_class_have_the_datas_diversity_within_classes(tmp_path):
    cfg = tiny_config(tmp_path, model={"conditional": True}, train={"steps": 4, "ema_decay": 0.0})
    run = start_run(cfg)
    run.game.G = _RealPerClass(run.data.x, run.data.labels, run.data.num_classes, run.game.z_dim)
    run.game.opt_G = torch.optim.SGD(run.game.G.parameters(), lr=0.0)
    fit(run)
    rows = [r for r in map(json.loads, (run.dir / "metrics.jsonl").read_text().splitlines()) if "class_diversity" in r]
    assert rows and all(0.7 < r["class_diversity"] < 1.3 for r in rows), rows
