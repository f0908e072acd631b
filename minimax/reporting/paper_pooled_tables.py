"""The paper's tables over target seeds: the headline exponents pooled over seeds and the
appendix of each seed's own exponent, as :class:`~minimax.reporting.paper_tables.Table`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from minimax.reporting.paper_format import fmt, latex_escape, short_verdict, tex_cell
from minimax.reporting.paper_tables import TEX_NAMES, Table, estimator_rank


def _seeds_text(seeds) -> str:
    seeds = sorted(int(s) for s in seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def pooled_exponent_table(fits, units, metric: str = "tv") -> Table:
    """The headline over target seeds: per (D, s, estimator) the pooled exponent [95% CI]
    (t on J − 1 df), the theory, J and the seeds, the range of the per-seed exponents, the
    primary estimate (mixed model or two-stage) and the verdict (the pooled section's: the
    calibration gate and the design note included). ``fits``: GroupFits (arms with one seed:
    their RateFit, J = 1)."""
    order = {u: (D, s, i) for i, (u, D, s) in enumerate(units)}
    sel = sorted((f for f in fits if f.metric == metric and f.arm in order),
                 key=lambda f: (*order[f.arm], estimator_rank(f.estimator)))  # fmt: skip
    rows, tex, rules = [], [], []
    for i, f in enumerate(sel):
        D, s, _ = order[f.arm]
        ci = f"[{fmt(f.ci_low, fixed=True)}, {fmt(f.ci_high, fixed=True)}]" if f.measured else "---"
        per = getattr(f, "per_seed", None)
        a = (per["exponent"].astype(float) if per is not None and len(per)
             else pd.Series([f.exponent]))  # fmt: skip
        a = a[np.isfinite(a)]
        spread = (
            f"{fmt(a.min(), fixed=True)} to {fmt(a.max(), fixed=True)}" if len(a) > 1 else "---"
        )
        J = getattr(f, "J", 1 if f.measured else 0)
        seeds = _seeds_text(getattr(f, "seeds", ()) or ())
        model = getattr(f, "model", "per-arm fit")
        head = [str(D), f"{s:g}", f.estimator]
        body = [fmt(f.exponent, fixed=True), ci, fmt(f.theory), str(J), seeds or "---", spread,
                model]  # fmt: skip
        rows.append([*head, *body, f.verdict])
        name = TEX_NAMES.get(f.estimator, latex_escape(f.estimator))
        tex.append([*map(tex_cell, head[:2]), name, *map(tex_cell, body),
                    tex_cell(short_verdict(f.verdict))])  # fmt: skip
        if i + 1 < len(sel) and sel[i + 1].arm != f.arm:
            rules.append(i)
    theory = "$2s/(2s+D)$" if metric.startswith("score") else "$s/(2s+D)$"
    return Table(
        columns=["D", "s", "estimator", "exponent", "95% CI", "theory", "J", "seeds",
                 "per-seed range", "estimate", "verdict"],  # fmt: skip
        tex_columns=["$D$", "$s$", "estimator", "$\\hat a$", "95\\% CI", theory, "$J$", "seeds",
                     "per seed", "estimate", "verdict"],  # fmt: skip
        cells=rows, tex_cells=tex, align="rrlrlrrllll", rules_after=rules, wrap=True,
        hidden=("seeds", "estimate"),
    )  # fmt: skip


def per_seed_table(fits, units, metric: str = "tv") -> Table:
    """The appendix: per (D, s, estimator, target seed) the seed's own exponent ± se (its
    log-link fit, CRV3 by n), the rows it fitted and its verdict (GroupFits only)."""
    order = {u: (D, s, i) for i, (u, D, s) in enumerate(units)}
    sel = sorted((f for f in fits if f.metric == metric and f.arm in order
                  and getattr(f, "per_seed", None) is not None),
                 key=lambda f: (*order[f.arm], estimator_rank(f.estimator)))  # fmt: skip
    rows, tex, rules = [], [], []
    for f in sel:
        D, s, _ = order[f.arm]
        for r in f.per_seed.itertuples():
            cells = [str(D), f"{s:g}", f.estimator, str(int(r.target_seed)),
                     fmt(r.exponent, fixed=True), fmt(r.se, fixed=True), str(int(r.rows)),
                     str(r.verdict)]  # fmt: skip
            rows.append(cells)
            tex.append([*map(tex_cell, cells[:2]),
                        TEX_NAMES.get(f.estimator, latex_escape(f.estimator)),
                        *map(tex_cell, cells[3:7]), tex_cell(short_verdict(str(r.verdict)))])  # fmt: skip
        if rows:
            rules.append(len(rows) - 1)
    return Table(
        columns=["D", "s", "estimator", "seed", "exponent", "se", "rows", "verdict"],
        tex_columns=["$D$", "$s$", "estimator", "seed", "$\\hat a_j$", "se", "rows", "verdict"],
        cells=rows, tex_cells=tex, align="rrlrrrrl", rules_after=rules[:-1], wrap=True,
    )  # fmt: skip
