"""Packs of one class for conditional PacGAN discriminators, and pseudo-classes from clusters (data.clusters)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from conftest import tiny_config

from gankit.core.errors import GankitError
from gankit.data import BatchSampler, DataConfig, Dataset, load_dataset, validate_data
from gankit.data.clusters import draw_labels, embed_hog, kmeans, label_prior, with_clusters
from gankit.models import ModelConfig, build_discriminator, model_kwargs
from gankit.training import fit, resolve, start_run


def labelled(n: int, k: int) -> Dataset:
    x = torch.arange(n, dtype=torch.int64).remainder(256).to(torch.uint8).view(n, 1, 1, 1)
    labels = torch.randperm(n, generator=torch.Generator().manual_seed(1)) % k
    return Dataset("t", x, labels, [str(i) for i in range(k)])


def test_grouped_batches_come_in_runs_of_one_class_and_resume_exactly():
    data = labelled(103, 3)  # classes of 35, 34 and 34: a class's odd one out sits out an epoch
    s = BatchSampler(data, 6, seed=0, group=2)
    assert len(s.perm) == 102
    for _ in range(40):  # several epochs
        _, y = s.next()
        assert torch.equal(y[0::2], y[1::2])
    state = s.state_dict()
    ahead = [s.next()[1] for _ in range(7)]
    t = BatchSampler(data, 6, seed=99, group=2)
    t.load_state_dict(state)
    assert all(torch.equal(t.next()[1], want) for want in ahead)
    mixed = {**state, "perm": torch.arange(102)}  # a plain permutation's neighbours are of other classes
    with pytest.raises(GankitError, match="damaged"):
        t.load_state_dict(mixed)
    with pytest.raises(GankitError, match="multiple of the pack"):
        BatchSampler(data, 5, seed=0, group=2)


def test_a_conditional_packed_discriminator_projects_each_packs_label():
    torch.manual_seed(0)
    cfg = ModelConfig(name="dcgan", conditional=True, d_width=8, pack=2)
    D = build_discriminator(model_kwargs(cfg, (1, 28, 28), 3)).eval()
    x = torch.randn(4, 1, 28, 28)
    out = D(x, torch.tensor([0, 0, 2, 2]))
    assert out.shape == (2,)
    changed = D(x, torch.tensor([1, 1, 2, 2]))
    assert not torch.allclose(out[0], changed[0]) and torch.allclose(out[1], changed[1])
    with pytest.raises(GankitError, match="projection"):
        ModelConfig(name="dcgan", conditional=True, d_cond="acgan", pack=2).validate()


def test_a_conditional_run_keeps_its_presets_packs_and_trains_on_runs_of_one_class(tmp_path):
    cfg = tiny_config(tmp_path, "mnist_dcgan", data={"name": "digits", "resolution": 8}, model={"conditional": True})
    assert cfg.model.pack == 2
    run = start_run(cfg)
    _, y = run.sampler.next()
    assert torch.equal(y[0::2], y[1::2])
    assert fit(run)["step"] == 6


def test_kmeans_finds_separate_blobs_and_is_seeded():
    gen = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = torch.arange(300) % 3
    points = centers[truth] + 0.5 * torch.randn(300, 2, generator=gen)
    found = kmeans(points, 3)
    table = torch.zeros(3, 3).index_put_((found, truth), torch.ones(300), accumulate=True)
    assert (table.max(1).values == 100).all()  # each cluster is one blob, whole
    assert torch.equal(found, kmeans(points, 3))


def test_clusters_replace_the_labels_and_record_their_shares_and_purity():
    digits = load_dataset(DataConfig(name="digits"))
    data = with_clusters(digits, 20)
    assert data.num_classes == 20 and data.class_names[3] == "cluster 3" and len(data) == len(digits)
    prior = data.extra["label_prior"]
    assert len(prior) == 20 and abs(sum(prior) - 1) < 1e-4 and min(prior) > 0
    counts = torch.bincount(data.labels, minlength=20) / len(data)
    assert torch.allclose(counts, torch.tensor(prior, dtype=torch.float32), atol=1e-5)
    assert 0.6 < data.extra["cluster_purity"] <= 1.0  # 8x8 digits cluster well by their pixels
    assert torch.equal(data.labels, with_clusters(digits, 20).labels)
    with pytest.raises(GankitError, match="between 2 and"):
        with_clusters(digits, len(digits))
    with pytest.raises(GankitError, match="groups images"):
        with_clusters(load_dataset(DataConfig(name="toy_ring", num_points=500)), 2)


def test_hog_features_group_mnist_digits_more_purely_than_pixels(shared_data):
    digits = load_dataset(DataConfig(name="mnist"))
    part = replace(digits, x=digits.x[:6000], labels=digits.labels[:6000])
    hog = embed_hog(part.x)
    assert hog.shape == (6000, 324) and torch.isfinite(hog).all()
    pure = {f: with_clusters(part, 50, f).extra["cluster_purity"] for f in ("pixels", "hog")}
    # measured 0.808 on pixels and 0.917 on HOG (on all 60,000 with 100 clusters: 0.874 and 0.935)
    assert 0.76 <= pure["pixels"] <= 0.86 and 0.87 <= pure["hog"] <= 0.96 and pure["hog"] > pure["pixels"] + 0.05
    with pytest.raises(GankitError, match="Did you mean 'hog'"):
        validate_data(DataConfig(name="mnist", clusters=10, cluster_features="hgo"))
    with pytest.raises(GankitError, match="at least 8 pixels"):
        embed_hog(torch.zeros(2, 1, 6, 6, dtype=torch.uint8))


def test_labels_drawn_from_cluster_shares_keep_the_proportions():
    y = draw_labels(20000, 3, [0.5, 0.3, 0.2], seed=1)
    shares = torch.bincount(y, minlength=3) / 20000
    assert torch.allclose(shares, torch.tensor([0.5, 0.3, 0.2]), atol=0.015)
    assert torch.equal(y, draw_labels(20000, 3, [0.5, 0.3, 0.2], seed=1))
    assert draw_labels(5, 3).tolist() == [0, 1, 2, 0, 1]
    assert label_prior({}, 3) is None
    with pytest.raises(GankitError, match="damaged"):
        label_prior({"label_prior": [0.5, 0.5]}, 3)


def test_a_model_of_clusters_samples_them_in_their_shares(tmp_path):
    from gankit.latent import load_generator, sample

    cfg = tiny_config(tmp_path, "mnist_dcgan", data={"name": "digits", "resolution": 8, "clusters": 4},
                      model={"conditional": True})
    run = start_run(cfg)
    fit(run)
    G = load_generator(run.dir)
    assert G.class_names == ("cluster 0", "cluster 1", "cluster 2", "cluster 3")
    assert G.label_prior == pytest.approx(run.data.extra["label_prior"])
    drawn = sample(G, 6, seed=3)
    assert drawn.shape == (6, 1, 8, 8)
    # without labels the sampler draws clusters from their shares, not the classes in turn
    assert torch.equal(drawn, sample(G, 6, seed=3, labels=draw_labels(6, 4, G.label_prior, 3)))
    assert not torch.equal(drawn, sample(G, 6, seed=3, labels=torch.arange(6) % 4))
    with pytest.raises(GankitError, match="add --conditional"):
        resolve("mnist_dcgan", [{"data": {"clusters": 4}, "model": {"conditional": False}}])


def test_a_presets_clusters_yield_to_a_conditional_model_asked_for():
    assert resolve("mnist_dcgan", []).data.clusters > 0  # the preset draws clusters of the digits
    assert resolve("mnist_dcgan", [{"model": {"conditional": True}}]).data.clusters == 0  # the data's own labels
    assert resolve("mnist_dcgan", [{"model": {"conditional": False}}]).data.clusters == 0
    both = resolve("mnist_dcgan", [{"model": {"conditional": True}, "data": {"clusters": 6}}])
    assert both.data.clusters == 6 and both.model.conditional


def test_inverting_without_a_label_finds_the_images_cluster():
    from torch import nn

    from gankit.latent.generator import TrainedGenerator
    from gankit.latent.invert import invert

    class Levels(nn.Module):  # cluster c draws a flat image of grey level levels[c], whatever z
        z_dim, num_classes, shape = 4, 3, (1, 4, 4)

        def __init__(self):
            super().__init__()
            self.levels = nn.Parameter(torch.tensor([-0.8, 0.1, 0.7]))
            self.scale = nn.Parameter(torch.zeros(()))

        def forward(self, z, y):
            return ((y @ self.levels) + self.scale * z.sum(1)).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)

    G = TrainedGenerator(module=Levels(), class_names=("cluster 0", "cluster 1", "cluster 2"),
                         label_prior=(0.2, 0.3, 0.5))
    target = torch.stack([torch.full((1, 4, 4), 0.7), torch.full((1, 4, 4), -0.8)])
    code, error = invert(G, target, steps=5)
    assert code.y.argmax(1).tolist() == [2, 0] and float(error.max()) < 1e-6
