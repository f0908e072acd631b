"""A VAE with a Gaussian decoder of learned variance (Kingma & Welling 2014) as a density
estimator, replicates trained as one ensemble.

Model: z ~ N(0, I_{d_z}), x | z ~ N(μ_θ(z), diag σ_θ(z)²) with σ_θ = σ_min + softplus(·);
encoder q_φ(z | x) = N(m_φ(x), diag s_φ(x)²). Loss: the negative ELBO
−E_q[log p_θ(x | z)] + KL(q_φ(z | x) ‖ N(0, I)), one reparametrised draw per point, Adam with a
cosine learning-rate decay. Of the snapshots taken every ``eval_every`` steps the one with the
best held-out ELBO (a 10 % split, four fixed draws per point: common random numbers) is kept,
over one run per learning rate of ``lr`` (by default 1e-3 and 4e-3: no single rate served D = 1
and D = 2, docs/generative.md §6).

Sampling draws z from the prior and x from the decoder INCLUDING its noise: the decoder means
alone give a law on a d_z-dimensional image of a map, singular when d_z < D and at best a
curve-concentrated law otherwise (TV to q near 1). The noise is added in float64. Samples that
leave a bounded box are folded back in (reflection; clipping would create atoms on the faces).

Size rule (docs/generative.md §3): width and steps as for the GAN (``ensemble.size_rule``) and
the decoder's noise floor σ_min = ``sd_floor`` · n^{-1/(2s+D)} (model units). Our reading of
Kwon & Chae (2023): their near-minimax Hellinger rate for a Gaussian-decoder (VAE-type) model
comes from approximating q by mixtures of normals whose component scale shrinks like
n^{-1/(2s+D)} up to logs; the floor keeps the learned σ from collapsing onto training points
below that scale (the learned-variance likelihood is unbounded there), and σ is otherwise free.
The latent dimension is D (Kwon & Chae show that d_z = 1 suffices in theory; d_z = D asks less of
a small network).
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
    box_transform,
    minibatches,
    reflect_into_box,
    size_rule,
    stacked_normal,
    torch_gens,
)
from minimax.runtime import resolve_device, torch_generator
from minimax.validation import check_int, check_points, check_real, check_rng

LOG_2PI = math.log(2 * math.pi)


class VAEEstimator(Estimator):
    """Gaussian VAE density estimator (see the module docstring).

    Parameters (stored unchanged, checked in ``fit``): s (smoothness for the size rule; None:
    1), box ((D, 2) support mapped to [-1, 1]^D, samples folded into it; None: moments, no
    folding), latent_dim ("auto" = D), width / steps (None: the rule with width0, steps0),
    depth, batch_size, lr (cosine-decayed to 5 %; a list: one run per value from the same weights
    and draws, each member keeping the run with the best held-out ELBO), sd_floor,
    heldout_fraction, eval_every, eval_draws, device.
    """

    has_pdf = False
    name = "vae"

    def __init__(self, s=None, *, box=None, latent_dim="auto", width=None, depth=3, steps=None,
                 batch_size=256, lr=(1e-3, 4e-3), width0=48, steps0=12000, sd_floor=0.1,
                 heldout_fraction=0.1, eval_every=100, eval_draws=4, device="auto"):  # fmt: skip
        self.s, self.box, self.latent_dim = s, box, latent_dim
        self.width, self.depth, self.steps = width, depth, steps
        self.batch_size, self.lr, self.width0, self.steps0 = batch_size, lr, width0, steps0
        self.sd_floor, self.heldout_fraction = sd_floor, heldout_fraction
        self.eval_every, self.eval_draws, self.device = eval_every, eval_draws, device

    def _sizes(self, n: int, D: int) -> dict:
        rule = size_rule(n, D, self.s, width0=check_int("width0", self.width0, low=1),
                         steps0=check_int("steps0", self.steps0, low=1))  # fmt: skip
        return {
            "width": rule["width"] if self.width is None else check_int("width", self.width, low=1),
            "steps": rule["steps"] if self.steps is None else check_int("steps", self.steps, low=1),
            "depth": check_int("depth", self.depth, low=1),
            "latent_dim": D if self.latent_dim == "auto" else check_int("latent_dim",
                                                                        self.latent_dim, low=1),
            "batch_size": check_int("batch_size", self.batch_size, low=1),
            "sd_min": check_real("sd_floor", self.sd_floor, low=0.0, low_open=True)
            * rule["bandwidth"],
        }  # fmt: skip

    def _lrs(self) -> tuple[float, ...]:
        """The learning rates to try: ``lr`` itself, or each of a list of them."""
        grid = tuple(self.lr) if isinstance(self.lr, list | tuple) else (self.lr,)
        if not grid:
            raise ValueError("lr=() is not allowed: expected a number or a non-empty list")
        return tuple(check_real(f"lr[{i}]" if len(grid) > 1 else "lr", v, low=0.0, low_open=True)
                     for i, v in enumerate(grid))  # fmt: skip

    def _lr_text(self):
        """``lr`` for describe(): the number, or the grid as "a,b" (a table cell, not a list)."""
        grid = self.lr if isinstance(self.lr, list | tuple) else None
        return self.lr if grid is None else ",".join(f"{v:g}" for v in grid)

    def fit(self, X, rng) -> VAEEstimator:
        """Train one VAE on X (n, D); returns self."""
        (member,) = self.fit_ensemble([X], [rng])
        self.__dict__.update(member.__dict__)
        return self

    def fit_ensemble(self, Xs, rngs) -> list[VAEEstimator]:
        """One fitted estimator per (X, rng); sets of one size train as one ensemble."""
        if not isinstance(Xs, list | tuple) or not Xs or len(rngs) != len(Xs):
            raise ValueError("Xs is not allowed: expected a non-empty list, one rng per set")
        arrays = [check_points(f"Xs[{e}]", X) for e, X in enumerate(Xs)]
        D = arrays[0].shape[1]
        arrays = [check_points(f"Xs[{e}]", X, D) for e, X in enumerate(arrays)]
        for e, X in enumerate(arrays):
            if X.shape[0] < 10:
                raise ValueError(f"Xs[{e}] has n={X.shape[0]} points: expected at least 10")
        rngs = [check_rng(f"rngs[{e}]", r) for e, r in enumerate(rngs)]
        self._lrs()
        check_real("heldout_fraction", self.heldout_fraction, low=0.0, high=0.5, low_open=True)
        check_int("eval_every", self.eval_every, low=1)
        check_int("eval_draws", self.eval_draws, low=1)
        device = resolve_device(self.device)
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

    def _train(self, arrays, rngs, sz, device) -> list[VAEEstimator]:
        E, D = len(arrays), arrays[0].shape[1]
        start = time.perf_counter()
        transforms = [box_transform(X, self.box) for X in arrays]
        splits = []
        for X, rng, (sh, sc, _) in zip(arrays, rngs, transforms, strict=True):
            perm = rng.permutation(len(X))
            n_ho = max(1, round(self.heldout_fraction * len(X)))
            U = (X[perm] - sh) / sc
            splits.append((U[n_ho:], U[:n_ho]))
        gens = torch_gens(rngs)
        start_states = [g.get_state() for g in gens]
        runs = []
        for lr in self._lrs():
            for g, state in zip(gens, start_states, strict=True):
                g.set_state(state)  # every lr starts from the same weights and draws
            runs.append(self._run(lr, splits, gens, sz, device))
        # per member, the run with the best held-out ELBO (the split is shared by the runs)
        pick = np.argmax(np.stack([r["best_ho"] for r in runs]), axis=0)
        seconds = time.perf_counter() - start
        out = []
        for e in range(E):
            r = runs[pick[e]]
            status, reason = r["status"][e], r["reason"][e]
            est = copy.copy(self)
            est.dim_, est.n_, est.device_, est.sizes_ = D, len(arrays[e]), device, dict(sz)
            est.shift_, est.scale_, est.bounded_ = transforms[e]
            est.decoder_ = (r["dec"], r["best"][1][e : e + 1].clone())
            est.loss_history_ = r["history"][e]
            if status == "completed" and r["best_step"][e] == 0:
                status, reason = "diverged", "no finite held-out ELBO at any evaluation"
            est.status_, est.reason_ = status, reason
            # ELBO in data coordinates: the affine map's log-Jacobian Σ log scale per point
            jac = float(np.sum(np.log(transforms[e][1])))
            est.elbo_, est.heldout_elbo_ = r["best_tr"][e] - jac, r["best_ho"][e] - jac
            est.lr_selected_ = r["lr"]
            est.heldout_elbo_by_lr_ = {f"{q['lr']:g}": float(q["best_ho"][e] - jac) for q in runs}
            est.best_step_, est.ensemble_size_, est.fit_seconds_ = (
                int(r["best_step"][e]),
                E,
                seconds,
            )
            est.params_ = (r["enc"].parameter_count(), r["dec"].parameter_count())
            out.append(est)
        return out

    def _run(self, lr, splits, gens, sz, device) -> dict:
        """One training run of the ensemble at learning rate ``lr``: the best snapshot per
        member (by held-out ELBO) and its diagnostics."""
        E, D = len(splits), splits[0][0].shape[1]
        w, dz, B, depth = sz["width"], sz["latent_dim"], sz["batch_size"], sz["depth"]
        enc = EnsembleNet([D] + [w] * depth + [2 * dz], gens, "silu", device)
        dec = EnsembleNet([dz] + [w] * depth + [2 * D], gens, "silu", device)
        train = _pad([tr for tr, _ in splits], device)
        sizes = [len(tr) for tr, _ in splits]
        held = [torch.as_tensor(ho, dtype=torch.float32, device=device) for _, ho in splits]
        # fixed evaluation draws (common random numbers across snapshots)
        ho_pad = _pad([h.cpu().numpy() for h in held], device)
        tr_eval = _pad([tr[: len(ho)] for tr, ho in splits], device)
        k = self.eval_draws
        eps_eval = stacked_normal(gens, (k, ho_pad.shape[1], dz), device)
        ho_mask = _mask([len(h) for h in held], ho_pad.shape[1], device)
        sd_min = float(sz["sd_min"])

        def elbo(params, x, eps):
            """Per-point ELBO (E, B) at points x (E, B, D) with latent noise eps (E, B, dz)."""
            fe, fd = params
            h = enc(x, fe)
            m, log_s = h[..., :dz], h[..., dz:].clamp(-10.0, 5.0)
            z = m + torch.exp(log_s) * eps
            o = dec(z, fd)
            mu, sd = o[..., :D], sd_min + torch.nn.functional.softplus(o[..., D:])
            rec = (-0.5 * ((x - mu) / sd).square() - torch.log(sd) - 0.5 * LOG_2PI).sum(-1)
            kl = 0.5 * (m.square() + torch.exp(2 * log_s) - 1.0 - 2 * log_s).sum(-1)
            return rec - kl

        def evaluate(params, x, mask):
            with torch.no_grad():
                vals = torch.stack([elbo(params, x, eps_eval[:, j, : x.shape[1]])
                                    for j in range(k)]).mean(0)  # fmt: skip
            return ((vals * mask).sum(1) / mask.sum(1)).double().cpu().numpy()

        opt = torch.optim.Adam([enc.flat, dec.flat], lr=lr)
        steps = sz["steps"]
        best = (enc.flat.detach().clone(), dec.flat.detach().clone())
        best_ho = np.full(E, -np.inf)
        best_tr = np.full(E, np.nan)
        best_step = np.zeros(E, dtype=np.int64)
        status, reason = ["completed"] * E, [f"ran all {steps} steps"] * E
        history = []
        K = self.eval_every
        for block in range(math.ceil(steps / K)):
            kb = min(K, steps - block * K)
            idx = minibatches(sizes, kb, B, gens, device)
            eps = stacked_normal(gens, (kb, B, dz), device)
            losses = torch.zeros(E, kb, device=device)
            for j in range(kb):
                step = block * K + j
                for g in opt.param_groups:
                    g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
                x = torch.gather(train, 1, idx[:, j, :, None].expand(-1, -1, D))
                loss = -elbo((enc.flat, dec.flat), x, eps[:, j]).mean(1)
                g_e, g_d = torch.autograd.grad(loss.sum(), [enc.flat, dec.flat])
                enc.flat.grad, dec.flat.grad = torch.nan_to_num(g_e), torch.nan_to_num(g_d)
                opt.step()
                losses[:, j] = loss.detach()
            lv = losses.double().cpu().numpy()
            history.append(lv.mean(axis=1))
            ho = evaluate((enc.flat, dec.flat), ho_pad, ho_mask)
            tr = evaluate((enc.flat, dec.flat), tr_eval, ho_mask)
            done = block * K + kb
            for e in range(E):
                if status[e] != "completed":
                    continue
                bad = np.flatnonzero(~np.isfinite(lv[e]))
                if bad.size:
                    status[e] = "diverged"
                    reason[e] = f"non-finite training loss at step {block * K + bad[0] + 1}"
                elif np.isfinite(ho[e]) and ho[e] > best_ho[e]:
                    best_ho[e], best_tr[e], best_step[e] = ho[e], tr[e], done
                    best[0][e], best[1][e] = enc.flat.detach()[e], dec.flat.detach()[e]
            if all(s != "completed" for s in status):
                break
        return {
            "lr": lr,
            "enc": enc,
            "dec": dec,
            "best": best,
            "best_ho": best_ho,
            "best_tr": best_tr,
            "best_step": best_step,
            "status": status,
            "reason": reason,
            "history": np.stack(history, axis=1),
        }

    def sample(self, m: int, rng) -> np.ndarray:
        """m draws (m, D) of the decoder's law, its Gaussian noise included."""
        if not hasattr(self, "decoder_"):
            raise RuntimeError("VAEEstimator is not fitted: call fit first")
        if self.status_ == "diverged":
            raise TrainingDiverged(self.reason_)
        m = check_int("m", m, low=1)
        rng = check_rng("rng", rng)
        gen = torch_generator(rng, "cpu")
        mu, sd = self.decoder_moments(m, gen)
        u = mu + sd * rng.standard_normal(mu.shape)  # float64 noise: no float32 grid
        if self.bounded_:
            u = reflect_into_box(u)
        return u * self.scale_ + self.shift_

    @torch.no_grad()
    def decoder_moments(self, m: int, gen: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Decoder means and sds (model coordinates, float64) at m prior draws of z."""
        dec, flat = self.decoder_
        D, dz, sd_min = self.dim_, self.sizes_["latent_dim"], float(self.sizes_["sd_min"])
        mus, sds = [], []
        for lo in range(0, m, 65536):
            z = torch.randn((1, min(65536, m - lo), dz), generator=gen).to(self.device_)
            o = dec(z, flat)[0].double()
            mus.append(o[:, :D].cpu().numpy())
            sds.append((sd_min + torch.nn.functional.softplus(o[:, D:])).cpu().numpy())
        return np.concatenate(mus), np.concatenate(sds)

    def describe(self) -> dict:
        """Hyperparameters, plus sizes, ELBO and held-out ELBO (nats per point, data
        coordinates, at the kept snapshot) once fitted."""
        d = {"estimator": self.name, "s": self.s, "lr": self._lr_text(), "width0": self.width0,
             "steps0": self.steps0, "sd_floor": self.sd_floor,
             "heldout_fraction": self.heldout_fraction, "eval_every": self.eval_every}  # fmt: skip
        if hasattr(self, "decoder_"):
            d.update(self.sizes_)
            d.update(
                n=self.n_, D=self.dim_, device=self.device_, status=self.status_,
                reason=self.reason_, elbo=float(self.elbo_), heldout_elbo=float(self.heldout_elbo_),
                elbo_gap=float(self.elbo_ - self.heldout_elbo_), best_step=self.best_step_,
                lr_selected=self.lr_selected_,
                **{f"heldout_elbo_lr{k}": v for k, v in self.heldout_elbo_by_lr_.items()},
                encoder_params=self.params_[0], decoder_params=self.params_[1],
                ensemble_size=self.ensemble_size_, fit_seconds=self.fit_seconds_,
            )  # fmt: skip
        return d


def _pad(arrays, device) -> torch.Tensor:
    n_max = max(len(a) for a in arrays)
    out = np.zeros((len(arrays), n_max, arrays[0].shape[1]), dtype=np.float32)
    for e, a in enumerate(arrays):
        out[e, : len(a)] = a
    return torch.as_tensor(out, device=device)


def _mask(sizes, n_max, device) -> torch.Tensor:
    return torch.as_tensor(np.arange(n_max)[None, :] < np.asarray(sizes)[:, None],
                           dtype=torch.float32, device=device)  # fmt: skip
