"""Time-conditioned MLPs predicting the noise ε, as an ensemble of E independent models.

One module holds E models: every weight has a leading ensemble dimension and every layer is a
batched matmul (``torch.baddbmm``), so E replicates train and sample in one pass (issue 3,
"batched ensembles"). Member e computes exactly what a lone model with the same seed computes:
layers never mix members, and each member's initial weights come from its own generator.

Inputs: x of shape (E, B, D) and the conditioning time t of shape (E, B). The network sees t
through Fourier features of c = ¼ log σ(t) (the EDM noise conditioning, Karras et al. 2022, §B.6),
which spreads the many small noise levels that matter near T̲ evenly over the input range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from minimax.diffusion.base import Process, ScoreSource
from minimax.runtime import torch_generator
from minimax.validation import check_int, check_real

#: number of geometric frequencies 2^k (k = 0..K-1) applied to the time conditioning
TIME_FREQUENCIES = 6


def noise_conditioning(process: Process, t: torch.Tensor) -> torch.Tensor:
    """c(t) = ¼ log σ(t), computed in float64 then cast to float32 (EDM's c_noise)."""
    _, std = process.marginal(t.to(torch.float64))
    return (0.25 * torch.log(std)).to(torch.float32)


def _fourier(c: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """[sin(ω c), cos(ω c)] for every frequency ω; c has shape (..., k), result (..., 2 k |ω|)."""
    arg = (c.unsqueeze(-1) * freqs).flatten(-2)
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)


class EnsembleMLP(torch.nn.Module):
    """E independent MLPs ε_θ(x, t) in one module (parameters of shape (E, ...)).

    Layers: input features → ``depth`` hidden layers of ``width`` units with SiLU → linear output
    of size D. Input features are x, the time conditioning c(t) with its Fourier features
    sin/cos(2^k c), and optionally Fourier features of x at frequencies 2π/h for scales h on a
    geometric ladder from 1 down to ``x_finest_scale`` (so the network can resolve structure at
    that scale, issue 7). Weights use PyTorch's ``nn.Linear`` default initialisation
    (uniform ±1/√fan_in) drawn per member from ``generators[e]``.
    """

    def __init__(
        self,
        dim: int,
        width: int,
        depth: int,
        generators: Sequence[torch.Generator],
        *,
        x_finest_scale: float | None = None,
        x_frequencies: int = 8,
        device="cpu",
    ):
        super().__init__()
        self.dim = check_int("dim", dim, low=1)
        self.width = check_int("width", width, low=1)
        self.depth = check_int("depth", depth, low=1)
        if len(generators) < 1:
            raise ValueError("generators=[] is not allowed: expected one generator per member")
        self.ensemble_size = len(generators)
        self.register_buffer(
            "time_freqs", 2.0 ** torch.arange(TIME_FREQUENCIES, dtype=torch.float32, device=device)
        )
        if x_finest_scale is None:
            xf = torch.zeros(0, dtype=torch.float32, device=device)
        else:
            h = check_real("x_finest_scale", x_finest_scale, low=0.0, high=1.0, low_open=True)
            k = check_int("x_frequencies", x_frequencies, low=1)
            scales = np.geomspace(1.0, h, k) if k > 1 else np.array([h])
            xf = torch.tensor(2 * math.pi / scales, dtype=torch.float32, device=device)
        self.register_buffer("x_freqs", xf)
        n_in = dim + 1 + 2 * TIME_FREQUENCIES + 2 * dim * len(xf)
        sizes = [n_in] + [width] * depth + [dim]
        #: (fan_in, fan_out, offset of W, offset of b) of each layer inside the flat vector
        self.layers = []
        offset = 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            self.layers.append((fan_in, fan_out, offset, offset + fan_in * fan_out))
            offset += fan_in * fan_out + fan_out
        # One flat (E, P) parameter: Adam, EMA, clipping and masking are then a few whole-tensor
        # operations per step instead of a few per layer.
        flat = torch.empty(self.ensemble_size, offset, dtype=torch.float32)
        for e, g in enumerate(generators):
            for fan_in, fan_out, w_at, b_at in self.layers:
                bound = 1.0 / math.sqrt(fan_in)
                flat[e, w_at:b_at] = _uniform(fan_in * fan_out, bound, g).cpu()
                flat[e, b_at : b_at + fan_out] = _uniform(fan_out, bound, g).cpu()
        self.flat = torch.nn.Parameter(flat.to(device))

    @classmethod
    def like(cls, other: EnsembleMLP, flat: torch.Tensor) -> EnsembleMLP:
        """A network with ``other``'s architecture and the given flat parameters (E', P)."""
        new = cls.__new__(cls)
        torch.nn.Module.__init__(new)
        new.dim, new.width, new.depth = other.dim, other.width, other.depth
        new.ensemble_size = flat.shape[0]
        new.register_buffer("time_freqs", other.time_freqs.clone())
        new.register_buffer("x_freqs", other.x_freqs.clone())
        new.layers = list(other.layers)
        new.flat = torch.nn.Parameter(flat.detach().clone(), requires_grad=False)
        return new

    def select(self, index) -> EnsembleMLP:
        """The sub-ensemble of the listed members."""
        return EnsembleMLP.like(self, self.flat[list(index)])

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The input features of the first layer, shape (E, B, n_in)."""
        parts = [x, c.unsqueeze(-1), _fourier(c.unsqueeze(-1), self.time_freqs)]
        if len(self.x_freqs):
            parts.append(_fourier(x, self.x_freqs))
        return torch.cat(parts, dim=-1)

    def views(self, flat: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[W_1, b_1, W_2, b_2, ...] as views of ``flat`` (E, P), in the order they lie in it.

        Gradients taken with respect to these views, concatenated in this order, are the
        gradient with respect to ``flat`` (without autograd scattering each slice into a full
        zero tensor).
        """
        flat = self.flat if flat is None else flat
        E = flat.shape[0]
        out = []
        for fan_in, fan_out, w_at, b_at in self.layers:
            out.append(flat[:, w_at:b_at].view(E, fan_in, fan_out))
            out.append(flat[:, b_at : b_at + fan_out].view(E, 1, fan_out))
        return out

    def forward(self, x: torch.Tensor, c: torch.Tensor, flat: torch.Tensor | None = None,
                views: list[torch.Tensor] | None = None):  # fmt: skip
        """ε_θ at inputs x (E, B, D) with noise conditioning c (E, B), or c (E,) when member e's
        points all share the time c[e] (the samplers' case); returns (E, B, D).

        ``flat`` replaces the parameters (same shape), e.g. by their EMA; ``views`` (from
        :meth:`views`) replaces them too, layer by layer.
        """
        views = self.views(flat) if views is None else views
        inference = not torch.is_grad_enabled()
        last = len(self.layers) - 1
        if c.ndim == 1:  # the first layer done with the time features as a bias (depth ≥ 1)
            h = self._first_layer_one_time(x, c, views[0], views[1])
            h, start = torch.nn.functional.silu(h, inplace=inference), 1
        else:
            h, start = self.features(x, c), 0
        for i in range(start, len(self.layers)):
            w, b = views[2 * i], views[2 * i + 1]
            if inference:  # in place: no second activation buffer
                h = ensemble_matmul(h, w, b)
                if i < last:
                    torch.nn.functional.silu(h, inplace=True)
            else:
                h = torch.baddbmm(b, h, w)
                if i < last:
                    h = torch.nn.functional.silu(h)
        return h

    def _first_layer_one_time(self, x, c, w, b) -> torch.Tensor:
        """The first layer's pre-activation when member e's points share one time c[e].

        The time features [c, sin/cos(2^k c)] are then one row per member, so their part of the
        first matmul is a per-member bias, computed once instead of once per point: the same
        affine map in another summation order (equal to float32 rounding, tests/test_networks.py).
        """
        D, k = self.dim, 1 + 2 * TIME_FREQUENCIES
        ct = c.reshape(-1, 1, 1).to(torch.float32)
        time_row = torch.cat([ct, _fourier(ct, self.time_freqs)], dim=-1)  # (E, 1, k)
        bias = torch.baddbmm(b, time_row, w[:, D : D + k])
        if len(self.x_freqs):
            return ensemble_matmul(torch.cat([x, _fourier(x, self.x_freqs)], dim=-1),
                                   torch.cat([w[:, :D], w[:, D + k :]], dim=1), bias)  # fmt: skip
        return ensemble_matmul(x, w[:, :D], bias)

    def parameter_count(self) -> int:
        """Parameters of ONE member (the network size N of docs/theory.md §2)."""
        return int(self.flat.shape[1])

    def flops_per_eval(self, shared_time: bool = False) -> int:
        """Floating-point operations (2 per multiply-add) of the matmuls, per member and point;
        ``shared_time``: as computed when the points share one time (the time features' rows of
        the first layer are then a per-member bias, not a per-point product)."""
        skip = 1 + 2 * TIME_FREQUENCIES if shared_time else 0
        return sum(2 * (fan_in - (skip if i == 0 else 0)) * fan_out
                   for i, (fan_in, fan_out, _, _) in enumerate(self.layers))  # fmt: skip


def ensemble_matmul(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None):
    """h[e] @ w[e] (+ b[e]) for every member e: (E, B, K) x (E, K, N) (+ (E, 1, N)) -> (E, B, N).

    One batched ``torch.bmm``/``baddbmm`` on a GPU or with gradients on; member by member on the
    CPU at inference, where a loop of plain matmuls with the bias fused (``addmm``) ran faster
    than ``bmm`` over the ensemble axis for these shapes (benchmarks/bench_training.py).
    """
    if h.device.type != "cpu" or torch.is_grad_enabled():
        return torch.bmm(h, w) if b is None else torch.baddbmm(b, h, w)
    out = h.new_empty((h.shape[0], h.shape[1], w.shape[2]))
    for e in range(h.shape[0]):
        if b is None:
            torch.mm(h[e], w[e], out=out[e])
        else:
            torch.addmm(b[e], h[e], w[e], out=out[e])
    return out


def _uniform(shape, bound: float, generator: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float32)
    return (2.0 * u - 1.0) * bound


def member_generators(rngs: Sequence[np.random.Generator], device="cpu") -> list[torch.Generator]:
    """One torch.Generator per member, each seeded from (and advancing) that member's numpy rng."""
    return [torch_generator(r, device) for r in rngs]


class Standardizer:
    """The affine map u = (x - shift) / scale (per axis) applied to data before training.

    Scores transform by the Jacobian: ∇_x log p(x) = ∇_u log p(u) / scale (theory: change of
    variables with a diagonal affine map). ``shift`` and ``scale`` have shape (E, 1, D).
    """

    def __init__(self, shift: torch.Tensor, scale: torch.Tensor):
        self.shift = shift
        self.scale = scale

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift.to(x.device)) / self.scale.to(x.device)

    def from_model(self, u: torch.Tensor) -> torch.Tensor:
        return u * self.scale.to(u.device) + self.shift.to(u.device)

    def select(self, index: Sequence[int]) -> Standardizer:
        return Standardizer(self.shift[list(index)], self.scale[list(index)])


class NetworkScore(ScoreSource):
    """The score of a trained ε-network: s(u, t) = -ε_θ(u, t) / σ(t) (docs/theory.md §3, the correct
    √(1 - ᾱ_t) link), in the standardised coordinates u the network was trained in.

    Samplers run in model coordinates; ``standardizer.from_model`` maps samples back to data
    coordinates. ``score_data`` gives the score in data coordinates, s_x(x, t) = s_u(u, t)/scale,
    for comparison with exact scores; there the forward process acts on u = (x - shift)/scale.
    """

    def __init__(self, network: EnsembleMLP, process: Process, standardizer: Standardizer):
        self.network = network
        self.process = process
        self.standardizer = standardizer
        self.ensemble_size = network.ensemble_size
        self.dim = network.dim

    def _eps(self, u: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor | float]:
        E, B, _ = u.shape
        if isinstance(t, torch.Tensor) and t.ndim > 0:
            _, std = self.process.marginal(t.to(torch.float64))
            c = (0.25 * torch.log(std)).to(torch.float32)
            std = std.unsqueeze(-1)
        else:  # one time for the whole batch (the samplers' case): one float64 marginal
            _, std = self.process.marginal(float(t))
            c = torch.full((E,), 0.25 * math.log(std), dtype=torch.float32, device=u.device)
        return self.network(u.to(torch.float32), c), std

    @torch.no_grad()
    def eps(self, x: torch.Tensor, t) -> torch.Tensor:
        """The network's ε_θ(u, t) directly (no round trip through the score)."""
        return self._eps(x, t)[0].to(x.dtype)

    @torch.no_grad()
    def score(self, x: torch.Tensor, t) -> torch.Tensor:
        """-ε_θ(u, t)/σ(t) at model coordinates x (E, N, D); t a float or an (E, N) tensor."""
        eps, std = self._eps(x, t)
        return (-eps.to(torch.float64) / std).to(x.dtype)

    @torch.no_grad()
    def score_data(self, x: torch.Tensor, t) -> torch.Tensor:
        """The score in data coordinates: s_u((x - shift)/scale, t) / scale."""
        u = self.standardizer.to_model(x)
        return self.score(u, t) / self.standardizer.scale.to(x.device)
