"""Which object each pixel of a frame belongs to, read from how the frame moved since the one before it.

Motion segmentation by block matching: the last frame's ink is compared with the frame before it displaced by
each whole-pixel step within `SEARCH` pixels. Pixels of one rigid object all match at the same step (exactly, for
clips drawn on the pixel grid as Moving MNIST's are), so the step under which the ink matches best is one
object's move, the step under which the ink it leaves unexplained matches best is the next object's, and so on;
a pixel belongs to the object whose step explains it best over a small block around it. Where two steps explain
it equally (a straight stroke, slid along itself), the object whose unambiguous ink lies nearest wins.
Nothing here is learnt and no gradient flows through it: it tells a generator which ink to move together."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.nn.layers import ink_centroids

SEARCH = 5  # pixels a frame: Moving MNIST's digits move at most 4 (3.6 rounded) at 64×64
WINDOW = 3  # the block compared around each pixel
EXPLAINED = 0.02  # a pixel whose block differs by less (mean square, ink in [0, 1]) is explained by that step
SHARPNESS = 0.005  # how much a better match counts toward a pixel's share, in mean-square differences
NEAR = 50.0  # how much nearness counts, in squared pixels per unit of match


def _step_table(device: torch.device) -> torch.Tensor:
    """The S = (2·SEARCH + 1)² steps a frame is compared under, as (row, column) pairs [S, 2] (rows, then
    columns, each from -SEARCH): the order of _matches's last dim."""
    span = torch.arange(-SEARCH, SEARCH + 1, device=device)
    return torch.cartesian_prod(span, span)


def _costs_at(last: torch.Tensor, before: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Ink [N, H, W] of a frame and the one before, one step d per sample (steps [N, 2], long) -> [N, H, W]: the
    mean square difference over a WINDOW block between the frame at p and the one before at p + d."""
    moved = _translated(before[:, None], -steps[:, None])[:, 0]  # the frame before at p + d
    return F.avg_pool2d(((last - moved) ** 2)[:, None], WINDOW, 1, WINDOW // 2, count_include_pad=False)[:, 0]


def _object_costs(last: torch.Tensor, before: torch.Tensor, objects: int) -> torch.Tensor:
    """_costs_at [N, objects, H, W] for the `objects` steps that explain the most ink, each found on the ink the
    ones before it left unexplained (so a second digit is found even where the first has more ink)."""
    table = _step_table(last.device)
    left, picks, costs = last, [], []
    for _ in range(objects):
        match = _matches(left[:, None], last, before)[:, 0]
        for pick in picks:
            match.scatter_(1, pick[:, None], float("inf"))
        picks.append(match.argmin(1))
        costs.append(_costs_at(last, before, table[picks[-1]]))
        left = left * (costs[-1] > EXPLAINED)
    return torch.stack(costs, 1)


@torch.no_grad()
def motion_shares(last: torch.Tensor, before: torch.Tensor, objects: int) -> torch.Tensor:
    """Ink [N, H, W] of the last frame and the one before (ground 0) -> each pixel's share of each object
    [N, objects, H, W] (summing to 1)."""
    match = -_object_costs(last, before, objects) / SHARPNESS
    share = torch.softmax(match, 1)
    where, mass = ink_centroids(last[:, None] * (share > 0.9))  # each object's unambiguous ink: [N, objects, 2]
    rows, cols = (torch.arange(n, device=last.device, dtype=last.dtype) for n in last.shape[-2:])
    far = (rows[:, None] - where[..., 0, None, None]) ** 2 + (cols - where[..., 1, None, None]) ** 2
    far = torch.where(mass[..., None, None] > 1, far, far.new_tensor(1e4))  # an object with no sure ink is far
    return torch.softmax(match - far / NEAR, 1)


def _translated(planes: torch.Tensor, by: torch.Tensor) -> torch.Tensor:
    """planes [N, K, H, W] each moved by whole pixels by [N, K, 2] (rows, columns; long), 0 where they come
    from off the frame."""
    h, w = planes.shape[-2:]
    rows = torch.arange(h, device=planes.device) - by[..., :1]  # where each row comes from: [N, K, H]
    cols = torch.arange(w, device=planes.device) - by[..., 1:]
    inside_r, inside_c = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    planes = planes.gather(2, rows.clamp(0, h - 1)[..., None].expand(-1, -1, -1, w)) * inside_r[..., None]
    return planes.gather(3, cols.clamp(0, w - 1)[:, :, None].expand(-1, -1, h, -1)) * inside_c[:, :, None]


def _matches(here: torch.Tensor, now: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    """How badly each object's ink here [N, K, H, W] in frame `now` [N, H, W] matches the frame before under each
    step [N, K, S]: the sum over p of here(p)·(now(p) - before(p + d))², less a term that is the same for every
    step. Written as two correlations (convolutions with the object as the kernel), far cheaper than moving the
    frame S times."""
    n, k, h, w = here.shape
    r = SEARCH
    padded = F.pad(before, (r, r, r, r))[None]  # [1, N, H + 2r, W + 2r]: one group per sample
    both = F.conv2d(padded ** 2, here.reshape(n * k, 1, h, w), groups=n)  # Σ here·before(p + d)²
    cross = F.conv2d(padded, (here * now[:, None]).reshape(n * k, 1, h, w), groups=n)  # Σ here·now·before(p + d)
    return (both - 2 * cross).view(n, k, -1)


@torch.no_grad()
def object_paths(frames: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Ink [N, M, H, W] of M frames (ground 0) and each object's ink in the last one, weight [N, K, H, W] ->
    where each object was in every earlier frame [N, K, M - 1, 2] (rows, columns, in whole pixels from its place
    in the last frame; oldest first). Followed back one frame at a time: the step from a frame to the one before
    is the one under which the object's ink, where it now is, matches best (the other object's ink only adds
    a little to every step's cost, so overlaps rarely mislead it)."""
    n, m = frames.shape[:2]
    table = _step_table(frames.device)
    place = torch.zeros(n, weight.shape[1], 2, dtype=torch.long, device=frames.device)
    places = []
    for j in range(m - 1, 0, -1):
        cost = _matches(_translated(weight, place), frames[:, j], frames[:, j - 1])
        place = place + table[cost.argmin(-1)]
        places.append(place)
    return torch.stack(places[::-1], 2).to(frames.dtype)
