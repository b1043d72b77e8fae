"""Pseudo-classes without labels (data.clusters): k-means of the images, for a conditional model to draw.

An unconditional generator maps one connected Gaussian onto data made of separate kinds (ten digits), so
part of its latent space has to lie between them, and what it draws there is a scribble that is no digit.
Conditioned on a cluster of similar images, G draws each cluster apart from the others, and drawing the
clusters in their share of the data keeps the kinds in the data's proportions. This is Liu et al.'s
self-conditioned GAN (CVPR 2020) in its simplest form: the clusters are made once, before training, not
from D's features, by k-means (k-means++ seeding) of one of the `FEATURES`: the pixels' first `DIMS`
principal components, or their histograms of oriented gradients (scikit-image's HOG on a 4x4 grid of cells),
which see strokes rather than ink at fixed places: 100 clusters of MNIST's training digits are 93.5% pure
(the share of digits whose cluster's most common label is their own) on HOG against 87.4% on pixels, and
Fashion-MNIST's 77.5% against 73.6%.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from skimage.feature import hog

from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.data.dataset import Dataset

# fixed: every run of the same data gets the same clusters (with the same thread count: the PCA's and the
# distances' float sums in another order: 2 threads against 1 put 188 of MNIST's 60,000 images elsewhere)
CLUSTER_SEED = 20_001_203
DIMS = 40
ITERATIONS = 25
CHUNK = 8192  # rows of a distance matrix at a time: 60,000 x 100 floats at once would be fine, larger sets not


def _nearest(points: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the nearest center, squared distance to it) for each point, in chunks."""
    index, dist = [], []
    for part in points.split(CHUNK):
        d = torch.cdist(part, centers).square_()
        best = d.min(1)
        index.append(best.indices)
        dist.append(best.values)
    return torch.cat(index), torch.cat(dist)


def kmeans(points: torch.Tensor, k: int, seed: int = CLUSTER_SEED, iterations: int = ITERATIONS) -> torch.Tensor:
    """Cluster index [N] of each of points [N, D]: k-means++ seeding (Arthur & Vassilvitskii 2007), then
    Lloyd's iterations; a center left without points is moved to the point farthest from its own center."""
    gen = torch.Generator().manual_seed(seed)
    centers = points[torch.randint(len(points), (1,), generator=gen)]
    for _ in range(k - 1):
        _, dist = _nearest(points, centers)
        pick = torch.multinomial(dist / dist.sum(), 1, generator=gen) if dist.sum() > 0 else \
            torch.randint(len(points), (1,), generator=gen)
        centers = torch.cat([centers, points[pick]])
    for _ in range(iterations):
        assign, dist = _nearest(points, centers)
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centers).index_add_(0, assign, points)
        moved = sums / counts.clamp_min(1).unsqueeze(1)
        for empty in (counts == 0).nonzero().flatten().tolist():
            far = int(dist.argmax())
            moved[empty], dist[far] = points[far], 0.0
        if torch.equal(moved, centers):
            break
        centers = moved
    return _nearest(points, centers)[0]


def embed(x: torch.Tensor, dims: int = DIMS) -> torch.Tensor:
    """Images uint8 [N, C, H, W] -> their pixels' first `dims` principal components [N, dims] (seeded)."""
    flat = x.flatten(1).float().div_(255.0)
    flat -= flat.mean(0)
    with torch.random.fork_rng(devices=[]):  # pca_lowrank draws its projection from the global generator
        torch.manual_seed(CLUSTER_SEED)
        _, _, v = torch.pca_lowrank(flat, q=min(dims, *flat.shape), center=False, niter=4)
    return flat @ v


def embed_hog(x: torch.Tensor, cells: int = 4) -> torch.Tensor:
    """Images uint8 [N, C, H, W] -> histograms of oriented gradients [N, 324] on a `cells` x `cells` grid of
    cells (9 orientations, blocks of 2x2 cells; a colour image's strongest channel gradient per pixel)."""
    images = x.permute(0, 2, 3, 1).numpy()
    size = (images.shape[1] // cells, images.shape[2] // cells)
    if min(size) < 2:
        raise GankitError(f"data.cluster_features=hog needs images of at least {2 * cells} pixels a side")
    return torch.from_numpy(np.stack([hog(im, orientations=9, pixels_per_cell=size, cells_per_block=(2, 2),
                                          channel_axis=-1) for im in images])).float()


# data.cluster_features: what k-means groups the images by
FEATURES: Registry = Registry("data.cluster_features")
FEATURES.add("pixels", embed)
FEATURES.add("hog", embed_hog)


def with_clusters(data: Dataset, k: int, features: str = "pixels") -> Dataset:
    """The images with their clusters as labels ("cluster 0", ...), the clusters' shares of the data as the
    prior a generator draws them from (extra["label_prior"]) and, where the data had labels, how pure the
    clusters are (the share of images whose cluster's most common label is their own)."""
    if data.kind != "image":
        raise GankitError(f"data.clusters groups images; {data.name} is {data.kind} data")
    if not 2 <= k <= len(data) // 20:
        raise GankitError(f"data.clusters must be between 2 and {len(data) // 20} for {len(data)} images (at least "
                          f"20 images a cluster), got {k}")
    labels = kmeans(FEATURES.get(features)(data.x.cpu()), k)
    counts = torch.bincount(labels, minlength=k)
    extra = {**data.extra, "clusters": k, "label_prior": [round(c / len(data), 6) for c in counts.tolist()]}
    if data.labels is not None and bool((data.labels >= 0).all()):
        table = torch.zeros(k, data.num_classes).index_put_((labels, data.labels.cpu()), torch.ones(len(labels)),
                                                            accumulate=True)
        extra["cluster_purity"] = round(table.max(1).values.sum().item() / len(data), 4)
    return replace(data, labels=labels.to(data.x.device), class_names=[f"cluster {i}" for i in range(k)], extra=extra)


def label_prior(extra: dict, num_classes: int) -> tuple[float, ...] | None:
    """The clusters' shares from a data record (a checkpoint's, which is untrusted), or None for data whose
    classes are real ones."""
    prior = extra.get("label_prior") if isinstance(extra, dict) else None
    if prior is None:
        return None
    if not (isinstance(prior, list) and len(prior) == num_classes and
            all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 for p in prior)
            and 0.99 <= sum(prior) <= 1.01):
        raise GankitError("the file's cluster shares (label_prior) do not fit its generator's classes; the file is "
                          "damaged")
    return tuple(float(p) for p in prior)


def draw_labels(n: int, num_classes: int, prior: tuple[float, ...] | list | None = None, seed: int = 0) -> torch.Tensor:
    """Labels [n] for the samples of a conditional model: its classes in turn (0, 1, ..., K-1, 0, ...), or for
    a model of clusters, drawn from their shares with `seed`, so its samples keep the data's proportions."""
    if not prior:
        return torch.arange(n) % num_classes
    gen = torch.Generator().manual_seed(seed)
    return torch.multinomial(torch.tensor(prior, dtype=torch.float64), n, replacement=True, generator=gen)
