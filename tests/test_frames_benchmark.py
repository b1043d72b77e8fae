"""benchmarks/frames.py trained end to end (two steps per arm, a few test clips): each arm's scores, the
baselines and the checks reach the JSON."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import frames  # noqa: E402


def test_two_arms_trained_and_scored_reach_the_result(shared_data, tmp_path, monkeypatch):
    out = tmp_path / "frames.json"
    monkeypatch.setattr(sys, "argv", ["frames.py", "--preset", "moving_mnist_small", "--arms", "pixel,gan",
                                      "--steps", "2", "--n", "16", "--device", "cpu", "--set", "data.clips=64",
                                      "--out", str(out)])
    frames.main()
    result = json.loads(out.read_text())
    assert set(result["arms"]) == {"pixel", "gan"} and result["budget"] == {"steps": 2}
    for arm in ("pixel", "gan"):
        [run] = result["arms"][arm]["runs"]
        assert run["step"] == 2 and run["metrics"]["mse"] > 0
    # repeating the last true frame keeps the truth's own sharpness, whatever it gets wrong
    assert 0.8 <= result["baselines"]["copy_last"]["sharpness"] <= 1.2
    assert result["checks"]["gan"]["mse_over_pixel"] == pytest.approx(
        result["arms"]["gan"]["summary"]["mse"]["mean"] / result["arms"]["pixel"]["summary"]["mse"]["mean"], rel=1e-3)


def _part(tmp_path, name, arm, overrides, budget, seeds=(), mse=1.0):
    summary = {k: {"mean": 1.0, "std": 0.0} for k in frames.SUMMARY}
    path = tmp_path / f"{name}.json"
    baselines = {b: {k: 2.0 for k in frames.SUMMARY} for b in frames.BASELINES}
    runs = [{"seed": s, "metrics": {**{k: 1.0 for k in frames.SUMMARY}, "mse": mse}} for s in seeds]
    path.write_text(json.dumps({"preset": "moving_mnist_small", "budget": budget, "n": 100, "overrides": overrides,
                                "baselines": baselines, "arms": {arm: {"summary": summary, "runs": runs}},
                                "stamp": {"command": name}}))
    return str(path)


def test_a_merge_joins_one_arms_seeds_and_refuses_a_seed_twice(tmp_path):
    steps = {"steps": 7000}
    merged = frames.merge([_part(tmp_path, "a", "gan", [], steps, seeds=(1,), mse=4.0),
                           _part(tmp_path, "b", "gan", [], steps, seeds=(2, 0), mse=5.0)])
    gan = merged["arms"]["gan"]
    assert [r["seed"] for r in gan["runs"]] == [0, 1, 2]
    assert gan["summary"]["mse"]["mean"] == pytest.approx(14 / 3, abs=1e-4)
    assert gan["summary"]["mse"]["std"] == pytest.approx(0.5774, abs=1e-4)
    with pytest.raises(SystemExit, match=r"seed \[1\] measured twice"):
        frames.merge([_part(tmp_path, "a", "gan", [], steps, seeds=(1,)),
                      _part(tmp_path, "c", "gan", [], steps, seeds=(1,))])
    with pytest.raises(SystemExit, match="trained with"):
        frames.merge([_part(tmp_path, "a", "gan", [], steps, seeds=(1,)),
                      _part(tmp_path, "d", "gan", ["loss.adversarial=5"], steps, seeds=(2,))])


def test_a_merge_keeps_each_arms_overrides_and_refuses_other_budgets(tmp_path):
    steps = {"steps": 7000}
    merged = frames.merge([_part(tmp_path, "a", "pixel", ["data.clips=64"], steps),
                           _part(tmp_path, "b", "gan", ["data.clips=64", "loss.adversarial=5"], steps)])
    assert merged["overrides"] == ["data.clips=64"]
    assert merged["arms"]["gan"]["overrides"] == ["data.clips=64", "loss.adversarial=5"]
    assert merged["checks"]["gan"]["mse_over_pixel"] == 1.0
    with pytest.raises(SystemExit, match="different budget"):
        frames.merge([_part(tmp_path, "a", "pixel", [], steps),
                      _part(tmp_path, "c", "gan", [], {"minutes": 30.0, "steps": 10**7})])


def test_the_reckoning_width_is_recorded_and_swept_on_training_digits(shared_data, tmp_path, monkeypatch):
    """moving_mnist reads its moves with model.g.reckon_within: frames.py records the width it scored with (the
    preset's, or --reckon-within's), and frames_reckon_within.py scores kept runs at each width on the training
    split."""
    import frames_reckon_within

    out, keep = tmp_path / "frames.json", tmp_path / "runs"
    argv = ["frames.py", "--preset", "moving_mnist", "--arms", "gan", "--steps", "2", "--n", "8", "--device", "cpu",
            "--set", "data.clips=16", "--set", "train.batch_size=4", "--keep", str(keep), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    frames.main()
    [run] = json.loads(out.read_text())["arms"]["gan"]["runs"]
    assert run["reckon_within"] == 2.5  # the preset's own
    [run_dir] = [str(p) for p in keep.iterdir()]
    monkeypatch.setattr(sys, "argv", ["frames.py", "--preset", "moving_mnist", "--score", f"gan={run_dir}", "--n", "8",
                                      "--device", "cpu", "--reckon-within", "0", "--out", str(out)])
    frames.main()
    assert json.loads(out.read_text())["arms"]["gan"]["runs"][0]["reckon_within"] == 0.0
    sweep = tmp_path / "sweep.json"
    monkeypatch.setattr(sys, "argv", ["frames_reckon_within.py", "--runs", run_dir, "--widths", "0,100", "--n", "8",
                                      "--device", "cpu", "--out", str(sweep)])
    frames_reckon_within.main()
    result = json.loads(sweep.read_text())
    [scored] = result["runs"]
    assert scored["split"] == "train" and scored["n"] == 8 and scored["step"] == 2
    own, reckoned = scored["widths"]
    assert (own["reckon_within"], reckoned["reckon_within"]) == (0.0, 100.0)
    assert own["mse"] != reckoned["mse"]  # a G two steps in barely moves the digits; the reckoning moves them on
    assert result["best"] == min((own, reckoned), key=lambda r: r["mse"])["reckon_within"]
