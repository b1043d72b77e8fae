"""Sample-quality metrics as pure functions of features (and class logits): arrays in, floats out.

Every function takes real and generated features [N, D]; none depends on how they were batched.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] (unbiased, as the reference FID code uses), in float64."""
    f = np.asarray(feats, dtype=np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two Gaussians.

    Written here rather than taken from a library: torchmetrics' FID wants images and its own module,
    not cached features. tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1 S2,
    which are real and non-negative (S1 S2 is similar to S1^(1/2) S2 S1^(1/2), a PSD matrix); this is
    the formula torchmetrics uses, and agrees with scipy.linalg.sqrtm (pytorch-fid) while being faster and
    free of sqrtm's failures on singular covariances. Rounding leaves tiny negative/imaginary parts: clip.
    """
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    eig = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt, 0.0))


def fid(real: np.ndarray, fake: np.ndarray) -> dict:
    """Fréchet distance between Gaussians fitted to real and generated features."""
    return {"fid": frechet_distance(*feature_stats(real), *feature_stats(fake))}


def _poly_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / D + 1)^3 of Bińkowski et al. 2018."""
    d = x.shape[1]
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    m = x.shape[0]
    return float((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> dict:
    """Kernel Inception Distance: the unbiased MMD^2 averaged over random subsets, with its spread.

    Written here (a dozen lines) because the libraries that have it take images, not features.
    Defaults follow the reference (100 subsets of 1,000); smaller sets use subsets of their size.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least 2 real and 2 generated samples")
    rng = np.random.default_rng(seed)
    values = [_poly_mmd2(real[rng.choice(len(real), size, replace=False)],
                         fake[rng.choice(len(fake), size, replace=False)]) for _ in range(subsets)]
    return {"kid": float(np.mean(values)), "kid_std": float(np.std(values))}


def _kth_neighbour_radii(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row (the row itself sits at distance 0)."""
    return torch.cat([torch.cdist(c, x).kthvalue(k + 1, dim=1).values for c in x.split(chunk)])


def knn_manifold_scores(real: np.ndarray, fake: np.ndarray, k: int, chunk: int = 1024) -> dict:
    """Precision, recall, density and coverage on k-NN balls, the definitions of the `prdc` package
    (Naeem et al.'s reference code, which tests compare against).

    Written here instead of calling prdc: prdc prints to stdout (our JSON channel), starts 8 jobs, and holds
    three N x N float matrices (1.2 GB at N = 10,000; 30 GB at 50,000). This walks the distances in chunks,
    in float64, so memory stays O(chunk * N) and the result does not depend on `chunk`.
    """
    r, f = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in (real, fake))
    real_radii, fake_radii = _kth_neighbour_radii(r, k, chunk), _kth_neighbour_radii(f, k, chunk)
    in_real_balls = torch.cat([(torch.cdist(c, r) < real_radii).sum(1) for c in f.split(chunk)])
    recall_hits, covered = [], []
    for c, radii in zip(r.split(chunk), real_radii.split(chunk)):
        d = torch.cdist(c, f)
        recall_hits.append((d < fake_radii).any(1))
        covered.append(d.min(1).values < radii)
    return {"precision": (in_real_balls > 0).double().mean().item(),
            "recall": torch.cat(recall_hits).double().mean().item(),
            "density": in_real_balls.double().mean().item() / k,
            "coverage": torch.cat(covered).double().mean().item()}


def _nearest(queries: np.ndarray, reference: np.ndarray, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    q, r = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in (queries, reference))
    found = [torch.cdist(c, r).min(1) for c in q.split(chunk)]
    return torch.cat([f.values for f in found]), torch.cat([f.indices for f in found])


def nearest_distances(queries: np.ndarray, reference: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Distance from each query row to its nearest reference row [N] (float64, in chunks)."""
    return _nearest(queries, reference, chunk)[0].numpy()


def nearest_indices(queries: np.ndarray, reference: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Index of each query row's nearest reference row [N]."""
    return _nearest(queries, reference, chunk)[1].numpy()


def memorisation(train: np.ndarray, fake: np.ndarray, held: np.ndarray) -> dict:
    """Does G copy its training images? The median distance from a generated sample to its nearest training
    image, over the same for images held out of training (which G never saw): about 1 for a generator
    that learned the distribution, well below 1 for one that reproduces its training set (a copy sits at
    distance 0). `nearest_share`: generated samples closer to a training image than any held-out image is."""
    to_train, held_to_train = nearest_distances(fake, train), nearest_distances(held, train)
    return {"memorisation_ratio": float(np.median(to_train) / max(np.median(held_to_train), 1e-12)),
            "nn_fake_train": float(np.median(to_train)), "nn_held_train": float(np.median(held_to_train)),
            "nearest_share": float(np.mean(to_train < held_to_train.min()))}


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019) on k-NN manifolds, k = 3 as in the paper.

    precision: share of generated samples inside the real manifold (quality);
    recall: share of real samples inside the generated manifold (diversity).
    """
    out = knn_manifold_scores(real, fake, k)
    return {"precision": out["precision"], "recall": out["recall"]}


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict:
    """Density and coverage (Naeem et al. 2020), k = 5 as in the paper.

    density: how many real neighbourhoods a generated sample falls in, over k (about 1 when matched);
    coverage: share of real samples whose neighbourhood holds at least one generated sample.
    """
    out = knn_manifold_scores(real, fake, k)
    return {"density": out["density"], "coverage": out["coverage"]}


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def inception_score(logits: np.ndarray, splits: int = 10) -> dict:
    """exp(E_x KL(p(y|x) || p(y))) over `splits` equal parts, mean and std (Salimans et al. 2016).

    With a dataset's own classifier instead of Inception this is the "classifier score" of MNIST work.
    """
    p = _softmax(logits)
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(1).mean()
        scores.append(math.exp(kl))
    return {"is": float(np.mean(scores)), "is_std": float(np.std(scores))}


def kl_to_uniform(counts) -> float:
    """KL(histogram || uniform) of counts [K] (any array-like): 0 when every bin is equally full, log K when
    one bin holds everything; inf for an empty histogram."""
    c = np.asarray(counts, dtype=np.float64)
    if c.sum() <= 0:
        return float("inf")
    q = c[c > 0] / c.sum()
    return float((q * np.log(q * len(c))).sum())


def class_stats(logits: np.ndarray, confident: float = 0.9) -> dict:
    """What a classifier says of generated samples.

    `classes_covered` of `num_classes`: the classes that receive at least a quarter of their uniform share
    of the samples as confident predictions (e.g. 50 of 2,000 for 10 classes), so a class drawn 0.07% of the
    time does not count (`confident_classes` is the same number, under the name earlier results used);
    `classes_seen`: the classes predicted at least once (PacGAN's mode count on Stacked MNIST); `class_kl`:
    the KL of the predicted-class histogram to uniform (0 when every class is equally frequent; log K when
    one class takes everything); `confident`: the share of predictions with p >= `confident`; and which
    class is predicted most and least often, with its share (uniform: 1/K), since a KL above the sampling
    noise usually means a few classes drawn too often or too rarely."""
    p = _softmax(logits)
    k = p.shape[1]
    top = p.argmax(1)
    counts = np.bincount(top, minlength=k).astype(np.float64)
    q = counts / counts.sum()
    sure = p.max(1) >= confident
    sure_counts = np.bincount(top[sure], minlength=k)
    covered = int((sure_counts * 4 * k >= len(p)).sum())
    return {"classes_covered": covered, "classes_seen": int((counts > 0).sum()), "num_classes": int(k),
            "class_kl": kl_to_uniform(counts), "confident": float(sure.mean()),
            "confident_classes": covered,  # the name time-to-quality results have always used
            "most_drawn_class": int(q.argmax()), "most_drawn_share": float(q.max()),
            "least_drawn_class": int(q.argmin()), "least_drawn_share": float(q.min())}
