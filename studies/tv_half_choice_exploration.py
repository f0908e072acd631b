"""Exploration (seventh session, docs/decisions.md): the candidate is chosen on each half of
the samples and reported by its value on all of them; the two reports averaged. Not the
estimator. Simulated studies of ``minimax.study.tv_simulation`` (same seeds), flags of the
current estimator applied to both columns.

    python studies/tv_half_choice_exploration.py STUDIES SCALE   # SCALE: 1 or 0.7071
"""

import importlib
import math
import sys

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

from minimax.metrics.calibration_cases import UnitCube, sine_field
from minimax.metrics.sample_size import samples_for
from minimax.study.rates import fit_rate

T = importlib.import_module("minimax.metrics.tv")
nst = int(sys.argv[1])
scale = float(sys.argv[2])


def pick(vals, bbs, ses):
    score = np.asarray(vals) - scale * np.asarray(bbs)
    top = int(np.argmax(score))
    near = score[top] - scale * ses[top]
    ok = [i for i in range(len(vals)) if score[i] >= near]
    return min(ok, key=lambda i: bbs[i])


def estimate(setup, counts_a, counts_b):
    Ma, Mb = int(counts_a.sum()), int(counts_b.sum())
    sa, sb = setup.count_sums(counts_a), setup.count_sums(counts_b)
    ra, rb = sa.dyadic(setup.tuples), sb.dyadic(setup.tuples)
    oa, ob = float(counts_a[-1]), float(counts_b[-1])
    ks = T._grid_sizes(setup, Ma + Mb)
    splits = T._splits(setup, ra, rb, Ma, Mb)
    cands = [T._adaptive(setup, ra, rb, oa, ob, Ma, Mb, lam, None, splits) for lam in T.PENALTIES]
    ga, gb = setup.grid_counts(sa, ra), setup.grid_counts(sb, rb)
    cands += [T._grid(setup, ga, gb, oa, ob, Ma, Mb, k, None) for k in ks]
    na = len(T.PENALTIES)
    out = []
    for g, o, M, fi in ((ga, oa, Ma, 1), (gb, ob, Mb, 0)):
        vals, bbs, ses = [], [], []
        for c in cands[:na]:
            part = c["parts"][fi]  # the fold scored on this half
            r = T._cells_value(setup, part[1], part[2], part[3], part[4])
            vals.append(r["value"])
            bbs.append(r["bias_bound"])
            ses.append(T._conditional_se(setup, [(1.0, *part[1:])], 0, None))
        for k in ks:
            p = setup.grid_masses(k)
            r = T._cells_value(setup, p, g(k), o, M)
            vals.append(r["value"])
            bbs.append(r["bias_bound"])
            ses.append(T._conditional_se(setup, [(1.0, p, g(k), o, M)], 0, None))
        out.append(cands[pick(vals, bbs, ses)]["value"])
    return float(np.mean(out))


rows = []
for c in (0.5, 1.0):
    for st in range(nst):
        for n in (250, 500, 1000, 2000, 4000, 8000):
            truth = 0.56 * n ** (-1 / 3)
            for rep in range(3):
                rng = np.random.default_rng([st, n, rep, int(100 * c)])
                ms = int(rng.integers(2**31))
                M = samples_for(n, 1)
                x = sine_field(M, 1, truth, c * n ** (-1 / 3), ms, rng)
                r = T.tv(UnitCube(1), x, rng=rng, n_boot=0, floor_samples=False)
                setup = T._Setup(UnitCube(1), M // 2, 1e-6, 10.0)
                v = estimate(setup, *T._halves(setup, setup.flat_index(x)))
                rows.append(
                    dict(c=c, st=st, n=n, rep=rep, truth=truth, value=r.value, half=v, flag=r.flag)
                )
df = pd.DataFrame(rows)
df["rel"] = (df.value - df.truth) / df.truth
df["relh"] = (df.half - df.truth) / df.truth
print(df.groupby(["c", "n"])[["rel", "relh"]].mean())
for c, g in df.groupby("c"):
    out = {}
    for col in ("value", "half"):
        e = []
        for _, s in g.groupby("st"):
            d = s.assign(
                study="sim",
                arm="a",
                estimator="sim",
                metric="tv",
                value=s[col],
                se=0.0,
                floor=np.nan,
                status="ok",
                s=1.0,
                D=1,
                replicate=s.rep,
            )
            e.append(fit_rate(d, "tv", "sim", arm="a", theory=1 / 3).exponent)
        out[col] = (round(np.mean(e) - 1 / 3, 4), round(np.std(e, ddof=1) / math.sqrt(len(e)), 4))
    print(c, out)
