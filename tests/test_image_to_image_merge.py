"""benchmarks/image_to_image.py --merge: seeds run as separate processes become one result, with issue 28's
targets checked in every seed, and results that don't belong together are refused; and its sketch_classifier
and sketch_judge baselines, which read the class from drawings only as far as they carry it."""
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from image_to_image import merge  # noqa: E402


def _part(tmp_path, name, seed, gan_fid, overrides=()):
    rows = [{"arm": "gan", "seed": seed, "fid": gan_fid, "edge_f1": 0.94, "class_fidelity": 0.96},
            {"arm": "l1", "seed": seed, "fid": 2.0, "edge_f1": 0.94, "class_fidelity": 0.91},
            {"arm": "retrieval", "seed": seed, "fid": 0.2, "edge_f1": 0.92, "class_fidelity": 0.93}]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"preset": "shoes_edges2photo", "steps": 3000, "eval_n": 1000,
                                "overrides": list(overrides), "rows": rows, "stamp": {"command": name}}))
    return str(path)


def test_merged_seeds_give_medians_ranges_and_targets_per_seed(tmp_path):
    merged = merge([_part(tmp_path, "a", 0, 1.0), _part(tmp_path, "b", 1, 1.8), _part(tmp_path, "c", 2, 1.2)])
    assert merged["seeds"] == [0, 1, 2] and len(merged["rows"]) == 9
    assert merged["median"]["gan"]["fid"] == 1.2 and merged["range"]["gan"]["fid"] == [1.0, 1.8]
    targets = merged["targets"]
    assert targets["per_seed"]["1"]["gan_fid_at_least_20pct_below_l1"] is False  # 1.8 > 0.8 · 2.0
    assert targets["in_every_seed"]["gan_fid_at_least_20pct_below_l1"] is False
    assert targets["on_medians"]["gan_fid_at_least_20pct_below_l1"] is True
    assert targets["in_every_seed"]["gan_beats_retrieval_on_edge_f1"] is True
    assert [p["command"] for p in merged["parts"]] == ["a", "b", "c"]


def test_merge_refuses_a_seed_twice_and_other_settings(tmp_path):
    with pytest.raises(SystemExit, match="arm gan seed 0 is in two"):
        merge([_part(tmp_path, "a", 0, 1.0), _part(tmp_path, "b", 0, 1.1)])
    with pytest.raises(SystemExit, match="overrides is"):
        merge([_part(tmp_path, "a", 0, 1.0), _part(tmp_path, "b", 1, 1.1, ["loss.l1=30"])])
    older = Path(_part(tmp_path, "old", 2, 1.2))  # written before --set: no overrides key, none given
    older.write_text(json.dumps({k: v for k, v in json.loads(older.read_text()).items() if k != "overrides"}))
    assert merge([_part(tmp_path, "a", 0, 1.0), str(older)])["seeds"] == [0, 2]
    with pytest.raises(SystemExit, match="overrides is"):
        merge([str(older), _part(tmp_path, "b", 1, 1.1, ["loss.l1=30"])])


def test_merge_keeps_one_baseline_row_when_two_arms_scored_it_for_one_seed(tmp_path):
    def arm_part(name, arm):
        rows = [{"arm": arm, "seed": 0, "fid": 1.0}, {"arm": "retrieval", "seed": 0, "fid": 0.2},
                {"arm": "sketch_judge", "seed": 0, "sketch_judge_accuracy": 0.93}]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"preset": "shoes_edges2photo", "steps": 3000, "eval_n": 1000, "overrides": [],
                                    "rows": rows, "stamp": {"command": name}}))
        return str(path)

    merged = merge([arm_part("g", "gan"), arm_part("l", "l1")])
    assert sorted(r["arm"] for r in merged["rows"]) == ["gan", "l1", "retrieval", "sketch_judge"]


def _drawings(n, labels, seed):
    """Class 0 a horizontal stroke, class 1 a vertical one, at a random place: dark ink on white, uint8."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, 1, 12, 12), 255, dtype=torch.uint8)
    where = torch.randint(2, 10, (n,), generator=g)
    for i in range(n):
        if labels[i] == 0:
            x[i, 0, where[i], 2:10] = 0
        else:
            x[i, 0, 2:10, where[i]] = 0
    return x


@pytest.mark.parametrize("shuffled", [False, True])
def test_sketch_classifier_reads_the_class_the_drawings_carry(monkeypatch, shuffled):
    import image_to_image

    class Drawn(SimpleNamespace):
        def __len__(self):
            return len(self.source)

    def fake_load(cfg):
        n = 400 if cfg.split == "train" else 200
        labels = torch.arange(n) % 2
        shown = labels[torch.randperm(n, generator=torch.Generator().manual_seed(1))] if shuffled else labels
        # shuffled: the held-out labels no longer follow the drawings, so no classifier can beat chance
        return Drawn(source=_drawings(n, labels, n), class_names=["h", "v"],
                     labels=shown if cfg.split == "holdout" else labels)

    monkeypatch.setattr(image_to_image, "load_dataset", fake_load)
    cfg = image_to_image.DataConfig(name="edges:fashion_mnist")
    accuracy = image_to_image.sketch_classifier(cfg, 200, seed=0, steps=300)["sketch_accuracy"]
    assert (0.3 <= accuracy <= 0.7) if shuffled else (0.95 <= accuracy <= 1.0)


@pytest.mark.parametrize("shuffled", [False, True])
def test_sketch_judge_trains_the_judges_network_on_the_drawings_not_the_images(monkeypatch, shuffled):
    import image_to_image
    from gankit.data.dataset import Dataset

    def fake_load(cfg):
        n = 600 if cfg.split == "train" else 200
        labels = torch.arange(n) % 2
        shown = labels[torch.randperm(n, generator=torch.Generator().manual_seed(1))] if shuffled else labels
        # the images are blank: only the drawings tell the classes apart
        return Dataset("drawn", torch.full((n, 1, 28, 28), 255, dtype=torch.uint8),
                       shown if cfg.split == "holdout" else labels, ["h", "v"], source=_drawings(n, labels, n))

    monkeypatch.setattr(image_to_image, "load_dataset", fake_load)
    cfg = image_to_image.DataConfig(name="edges:fashion_mnist")
    accuracy = image_to_image.sketch_judge(cfg, 200, seed=0)["sketch_judge_accuracy"]
    assert (0.3 <= accuracy <= 0.7) if shuffled else (0.95 <= accuracy <= 1.0)
