"""benchmarks/augmentation.py: a tiny end-to-end run reaches the JSON, and --merge joins draws and arms
measured separately (one core each) into one table, refusing parts that do not belong together."""
import json
import sys
from pathlib import Path

import pytest

from gankit.core.config import parse_override
from gankit.training import resolve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import augmentation  # noqa: E402


def test_a_tiny_run_measures_each_arm_against_the_test_split(shared_data, tmp_path, monkeypatch):
    out = tmp_path / "aug.json"
    monkeypatch.setattr(sys, "argv", ["augmentation.py", "--labels", "2", "--draws", "0", "--arms",
                                      "real,classical,gan1,cas", "--steps", "2", "--gan-steps", "2",
                                      "--eval-n", "64", "--samples-per-class", "4", "--gan-set", "train.batch_size=10",
                                      "--out", str(out)])
    augmentation.main()
    result = json.loads(out.read_text())
    [draw] = result["budgets"]["20"]["draws"]
    assert draw["labels"] == 20 and draw["gan_fid_test"] > 0
    # steps left to the preset are recorded as the preset's, so a later preset's runs can't be merged in
    assert result["gan_steps"] == 2 and result["ssgan_steps"] == resolve("mnist_ssgan", []).train.steps > 0
    for arm in ("real", "classical", "gan1", "cas"):
        assert 0.0 <= draw[arm] <= 1.0  # two steps from random weights: anything, but a test accuracy


def test_a_run_that_diverges_is_scored_at_its_last_good_checkpoint_and_says_so(shared_data, tmp_path):
    # a bound of 1e-9 x the median makes the monitor call every gradient norm it can judge an explosion
    overrides = [parse_override(item) for item in ("train.batch_size=20", "train.log_every=1",
                                                   "train.checkpoint_every=4", "health.explode_factor=1e-9")]
    _, trained = augmentation.train_gan("mnist_ssgan", "mnist", 2, 0, 12, str(tmp_path), overrides)
    # judged at step 6 (five rows before it) and rolled back to step 4, three times (the default limit), then
    # stopped: step 4's checkpoint is the one scored
    assert trained["rolled_back_at"] == [6, 6, 6] and trained["diverged_at"] == 6 and trained["scored_step"] == 4
    assert trained["train_seconds"] > 0
    summary = augmentation.summary([{"draw": 0, "ssgan": 0.9, "ssgan_diverged_at": 6, "ssgan_scored_step": 4}])
    assert set(summary) == {"ssgan"}  # a draw's steps are facts about it, not measurements to average


def _part(tmp_path, name, arms, draws, gan_steps=5000, style=None, ssgan_set=None):
    path = tmp_path / f"{name}.json"
    head = {"benchmark": "augmentation", "dataset": "mnist", "classifier_steps": 2000, "gan_preset": "mnist_dcgan",
            "gan_steps": gan_steps, "gan_set": [], "ssgan_preset": "mnist_ssgan", "ssgan_steps": 0, "arms": arms}
    if style:  # files from before --classical have no style
        head["classical_style"] = style
    if ssgan_set is not None:  # files from before --ssgan-set have none
        head["ssgan_set"] = ssgan_set
    path.write_text(json.dumps({**head, "budgets": {"100": {"summary": {}, "draws": draws}},
                                "stamp": {"command": name}}))
    return str(path)


def test_merge_joins_draws_and_arms_and_recomputes_the_summary(tmp_path):
    a = _part(tmp_path, "a", ["classical", "gan1"], [{"draw": 0, "labels": 100, "classical": 0.90, "gan1": 0.80}])
    b = _part(tmp_path, "b", ["classical", "gan1"], [{"draw": 1, "labels": 100, "classical": 0.94, "gan1": 0.86}])
    c = _part(tmp_path, "c", ["ssgan"], [{"draw": 1, "labels": 100, "ssgan": 0.97}], gan_steps=3000)
    merged = augmentation.merge([a, b, c])
    summary = merged["budgets"]["100"]["summary"]
    assert [d["draw"] for d in merged["budgets"]["100"]["draws"]] == [0, 1]
    assert summary["classical"]["mean"] == pytest.approx(0.92) and summary["classical"]["std"] == pytest.approx(
        0.0283, abs=1e-4)
    assert summary["gan1_minus_classical"]["mean"] == pytest.approx(-0.09)
    # the ssgan part's GAN settings don't count: it trained no conditional GAN
    assert summary["ssgan"] == {"mean": 0.97, "std": 0.0} and merged["gan_steps"] == 5000
    assert summary["ssgan_minus_classical"]["mean"] == pytest.approx(0.03)
    assert merged["arms"] == ["classical", "gan1", "ssgan"] and len(merged["parts"]) == 3


def test_merging_a_merged_file_keeps_the_stamps_of_its_parts(tmp_path):
    a = _part(tmp_path, "a", ["ssgan"], [{"draw": 0, "labels": 100, "ssgan": 0.97}])
    b = _part(tmp_path, "b", ["ssgan"], [{"draw": 1, "labels": 100, "ssgan": 0.98}])
    ab = tmp_path / "ab.json"
    ab.write_text(json.dumps({**augmentation.merge([a, b]), "stamp": {"command": "merge a b"}}))
    c = _part(tmp_path, "c", ["ssgan"], [{"draw": 2, "labels": 100, "ssgan": 0.96}])
    merged = augmentation.merge([str(ab), c])
    # the runs that measured, not the merge that joined them: its own stamp says nothing about a measurement
    assert [stamp["command"] for stamp in merged["parts"]] == ["a", "b", "c"]
    assert merged["budgets"]["100"]["summary"]["ssgan"]["mean"] == pytest.approx(0.97)


def test_merge_refuses_other_gan_settings_and_an_arm_measured_twice(tmp_path):
    a = _part(tmp_path, "a", ["gan1"], [{"draw": 0, "gan1": 0.80}])
    with pytest.raises(SystemExit, match="gan_steps is 3000"):
        augmentation.merge([a, _part(tmp_path, "b", ["gan1"], [{"draw": 1, "gan1": 0.8}], gan_steps=3000)])
    with pytest.raises(SystemExit, match=r"\['gan1'\] at 100 labels, draw 0 measured twice"):
        augmentation.merge([a, _part(tmp_path, "c", ["gan1"], [{"draw": 0, "gan1": 0.81}])])


def test_merge_reads_a_part_without_a_style_as_the_digits_and_refuses_another_style(tmp_path):
    old = _part(tmp_path, "a", ["classical"], [{"draw": 0, "classical": 0.90}])
    digits = _part(tmp_path, "b", ["classical"], [{"draw": 1, "classical": 0.92}], style="digits")
    assert augmentation.merge([old, digits])["classical_style"] == "digits"
    clothes = _part(tmp_path, "c", ["real", "classical"], [{"draw": 1, "real": 0.9, "classical": 0.91}],
                    style="clothes")
    with pytest.raises(SystemExit, match="classical_style is 'clothes', not 'digits'"):
        augmentation.merge([old, clothes])
    gan_only = _part(tmp_path, "d", ["gan1"], [{"draw": 1, "gan1": 0.8}], style="clothes")
    assert augmentation.merge([old, gan_only])["arms"] == ["classical", "gan1"]  # its style played no part


def test_merge_reads_a_part_without_ssgan_set_as_the_preset_and_refuses_other_ssgan_settings(tmp_path):
    old = _part(tmp_path, "a", ["ssgan"], [{"draw": 0, "ssgan": 0.97}])
    same = _part(tmp_path, "b", ["ssgan"], [{"draw": 1, "ssgan": 0.96}], ssgan_set=[])
    assert augmentation.merge([old, same])["ssgan_set"] == []
    other = _part(tmp_path, "c", ["ssgan"], [{"draw": 2, "ssgan": 0.95}], ssgan_set=["loss.aux_weight=1.5"])
    with pytest.raises(SystemExit, match=r"ssgan_set is \['loss.aux_weight=1.5'\], not \[\]"):
        augmentation.merge([old, other])
    gan_only = _part(tmp_path, "d", ["gan1"], [{"draw": 1, "gan1": 0.8}], ssgan_set=["loss.aux_weight=2"])
    assert augmentation.merge([old, gan_only])["ssgan_set"] == []  # it trained no ssgan: its setting plays no part
