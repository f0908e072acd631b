"""Score sources that need no training: exact (Gaussian mixture), empirical, and oracle.

All follow :class:`minimax.diffusion.base.ScoreSource`: ``score(x, t)`` with x of shape
(E, N, D) and a float time t, computed in float64 and returned as float64 on x's device.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import ndtr

from minimax.diffusion.base import Process, ScoreSource
from minimax.targets.base import Target
from minimax.targets.gaussian_mixture import GaussianMixture
from minimax.validation import check_choice, check_int, check_points

#: default bound on the number of (query, training point) pairs held at once per score call
DEFAULT_BLOCK_ENTRIES = 1 << 20
#: the same bound on a CUDA device: 2^26 pairs are 256 MiB per float32 array (a handful are
#: live at once), so a score call at n = 64,000 and 10^6 queries takes ~1,000 blocks of ~6
#: kernels instead of 62,500 blocks of ~13 (issue 17)
CUDA_BLOCK_ENTRIES = 1 << 26
PRECISIONS = ("float64", "float32")


def _check_process(process) -> Process:
    if not isinstance(process, Process):
        raise ValueError(f"process={process!r} is not allowed: expected a diffusion Process")
    return process


def _check_x(x: torch.Tensor, dim: int, ens: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != dim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x with shape {shape} is not allowed: expected a tensor (E, N, {dim})")
    if ens > 1 and x.shape[0] != ens:
        raise ValueError(f"x with shape {tuple(x.shape)} is not allowed: expected E={ens} first")
    return x.to(torch.float64)


class ExactGMMScore(ScoreSource):
    """The exact score ∇ log q_t of a Gaussian mixture's marginals (docs/theory.md §5).

    q_t is the law of m(t) X + sigma(t) Z, again a Gaussian mixture
    (``GaussianMixture.marginal``). The same mixture serves every ensemble member.
    """

    ensemble_size = 1

    def __init__(self, gmm: GaussianMixture, process: Process):
        if not isinstance(gmm, GaussianMixture):
            raise ValueError(f"gmm={gmm!r} is not allowed: expected a GaussianMixture")
        self.gmm, self.process, self.dim = gmm, _check_process(process), gmm.dim

    def score(self, x: torch.Tensor, t: float) -> torch.Tensor:
        x = _check_x(x, self.dim, 1)
        m, std = self.process.marginal(float(t))
        return self.gmm.marginal(m, std).score_torch(x)


class EmpiricalScore(ScoreSource):
    """The score of (1/n) Σ_i N(m(t) x_i, sigma(t)² I): the exact minimiser of the empirical
    denoising loss (docs/theory.md §5), so sampling with it down to t_min draws from the Gaussian
    KDE of bandwidth sigma(t_min)/m(t_min) (after Tweedie denoising, see the tests).

    ``X`` is one training set (n, D) or a list of E sets (sizes may differ) for an ensemble.
    s(x) = (m Σ_i w_i x_i - x)/sigma², w = softmax_i(-|x - m x_i|²/(2 sigma²)) by logsumexp, in
    float64, in blocks of queries so that at most ``block_entries`` (member, query, point)
    triples are held at once (a few arrays of that many float64 values).

    Device-sized (issue 17): ``block_entries=None`` means DEFAULT_BLOCK_ENTRIES on the CPU and
    CUDA_BLOCK_ENTRIES on CUDA; ``precision=None`` means "float64" on the CPU (the expansion
    above, bit for bit the historical numbers) and "float32" on CUDA: distances by direct
    differences (``cdist`` without the matmul expansion, so no cancellation), one fused
    ``addcmul`` for the logits, softmax and the weighted mean in float32, and the final
    (m·mean - x)/σ² in float64. Its relative error against float64 is measured in the tests
    (``test_float32_empirical_score_matches_float64``) at the smallest σ a study uses.
    """

    def __init__(self, X, process: Process, *, block_entries: int | None = None,
                 precision: str | None = None):  # fmt: skip
        sets = X if isinstance(X, list | tuple) else [X]
        if len(sets) == 0:
            raise ValueError("X=[] is not allowed: expected at least one training set")
        sets = [check_points("X", s) for s in sets]
        dim = sets[0].shape[1]
        sets = [check_points("X", s, dim) for s in sets]
        if any(len(s) == 0 for s in sets):
            raise ValueError("X with an empty training set is not allowed: expected n >= 1")
        self.process = _check_process(process)
        if block_entries is not None:
            check_int("block_entries", block_entries, low=1)
        if precision is not None:
            check_choice("precision", precision, PRECISIONS)
        self.block_entries, self.precision = block_entries, precision
        self.dim, self.ensemble_size = dim, len(sets)
        self.sizes = [len(s) for s in sets]
        n_max = max(self.sizes)
        points = np.zeros((len(sets), n_max, dim))
        log_w = np.full((len(sets), n_max), -np.inf)
        for e, s in enumerate(sets):
            points[e, : len(s)] = s
            log_w[e, : len(s)] = -math.log(len(s))
        self._points, self._log_w = points, log_w
        self._cache: dict = {}

    def _on(self, device, dtype=torch.float64):
        key = (str(device), dtype)
        if key not in self._cache:
            pts = torch.as_tensor(self._points, dtype=dtype, device=device)
            self._cache[key] = (pts, torch.as_tensor(self._log_w, dtype=dtype, device=device),
                                (pts * pts).sum(-1))  # fmt: skip
        return self._cache[key]

    def settings(self, device) -> tuple[int, str]:
        """(block_entries, precision) used on ``device``."""
        cuda = torch.device(device).type == "cuda"
        block = self.block_entries or (CUDA_BLOCK_ENTRIES if cuda else DEFAULT_BLOCK_ENTRIES)
        return block, self.precision or ("float32" if cuda else "float64")

    def score(self, x: torch.Tensor, t: float) -> torch.Tensor:
        x = _check_x(x, self.dim, self.ensemble_size)
        block, precision = self.settings(x.device)
        if precision == "float32":
            return self._score32(x, t, block)
        pts, log_w, sq = self._on(x.device)
        m, std = self.process.marginal(float(t))
        var = std**2
        if x.shape[0] != pts.shape[0]:  # one training set shared by every member
            pts, log_w, sq = (a.expand(x.shape[0], *a.shape[1:]) for a in (pts, log_w, sq))
        rows = max(1, block // (pts.shape[0] * pts.shape[1]))
        out = torch.empty_like(x)
        for i in range(0, x.shape[1], rows):
            xb = x[:, i : i + rows]
            # |x - m x_i|² expanded; float64 keeps the cancellation error far below sigma²
            d2 = torch.baddbmm(
                (xb * xb).sum(-1, keepdim=True) + (m * m) * sq.unsqueeze(1),
                xb, pts.transpose(1, 2), alpha=-2.0 * m,
            ).clamp_min_(0.0)  # fmt: skip
            w = torch.softmax(log_w.unsqueeze(1) - d2 / (2.0 * var), dim=-1)
            out[:, i : i + rows] = (m * torch.bmm(w, pts) - xb) / var
        return out

    def _score32(self, x: torch.Tensor, t: float, block: int) -> torch.Tensor:
        """The float32 path (see the class docstring); x float64, result float64."""
        pts, log_w, _ = self._on(x.device, torch.float32)
        pts64, _, _ = self._on(x.device)
        m, std = self.process.marginal(float(t))
        var = std**2
        if x.shape[0] != pts.shape[0]:
            pts, log_w, pts64 = (a.expand(x.shape[0], *a.shape[1:]) for a in (pts, log_w, pts64))
        mpts = m * pts
        rows = max(1, block // (pts.shape[0] * pts.shape[1]))
        out = torch.empty_like(x)
        for i in range(0, x.shape[1], rows):
            xb = x[:, i : i + rows]
            d = torch.cdist(xb.to(torch.float32), mpts, compute_mode="donot_use_mm_for_euclid_dist")
            w = torch.softmax(torch.addcmul(log_w.unsqueeze(1), d, d, value=-0.5 / var), dim=-1)
            # the weighted mean in float64: a float32 sum over n terms, less x, over σ², loses
            # up to n·2^-24 relative (measured: 3% at single points for n = 64,000, σ = 0.02)
            out[:, i : i + rows] = (m * torch.bmm(w.to(torch.float64), pts64) - xb) / var
        return out


def _diff_ndtr(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Φ(u1) - Φ(u2) for u1 >= u2, using upper tails where both are positive (keeps digits)."""
    upper = u2 > 0
    return np.where(upper, ndtr(-u2) - ndtr(-u1), ndtr(u1) - ndtr(u2))


class OracleScore(ScoreSource):
    """∇ log q_t of any target with D ≤ 2, computed numerically from its exact cell masses.

    The box is cut into ``grid`` cells per axis (a power of two) with exact masses P_k
    (``target.cell_masses``; mass outside the box, ``mass_outside_box``, is dropped and the rest
    renormalised). Inside each cell q is taken constant, so q_t = law of m X + sigma Z is
    p_t(y) = Σ_k P_k Π_a [Φ((y_a - m L_ka)/sigma) - Φ((y_a - m R_ka)/sigma)] / (m (R_ka - L_ka))
    exactly for that piecewise-constant q. At each t, p_t and ∇p_t are evaluated by separable
    matrix products on a y-grid of spacing max(sigma/16, m h/2) reaching 8 sigma beyond m·box
    (at most 2·grid + 260 points per axis; 0.05-0.3 s per table at the default grids, 1024 for
    D = 1 and 256 for D = 2, on one CPU core; the last ``cache_size`` times are cached), and the
    score ∇p_t/p_t is interpolated (multi-)linearly. Points off the y-grid, or where p_t
    underflows, use the cells as point masses (logsumexp): the score of the box-truncated q.

    Error: O(h²) from the piecewise-constant q and O(spacing²) from interpolation for a smooth q
    (h = cell width), valid where sigma(t)/m(t) ≥ 2h (:meth:`reliable`); at smaller t the score
    of the step function shows. :meth:`grid_error` states it a posteriori: |s - s_coarse| with
    cells and y-spacing doubled, about 3× the error of s in the second-order regime; its maximum
    over a set of points bounded the maximum error there in the tests.
    """

    ensemble_size = 1

    def __init__(self, target: Target, process: Process, grid: int | None = None, box=None,
                 cache_size: int = 8):  # fmt: skip
        if not isinstance(target, Target):
            raise ValueError(f"target={target!r} is not allowed: expected a Target")
        self.dim = int(target.dim)
        if self.dim > 2:
            raise ValueError(f"target with D={self.dim} is not allowed: OracleScore needs D <= 2")
        self.process, self.target = _check_process(process), target
        if box is None:
            if not target.bounded:
                raise ValueError(
                    "box=None is not allowed: the target's support is unbounded; pass "
                    "box=[[low, high], ...] covering its mass"
                )
            box = target.support
        box_arr = np.asarray(box, dtype=np.float64).reshape(-1, 2)
        if (
            box_arr.shape != (self.dim, 2)
            or not np.all(np.isfinite(box_arr))
            or np.any(box_arr[:, 1] <= box_arr[:, 0])
        ):
            raise ValueError(f"box={box!r} is not allowed: expected {self.dim} finite [low, high]")
        self.box = box_arr
        grid = (1024 if self.dim == 1 else 256) if grid is None else grid
        self.grid = check_int("grid", grid, low=4, high=1 << 16)
        if self.grid & (self.grid - 1):
            raise ValueError(f"grid={grid!r} is not allowed: expected a power of two")
        self.cache_size = check_int("cache_size", cache_size, low=1)
        #: the largest cell width h over the axes
        self.cell_width = float(np.max(self.box[:, 1] - self.box[:, 0])) / self.grid
        edges = [np.linspace(lo, hi, self.grid + 1) for lo, hi in self.box]
        masses = np.clip(np.asarray(target.cell_masses(edges), dtype=np.float64), 0.0, None)
        total = masses.sum()
        if not total > 0:
            raise ValueError(f"box={box!r} is not allowed: the target has no mass in it")
        self.mass_outside_box = float(max(0.0, 1.0 - total))
        # pyramid of merged cells: level j has grid / 2^j cells per axis
        self._levels = [masses / total]
        while self._levels[-1].shape[0] > 1:
            p = self._levels[-1]
            p = p.reshape(p.shape[0] // 2, 2, *p.shape[1:]).sum(1)
            if self.dim == 2:
                p = p.reshape(p.shape[0], p.shape[1] // 2, 2).sum(2)
            self._levels.append(p)
        self._cache: dict = {}

    # ---- tables on a y-grid ---------------------------------------------------------------
    def _table(self, t: float, coarser: int):
        key = (t, coarser)
        if key in self._cache:
            self._cache[key] = self._cache.pop(key)  # most recently used last
            return self._cache[key]
        m, std = self.process.marginal(t)
        masses = self._levels[coarser]
        cells = masses.shape[0]
        axes, kernels, dkernels, lows, steps = [], [], [], [], []
        for lo, hi in self.box:
            width = (hi - lo) / cells
            step = max(std / 16, m * (hi - lo) / self.grid / 2) * 2**coarser
            y = np.arange(m * lo - 8 * std - step, m * hi + 8 * std + 2 * step, step)
            left = lo + width * np.arange(cells)
            u1 = (y[:, None] - m * left) / std
            u2 = (y[:, None] - m * (left + width)) / std
            kernels.append(_diff_ndtr(u1, u2) / (m * width))
            dkernels.append((np.exp(-0.5 * u1 * u1) - np.exp(-0.5 * u2 * u2))
                            / (math.sqrt(2 * math.pi) * std * m * width))  # fmt: skip
            axes.append(y)
            lows.append(y[0])
            steps.append(step)
        if self.dim == 1:
            p = kernels[0] @ masses
            grads = (dkernels[0] @ masses)[:, None]
        else:
            right = masses @ kernels[1].T
            p = kernels[0] @ right
            grads = np.stack([dkernels[0] @ right, kernels[0] @ masses @ dkernels[1].T], -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = grads / p[..., None]
        valid = (p > 1e-280) & np.all(np.isfinite(score), axis=-1)
        score[~valid] = 0.0
        centres = [lo + (hi - lo) / cells * (np.arange(cells) + 0.5) for lo, hi in self.box]
        table = {
            "m": m, "std": std, "low": np.array(lows), "step": np.array(steps),
            "size": np.array([len(a) for a in axes]), "score": score,
            "valid": valid.astype(np.float64), "masses": masses, "centres": centres,
        }  # fmt: skip
        self._cache[key] = table
        while len(self._cache) > self.cache_size:
            self._cache.pop(next(iter(self._cache)))
        return table

    def _interpolate(self, table, y: torch.Tensor):
        """(score, ok) at points y (N, D) by (bi)linear interpolation of the table."""
        dev = y.device
        low = torch.as_tensor(table["low"], device=dev)
        step = torch.as_tensor(table["step"], device=dev)
        size = torch.as_tensor(table["size"], device=dev)
        u = (y - low) / step
        inside = ((u >= 0) & (u <= size - 1)).all(-1)
        idx = u.floor().clamp(min=torch.zeros_like(size), max=size - 2).long()
        frac = (u - idx).clamp(0.0, 1.0)
        score = torch.as_tensor(table["score"], device=dev)
        valid = torch.as_tensor(table["valid"], device=dev)
        if self.dim == 1:
            i, w = idx[:, 0], frac[:, :1]
            s = (1 - w) * score[i] + w * score[i + 1]
            ok = (1 - w[:, 0]) * valid[i] + w[:, 0] * valid[i + 1]
        else:
            i, j = idx[:, 0], idx[:, 1]
            a, b = frac[:, :1], frac[:, 1:]
            s = ((1 - a) * (1 - b) * score[i, j] + a * (1 - b) * score[i + 1, j]
                 + (1 - a) * b * score[i, j + 1] + a * b * score[i + 1, j + 1])  # fmt: skip
            a, b = a[:, 0], b[:, 0]
            ok = ((1 - a) * (1 - b) * valid[i, j] + a * (1 - b) * valid[i + 1, j]
                  + (1 - a) * b * valid[i, j + 1] + a * b * valid[i + 1, j + 1])  # fmt: skip
        return s, inside & (ok > 1 - 1e-9)

    def _point_masses(self, table, y: torch.Tensor) -> torch.Tensor:
        """Score of Σ_k P_k N(m c_k, sigma² I) (cells as points), by logsumexp."""
        dev = y.device
        keep = table["masses"] > 0
        grids = np.meshgrid(*table["centres"], indexing="ij")
        pts = torch.as_tensor(np.stack([g[keep] for g in grids], -1), device=dev)
        log_w = torch.as_tensor(np.log(table["masses"][keep]), device=dev)
        m, var = table["m"], table["std"] ** 2
        out = torch.empty_like(y)
        rows = max(1, DEFAULT_BLOCK_ENTRIES // len(pts))
        for i in range(0, len(y), rows):
            yb = y[i : i + rows]
            d2 = torch.cdist(yb, m * pts).pow(2)
            w = torch.softmax(log_w - d2 / (2 * var), dim=-1)
            out[i : i + rows] = (m * (w @ pts) - yb) / var
        return out

    def _score(self, x: torch.Tensor, t: float, coarser: int) -> torch.Tensor:
        x = _check_x(x, self.dim, 1)
        table = self._table(float(t), coarser)
        flat = x.reshape(-1, self.dim)
        s, ok = self._interpolate(table, flat)
        if not bool(ok.all()):
            s[~ok] = self._point_masses(table, flat[~ok])
        return s.reshape(x.shape)

    def score(self, x: torch.Tensor, t: float) -> torch.Tensor:
        return self._score(x, t, 0)

    def reliable(self, t: float) -> bool:
        """True where the stated accuracy holds: sigma(t)/m(t) ≥ 2 h (the Gaussian smoothing,
        in data units, spans at least two cells)."""
        m, std = self.process.marginal(float(t))
        return bool(std >= 2.0 * self.cell_width * m)

    def grid_error(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """A posteriori grid error at (x, t): |s(x, t) - s_coarse(x, t)| (Euclidean, shape
        (E, N)), s_coarse with cell width and y-spacing doubled; in the second-order regime the
        error of s is about a third of it."""
        return (self._score(x, t, 0) - self._score(x, t, 1)).norm(dim=-1)
