"""A JS GAN (Goodfellow et al. 2014) as a density estimator, replicates trained as one ensemble.

Why the JS GAN and not WGAN-GP: the theory this study tests is for the vanilla GAN. Puchkin,
Samsonov, Belomestny, Moulines & Naumov (2021) show that the JS GAN with suitably sized
generator and discriminator networks reaches the minimax Jensen–Shannon rate
(log n / n)^{2s/(2s+D)} for smooth densities, hence TV ≤ √(2 JS)-type bounds give
TV ≲ n^{-s/(2s+D)}: the exponent of every other estimator of this study. WGAN-GP
(Gulrajani et al. 2017) minimises a Wasserstein-1 surrogate whose rate is a W1 rate, not the
TV rate, and its gradient penalty costs a second backward pass per step on a 2-core CPU.
The generator loss is the non-saturating one (Goodfellow et al. 2014, §3), which has the same
fixed points as the minimax loss and does not stall when the discriminator wins early.

Generator: z ~ N(0, I_{d_z}), d_z = 2D (≥ D), x = tanh(MLP(z) + z_{1..D}), so samples lie in
the open box (model coordinates [-1, 1]^D; the data's box maps there). The fixed skip z_{1..D}
makes the initial law tanh(N(0, 1)) cover the whole box (``skip=False`` drops it: its ablation).
Discriminator: an MLP with LeakyReLU(0.2) and a logit output, fed x and its Fourier features
sin/cos(2πx/h) for 8 scales h on a geometric ladder from 1 down to ``fourier`` · n^{-1/(2s+D)}
(the resolution the theory's discriminator class must resolve). Each of these choices, the
learning rate and the budget are ablation studies on target seed 1 (studies/ablation_gan_*.toml,
docs/generative.md §6). Adam(β = (0.5, 0.999)) for both (Radford et al. 2016), learning rates
cosine-decayed to 5 %, one discriminator step per generator step, and an exponential moving
average of the generator's weights (decay 0.999; Yazici et al. 2019) is what is sampled. Sizes follow n by
``ensemble.size_rule``. Failures: a non-finite loss, or a discriminator or generator loss whose
mean over a logging block exceeds ``divergence_loss`` nats, is divergence (``TrainingDiverged``,
a "diverged" row); a generator that puts < ``collapse_ratio`` × the data's mass in coarse cells
holding ≥ ``collapse_mass`` of the data is mode collapse (``ModeCollapse``, a "failed" row).
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from minimax.diffusion.estimator import TrainingDiverged
from minimax.estimator import Estimator
from minimax.generative.ensemble import (
    EnsembleNet,
    GenerativeFailure,
    box_transform,
    fourier_frequencies,
    minibatches,
    mode_coverage,
    size_rule,
    stacked_normal,
    torch_gens,
    with_fourier,
)
from minimax.runtime import resolve_device, torch_generator
from minimax.validation import check_int, check_points, check_real, check_rng


class ModeCollapse(GenerativeFailure):
    """The generator misses modes of the data (coarse-cell mass check); message: the reason."""


class GANEstimator(Estimator):
    """JS GAN density estimator (see the module docstring).

    Parameters (stored unchanged, checked in ``fit``): s (the smoothness the size rule uses;
    None: 1), box (the (D, 2) support: mapped to [-1, 1]^D and the generator squashed into it;
    None: moment standardisation, no squashing), latent_dim ("auto" = 2D), width / steps
    (None: the size rule with width0, steps0), depth (hidden layers, 3), batch_size, lr, betas,
    ema_decay, divergence_loss, collapse_mass, collapse_ratio, coverage_samples, log_every
    (steps per logging block), fourier (the discriminator's finest Fourier scale in units of
    n^{-1/(2s+D)}; 0: none), skip (add z_{1..D} before the tanh; False: x = tanh(G(z)), the
    ablation of the skip), device.
    """

    has_pdf = False
    name = "gan"

    def __init__(self, s=None, *, box=None, latent_dim="auto", width=None, depth=3, steps=None,
                 batch_size=256, lr=1e-3, betas=(0.5, 0.999), ema_decay=0.999, width0=48,
                 steps0=2000, divergence_loss=50.0, collapse_mass=0.1, collapse_ratio=0.2,
                 coverage_samples=20000, log_every=50, fourier=2.0, skip=True, device="auto"):  # fmt: skip
        self.s, self.box, self.latent_dim = s, box, latent_dim
        self.width, self.depth, self.steps = width, depth, steps
        self.batch_size, self.lr, self.betas, self.ema_decay = batch_size, lr, betas, ema_decay
        self.width0, self.steps0 = width0, steps0
        self.divergence_loss = divergence_loss
        self.collapse_mass, self.collapse_ratio = collapse_mass, collapse_ratio
        self.coverage_samples, self.log_every = coverage_samples, log_every
        self.fourier, self.skip = fourier, skip
        self.device = device

    # -- configuration -------------------------------------------------------------------------
    def _sizes(self, n: int, D: int) -> dict:
        rule = size_rule(n, D, self.s, width0=check_int("width0", self.width0, low=1),
                         steps0=check_int("steps0", self.steps0, low=1))  # fmt: skip
        latent = 2 * D if self.latent_dim == "auto" else check_int("latent_dim", self.latent_dim)
        if latent < D:
            raise ValueError(f"latent_dim={latent!r} is not allowed: expected at least D={D}")
        return {
            "width": rule["width"] if self.width is None else check_int("width", self.width, low=1),
            "steps": rule["steps"] if self.steps is None else check_int("steps", self.steps, low=1),
            "depth": check_int("depth", self.depth, low=1),
            "latent_dim": latent,
            "batch_size": check_int("batch_size", self.batch_size, low=1),
            "finest_scale": None
            if not self.fourier
            else float(min(1.0, check_real("fourier", self.fourier, low=0.0) * rule["bandwidth"])),
        }

    def _check(self):
        check_real("lr", self.lr, low=0.0, low_open=True)
        for i, b in enumerate(self.betas):
            check_real(f"betas[{i}]", b, low=0.0, high=1.0, high_open=True)
        check_real("ema_decay", self.ema_decay, low=0.0, high=1.0, high_open=True)
        check_real("divergence_loss", self.divergence_loss, low=0.0, low_open=True)
        check_real("collapse_mass", self.collapse_mass, low=0.0, high=1.0, low_open=True)
        check_real("collapse_ratio", self.collapse_ratio, low=0.0, high=1.0)
        check_int("coverage_samples", self.coverage_samples, low=1)
        check_int("log_every", self.log_every, low=1)
        if not isinstance(self.skip, bool):
            raise ValueError(f"skip={self.skip!r} is not allowed: expected True or False")
        return resolve_device(self.device)

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X, rng) -> GANEstimator:
        """Train one GAN on X (n, D); returns self."""
        (member,) = self.fit_ensemble([X], [rng])
        self.__dict__.update(member.__dict__)
        return self

    def fit_ensemble(self, Xs, rngs) -> list[GANEstimator]:
        """One fitted estimator per (X, rng); training sets of one size train as one ensemble
        (member e's numbers depend only on Xs[e] and rngs[e])."""
        if not isinstance(Xs, list | tuple) or not Xs or len(rngs) != len(Xs):
            raise ValueError("Xs is not allowed: expected a non-empty list, one rng per set")
        arrays = [check_points(f"Xs[{e}]", X) for e, X in enumerate(Xs)]
        D = arrays[0].shape[1]
        arrays = [check_points(f"Xs[{e}]", X, D) for e, X in enumerate(arrays)]
        rngs = [check_rng(f"rngs[{e}]", r) for e, r in enumerate(rngs)]
        device = self._check()
        groups: dict = {}
        for e, X in enumerate(arrays):
            groups.setdefault(tuple(sorted(self._sizes(X.shape[0], D).items())), []).append(e)
        out: list = [None] * len(arrays)
        for key, members in groups.items():
            fits = self._train([arrays[e] for e in members], [rngs[e] for e in members],
                               dict(key), device)  # fmt: skip
            for e, fitted in zip(members, fits, strict=True):
                out[e] = fitted
        return out

    def _train(self, arrays, rngs, sz, device) -> list[GANEstimator]:
        E, D = len(arrays), arrays[0].shape[1]
        start = time.perf_counter()
        transforms = [box_transform(X, self.box) for X in arrays]
        bounded = transforms[0][2]
        U = [(X - sh) / sc for X, (sh, sc, _) in zip(arrays, transforms, strict=True)]
        gens = torch_gens(rngs)
        w, dz, B = sz["width"], sz["latent_dim"], sz["batch_size"]
        G = EnsembleNet([dz] + [w] * sz["depth"] + [D], gens, "silu", device)
        freqs = torch.as_tensor(fourier_frequencies(sz["finest_scale"]), dtype=torch.float32,
                                device=device)  # fmt: skip
        Dn = EnsembleNet([D * (1 + 2 * len(freqs))] + [w] * sz["depth"] + [1], gens,
                         "leaky_relu", device)  # fmt: skip
        disc = lambda x: Dn(with_fourier(x, freqs))  # noqa: E731
        n_max = max(len(u) for u in U)
        data = np.zeros((E, n_max, D), dtype=np.float32)
        for e, u in enumerate(U):
            data[e, : len(u)] = u
        data = torch.as_tensor(data, device=device)
        squash = torch.tanh if bounded else (lambda h: h)
        lift = 1.0 if self.skip else 0.0
        opt_g = torch.optim.Adam([G.flat], lr=self.lr, betas=tuple(self.betas))
        opt_d = torch.optim.Adam([Dn.flat], lr=self.lr, betas=tuple(self.betas))
        ema = G.flat.detach().clone()
        softplus = torch.nn.functional.softplus
        K, steps = self.log_every, sz["steps"]
        d_hist, g_hist = [], []
        status = ["completed"] * E
        reason = [f"ran all {steps} steps"] * E
        for block in range(math.ceil(steps / K)):
            kb = min(K, steps - block * K)
            idx = minibatches([len(u) for u in U], kb, B, gens, device)
            z_d = stacked_normal(gens, (kb, B, dz), device)
            z_g = stacked_normal(gens, (kb, B, dz), device)
            ld_blk = torch.zeros(E, kb, device=device)
            lg_blk = torch.zeros(E, kb, device=device)
            for j in range(kb):
                frac = (block * K + j) / steps  # cosine decay of both rates to 5 %
                for opt in (opt_d, opt_g):
                    opt.param_groups[0]["lr"] = self.lr * (
                        0.05 + 0.475 * (1 + math.cos(math.pi * frac))
                    )
                real = torch.gather(data, 1, idx[:, j, :, None].expand(-1, -1, D))
                with torch.no_grad():
                    fake = squash(G(z_d[:, j]) + lift * z_d[:, j, :, :D])
                ld = softplus(-disc(real)).mean(dim=(1, 2)) + softplus(disc(fake)).mean(dim=(1, 2))
                (Dn.flat.grad,) = torch.autograd.grad(ld.sum(), Dn.flat)
                opt_d.step()
                lg = softplus(-disc(squash(G(z_g[:, j]) + lift * z_g[:, j, :, :D]))).mean(
                    dim=(1, 2)
                )
                (G.flat.grad,) = torch.autograd.grad(lg.sum(), G.flat)
                opt_g.step()
                k = block * K + j + 1
                with torch.no_grad():
                    ema.lerp_(G.flat, 1.0 - min(self.ema_decay, (1 + k) / (10 + k)))
                ld_blk[:, j], lg_blk[:, j] = ld.detach(), lg.detach()
            ld_np, lg_np = ld_blk.double().cpu().numpy(), lg_blk.double().cpu().numpy()
            d_hist.append(ld_np.mean(axis=1))
            g_hist.append(lg_np.mean(axis=1))
            for e in range(E):
                if status[e] != "completed":
                    continue
                why = _divergence(ld_np[e], lg_np[e], self.divergence_loss, block * K)
                if why:
                    status[e], reason[e] = "diverged", why
            if all(s != "completed" for s in status):
                break
        seconds = time.perf_counter() - start
        d_hist, g_hist = np.stack(d_hist, axis=1), np.stack(g_hist, axis=1)
        out = []
        for e in range(E):
            est = copy.copy(self)
            est.dim_, est.n_, est.device_, est.sizes_ = D, len(U[e]), device, dict(sz)
            est.shift_, est.scale_, est.bounded_ = transforms[e]
            est.generator_ = (G, ema[e : e + 1].clone())
            est.d_loss_history_, est.g_loss_history_ = d_hist[e], g_hist[e]
            est.status_, est.reason_ = status[e], reason[e]
            est.params_ = (G.parameter_count(), Dn.parameter_count())
            est.ensemble_size_, est.fit_seconds_ = E, seconds
            est.coverage_ = {}
            if status[e] == "completed" and not bool(torch.isfinite(ema[e]).all()):
                est.status_, est.reason_ = "diverged", "non-finite generator weights"
            if est.status_ == "completed":
                u = est._generate(self.coverage_samples, gens[e])
                est.coverage_ = mode_coverage(u, U[e], self.collapse_ratio)
                if est.coverage_["uncovered_mass"] >= self.collapse_mass:
                    est.status_ = "collapsed"
                    est.reason_ = (
                        f"mode collapse: {est.coverage_['missed_cells']} of "
                        f"{est.coverage_['coverage_cells']} coarse cells, holding "
                        f"{est.coverage_['uncovered_mass']:.3f} of the data's mass, get less "
                        f"than {self.collapse_ratio:g} x their data mass from the generator"
                    )
            out.append(est)
        return out

    # -- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def _generate(self, m: int, gen: torch.Generator) -> np.ndarray:
        """m generator draws in model coordinates (float64, (m, D))."""
        G, flat = self.generator_
        parts = []
        for lo in range(0, m, 65536):
            z = torch.randn((1, min(65536, m - lo), self.sizes_["latent_dim"]), generator=gen)
            z = z.to(self.device_)
            h = G(z, flat) + (z[..., : self.dim_] if self.skip else 0.0)
            parts.append((torch.tanh(h) if self.bounded_ else h)[0].double().cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.dim_))

    def sample(self, m: int, rng) -> np.ndarray:
        """m draws (m, D); raises TrainingDiverged / ModeCollapse for a failed fit."""
        if not hasattr(self, "generator_"):
            raise RuntimeError("GANEstimator is not fitted: call fit first")
        if self.status_ == "diverged":
            raise TrainingDiverged(self.reason_)
        if self.status_ == "collapsed":
            raise ModeCollapse(self.reason_)
        m = check_int("m", m, low=1)
        u = self._generate(m, torch_generator(check_rng("rng", rng), "cpu"))
        return u * self.scale_ + self.shift_

    def describe(self) -> dict:
        """Hyperparameters, plus sizes and training diagnostics once fitted."""
        d = {"estimator": self.name, "loss": "js-nonsaturating", "s": self.s, "lr": self.lr,
             "betas": f"{self.betas[0]},{self.betas[1]}", "ema_decay": self.ema_decay,
             "width0": self.width0, "steps0": self.steps0,
             "divergence_loss": self.divergence_loss, "collapse_mass": self.collapse_mass,
             "collapse_ratio": self.collapse_ratio, "skip": self.skip}  # fmt: skip
        if hasattr(self, "generator_"):
            tail = max(1, len(self.d_loss_history_) // 10)
            d.update(self.sizes_)
            d.update(
                n=self.n_, D=self.dim_, device=self.device_, status=self.status_,
                reason=self.reason_, generator_params=self.params_[0],
                discriminator_params=self.params_[1], ensemble_size=self.ensemble_size_,
                fit_seconds=self.fit_seconds_,
                d_loss_final=float(np.mean(self.d_loss_history_[-tail:])),
                g_loss_final=float(np.mean(self.g_loss_history_[-tail:])),
                d_loss_first=float(self.d_loss_history_[0]),
                g_loss_first=float(self.g_loss_history_[0]),
                **self.coverage_,
            )  # fmt: skip
        return d


def _divergence(ld: np.ndarray, lg: np.ndarray, limit: float, first_step: int) -> str:
    """The reason a logging block shows divergence, or ""."""
    for name, v in (("discriminator", ld), ("generator", lg)):
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            return f"non-finite {name} loss at step {first_step + bad[0] + 1}"
    for name, v in (("discriminator", ld), ("generator", lg)):
        if float(v.mean()) > limit:
            return (
                f"{name} loss {float(v.mean()):.3g} (mean of steps {first_step + 1}-"
                f"{first_step + len(v)}) exceeded {limit:g} nats"
            )
    return ""
