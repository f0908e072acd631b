"""The paper's tables, each rendered twice: LaTeX (booktabs, readable column names, a wrapping
last column where the cells are words) and Markdown (the raw names and full verdicts)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from minimax.reporting.figures.rate_plot import ORDER
from minimax.reporting.paper_budget import BUDGET_ESTIMATOR, _params, ci95
from minimax.reporting.paper_format import fmt, fmt_p, latex_escape, short_verdict, tex_cell
from minimax.study.rates import RateFit

#: estimator names in LaTeX tables
TEX_NAMES = {"ddpm": "DDPM", "kde": "KDE", "ddpm-fixed-tmin": "DDPM, frozen $\\underline{T}$",
             "oracle-score": "oracle score", "empirical-score": "empirical score",
             "kde-oracle": "KDE, oracle $h$", "uniform": "uniform", "gaussian": "Gaussian",
             "gan": "GAN", "vae": "VAE", "wavelet": "wavelet"}  # fmt: skip
#: hyperparameters of the diffusion estimator shown per n (keys of its describe()) and their
#: column names in LaTeX
HYPER_KEYS = {
    "width": "width", "depth": "depth", "params": "params", "x_frequencies": "Fourier freq.",
    "steps": "step budget", "steps_run": "steps run", "best_step": "best step",
    "batch_size": "batch", "lr": "lr", "t_min": "$\\underline{T}$", "T": "grid $T$",
    "sample_steps": "sampling steps", "sampler": "sampler", "loss": "loss",
}  # fmt: skip
#: the budget table's parts (frame column, Markdown name, LaTeX name)
BUDGET_COLUMNS = (
    ("tv", "TV", "TV"),
    ("blur", "early-stop blur", "blur$^a$"),
    ("sampler", "sampler (oracle − blur)", "sampler$^b$"),
    ("learned", "learned (TV − oracle)", "learned$^c$"),
    ("unsplit", "sampler + learned", "not split$^d$"),
)


@dataclass
class Table:
    """A small table rendered twice. ``cells`` are plain text; ``tex_cells`` (same shape) may
    hold LaTeX markup. With ``wrap`` the last column is a tabularx X column (its cells wrap)
    and the table spans ``\\linewidth``. ``constant``: columns with one value in every row,
    moved out of the LaTeX table into a note (name -> value)."""

    columns: list[str]
    cells: list[list[str]]
    align: str
    tex_columns: list[str] | None = None
    tex_cells: list[list[str]] | None = None
    rules_after: list[int] = field(default_factory=list)
    wrap: bool = False
    constant: dict[str, str] = field(default_factory=dict)
    #: columns of the Markdown table only (the LaTeX table leaves them out)
    hidden: tuple[str, ...] = ()

    def markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        sep = "|" + "|".join(":---" if a in "lX" else "---:" for a in self.align) + "|"
        body = ["| " + " | ".join(row) + " |" for row in self.cells]
        return "\n".join([head, sep, *body]) + "\n"

    def latex(self) -> str:
        cols = self.tex_columns or [latex_escape(c) for c in self.columns]
        cells = self.tex_cells or [[tex_cell(c) for c in row] for row in self.cells]
        keep = [i for i, c in enumerate(self.columns)
                if c not in self.constant and c not in self.hidden]  # fmt: skip
        align = "".join(self.align[i] for i in keep)
        if self.wrap:
            align = align[:-1] + ">{\\raggedright\\arraybackslash}X"
            begin, end = (
                f"\\begin{{tabularx}}{{\\linewidth}}{{@{{}}{align}@{{}}}}",
                "\\end{tabularx}",
            )
        else:
            begin, end = f"\\begin{{tabular}}{{@{{}}{align}@{{}}}}", "\\end{tabular}"
        lines = [begin, "\\toprule", " & ".join(cols[i] for i in keep) + " \\\\", "\\midrule"]
        for i, row in enumerate(cells):
            lines.append(" & ".join(row[j] for j in keep) + " \\\\")
            if i in self.rules_after and i != len(cells) - 1:
                lines.append("\\midrule")
        lines += ["\\bottomrule", end]
        return "\n".join(lines) + "\n"

    def constant_note(self) -> str:
        """The moved-out columns as LaTeX: "depth 3, batch 256 and sampler ancestral"."""
        from minimax.reporting.paper_format import join_words

        names = dict(zip(self.columns, self.tex_columns or self.columns, strict=True))
        return join_words(f"{names[c]} {tex_cell(v)}" for c, v in self.constant.items())


def _constant_columns(table: Table, candidates) -> None:
    for j, c in enumerate(table.columns):
        if c in candidates and len({row[j] for row in table.cells}) == 1 and table.cells:
            table.constant[c] = table.cells[0][j]


def arms_in_order(df: pd.DataFrame) -> list[tuple[str, int, float]]:
    """(arm, D, s) in (D, s, arm) order."""
    first = df.groupby("arm", sort=False)[["D", "s"]].first().reset_index()
    first = first.sort_values(["D", "s", "arm"], kind="stable")
    return [(r.arm, int(r.D), float(r.s)) for r in first.itertuples()]


def estimator_rank(name: str) -> tuple:
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def exponent_table(fits: list[RateFit], df: pd.DataFrame, metric: str = "tv") -> Table:
    """Per (D, s, estimator) of the ``metric`` fits: exponent, 95% CI, theory (s/(2s+D) for TV,
    2s/(2s+D) for the score error), p-value of the theory test, n range, sizes of n,
    replicates, verdict: the numbers of the RateFit objects."""
    arms = {a: (D, s) for a, D, s in arms_in_order(df)}
    reps = df.groupby(["arm", "estimator"])["replicate"].nunique()
    rows, tex, rules = [], [], []
    ordered = sorted((f for f in fits if f.metric == metric),
                     key=lambda f: (*arms[f.arm], f.arm, estimator_rank(f.estimator)))  # fmt: skip
    flagged = any(math.isfinite(f.flagged_exponent) for f in ordered)
    for i, f in enumerate(ordered):
        D, s = arms[f.arm]
        ci = f"[{fmt(f.ci_low, fixed=True)}, {fmt(f.ci_high, fixed=True)}]" if f.measured else "---"
        head = [str(D), f"{s:g}", f.estimator]
        body = [
            fmt(f.exponent, fixed=True), ci, fmt(f.theory), fmt_p(f.p_value),
            f"{f.n_min}–{f.n_max}" if f.measured else "---",
            str(f.n_points) if f.measured else "0", str(int(reps.get((f.arm, f.estimator), 0))),
        ]  # fmt: skip
        extra = [fmt(f.flagged_exponent, fixed=True)] if flagged else []
        rows.append([*head, *body, *extra, f.verdict])
        name = TEX_NAMES.get(f.estimator, latex_escape(f.estimator))
        tex.append([*map(tex_cell, head[:2]), name, *map(tex_cell, body + extra),
                    tex_cell(short_verdict(f.verdict))])  # fmt: skip
        if i + 1 < len(ordered) and ordered[i + 1].arm != f.arm:
            rules.append(i)
    theory = "$2s/(2s+D)$" if metric.startswith("score") else "$s/(2s+D)$"
    columns = ["D", "s", "estimator", "exponent", "95% CI", "theory", "p", "n", "sizes", "reps"]
    tex_columns = ["$D$", "$s$", "estimator", "$\\hat a$", "95\\% CI", theory, "$p$",
                   "$n$", "sizes", "reps"]  # fmt: skip
    if flagged:  # flagged rows are TV lower bounds: that fit is indicative
        columns.append("with flagged rows")
        tex_columns.append("flagged")
    columns.append("verdict")
    tex_columns.append("verdict")
    align = "rrlrlrrlrr" + ("r" if flagged else "") + "l"
    # the two-sided p of a = theory is in the Markdown table; the LaTeX one gives the room to
    # the verdict (the TOST's, which the CI and w already say)
    return Table(columns, rows, align, tex_columns=tex_columns, tex_cells=tex,
                 rules_after=rules, wrap=True, hidden=("p",))  # fmt: skip


def hyperparameter_table(df: pd.DataFrame, estimator: str = BUDGET_ESTIMATOR,
                         units: dict | None = None) -> Table | None:  # fmt: skip
    """The hyperparameters the diffusion model actually used at each (D, s, n): the median over
    replicates of its recorded ``estimator_params`` (steps_run and best_step vary by replicate:
    their range is shown), and M, the samples drawn per TV evaluation. Columns with one value
    in every row are moved to a note (``Table.constant``). ``units``: label -> arms (a group of
    target seeds is one block of rows, medians over all its rows)."""
    sel = df[(df["estimator"] == estimator) & (df["metric"] == "tv") & (df["status"] == "ok")]
    if sel.empty:
        return None
    if units:
        of = {a: u for u, arms in units.items() for a in arms}
        sel = sel.assign(arm=sel["arm"].map(of).fillna(sel["arm"]))
    params = _params(sel, "estimator_params")
    keys = [k for k in HYPER_KEYS if k in params.columns]
    rows, rules = [], []
    arms = arms_in_order(sel)
    for ai, (arm, D, s) in enumerate(arms):
        a = sel["arm"] == arm
        for n in sorted(sel.loc[a, "n"].unique()):
            m = a & (sel["n"] == n)
            p = params[m]
            row = [str(D), f"{s:g}", str(int(n)), fmt(int(np.median(sel.loc[m, "m"])))]
            for k in keys:
                v = p[k].dropna()
                if v.empty:
                    row.append("---")
                elif k in ("steps_run", "best_step") and v.nunique() > 1:
                    row.append(f"{int(v.min())}–{int(v.max())}")
                elif pd.api.types.is_numeric_dtype(v):
                    med = float(np.median(v.astype(float)))
                    row.append(str(int(med)) if med == int(med) and abs(med) >= 1 else fmt(med))
                else:
                    row.append(str(v.iloc[0]))
            rows.append(row)
        if ai + 1 < len(arms):
            rules.append(len(rows) - 1)
    columns = ["D", "s", "n", "M", *keys]
    tex_cols = ["$D$", "$s$", "$n$", "$M$", *(HYPER_KEYS[k] for k in keys)]
    tex = [[tex_cell(c) for c in row] for row in rows]
    align = "rrrr" + "".join("l" if k in ("sampler", "loss") else "r" for k in keys)
    table = Table(columns, rows, align, tex_columns=tex_cols, tex_cells=tex, rules_after=rules)
    _constant_columns(table, ("depth", "batch_size", "sampler", "loss", "x_frequencies", "T"))
    return table


def measured_smoothness(row: pd.Series) -> tuple[float, float]:
    """The target's L1 smoothness measured from its own pdf and cell masses (modulus of
    smoothness and wavelet-detail decay, :func:`minimax.targets.smoothness.estimate_smoothness`;
    docs/theory.md section 7). The target is rebuilt from the columns that define it (kind, D,
    s, p, boundary, seed, the arm's largest n): a property of the truth, not a recomputed cell.
    With few levels the modulus is fitted over [2^-J, 2^-(j0+1)]; NaN where no range exists."""
    from minimax.targets.smoothness import estimate_smoothness

    target = build_arm_target(row)
    try:
        est = estimate_smoothness(target)
    except ValueError:
        # few levels (small n_max, D = 2): the default modulus range is empty; fit the whole
        # range between the finest and the coarsest level instead
        j0, J = getattr(target, "j0", None), getattr(target, "J", None)
        if j0 is None or J is None or J - j0 < 3:
            return (math.nan, math.nan)
        try:
            est = estimate_smoothness(target, h_range=(2.0**-J, 2.0 ** -(j0 + 1)))
        except ValueError:
            return (math.nan, math.nan)
    return (float(est.modulus_s), float(est.detail_s))


def build_arm_target(row: pd.Series):
    """The target of a results row (kind, D, s, p, boundary, target_seed) at ``row["n_max"]``."""
    from minimax.study.spec import TargetSpec
    from minimax.study.worker import build_target

    spec = TargetSpec(kind=str(row["target"]), D=int(row["D"]), s=float(row["s"]),
                      p=float(row["p"]), boundary=str(row["boundary"]),
                      seed=int(row["target_seed"]))  # fmt: skip
    return build_target(spec, int(row["n_max"]))


def arm_rows(df: pd.DataFrame) -> dict[str, pd.Series]:
    """The first row of every arm with its largest n as ``n_max``."""
    out = {}
    for arm, _, _ in arms_in_order(df):
        a = df[df["arm"] == arm]
        r = a.iloc[0].copy()
        r["n_max"] = int(a["n"].max())
        out[arm] = r
    return out


def measured_smoothness_by_arm(df: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """:func:`measured_smoothness` of every arm's target."""
    return {arm: measured_smoothness(r) for arm, r in arm_rows(df).items()}


def target_table(df: pd.DataFrame, measured: dict | None = None) -> Table:
    """The targets: D, s, p, boundary, the nominal L1 smoothness recorded by the target, the
    two ``measured`` values (by arm), TV to the uniform density, certified pdf bounds."""
    rows = []
    seeded = "target_seed" in df and df["target_seed"].nunique() > 1
    for arm, D, s in arms_in_order(df):
        r = df[df["arm"] == arm].iloc[0]
        tp = json.loads(r["target_params"]) if isinstance(r.get("target_params"), str) else {}
        mod, det = (measured or {}).get(arm, (math.nan, math.nan))
        rows.append([
            str(D), f"{s:g}", f"{float(r['p']):g}", str(r["boundary"]),
            *([str(int(r["target_seed"]))] if seeded else []),
            fmt(tp.get("smoothness_l1", math.nan), 2, fixed=True), fmt(mod, 2, fixed=True),
            fmt(det, 2, fixed=True), fmt(tp.get("tv_to_uniform", math.nan)),
            fmt(tp.get("pdf_min_certified", math.nan)), fmt(tp.get("pdf_max_certified", math.nan)),
        ])  # fmt: skip
    seed = ["seed"] if seeded else []
    columns = ["D", "s", "p", "boundary", *seed, "L1 smoothness", "measured (modulus)",
               "measured (details)", "TV to uniform", "min q", "max q"]  # fmt: skip
    tex_columns = ["$D$", "$s$", "$p$", "boundary", *seed, "nominal", "$\\omega_m$ slope",
                   "detail slope", "TV to unif.", "$\\min q$", "$\\max q$"]  # fmt: skip
    return Table(columns, rows, "rrrl" + "r" * len(seed) + "rrrrrr", tex_columns=tex_columns)


def _pm(value: float, half: float, digits: int = 4) -> tuple[str, str]:
    """(plain, LaTeX) of "value ± half" (the half-width left out where it is 0 or unknown)."""
    if not math.isfinite(value):
        return "---", "---"
    v = f"{value:.{digits}f}"
    if not math.isfinite(half) or half == 0:
        return v, tex_cell(v)
    h = f"{half:.{digits}f}"
    return f"{v} ± {h}", f"{tex_cell(v)}\\,$\\pm$\\,{h}"


def budget_table(budgets: dict[str, pd.DataFrame], units) -> Table:
    """Per (unit, n) the DDPM's TV and its parts, each ± its 95% half-width (1.96 se; the exact
    blur has none), and the design share (blur + sampler)/TV. ``units``: (label, D, s) in
    order; the parts shown are those some unit holds (budget.budget_components)."""
    parts = [c for c in BUDGET_COLUMNS if any(c[0] in b for b in budgets.values())]
    rows, tex, rules = [], [], []
    for unit, D, s in units:
        b = budgets.get(unit)
        if b is None or b.empty:
            continue
        for n, r in b.iterrows():
            head = [str(D), f"{s:g}", str(int(n))]
            cells = [_pm(float(r.get(k, math.nan)), float(ci95(b, k).loc[n])) for k, _, _ in parts]
            share = float(r.get("design_share", math.nan))
            share_txt = f"{100 * share:.0f}%" if math.isfinite(share) else "---"
            rows.append([*head, *(c[0] for c in cells), share_txt])
            tex.append([*head, *(c[1] for c in cells), tex_cell(share_txt)])
        rules.append(len(rows) - 1)
    return Table(
        columns=["D", "s", "n", *(c[1] for c in parts), "design share"],
        tex_columns=["$D$", "$s$", "$n$", *(c[2] for c in parts), "design$^e$"],
        cells=rows,
        tex_cells=tex,
        align="rrr" + "r" * len(parts) + "r",
        rules_after=rules[:-1],
    )


def exploration_table(studies: list[tuple[str, pd.DataFrame, list[RateFit]]]) -> Table:
    """The TV exponents of the exploration (tuning) studies: one row per (study, arm,
    non-trivial estimator), labelled by the study folder's name."""
    rows, tex, rules = [], [], []
    for name, df, fits in studies:
        arms = {a: (D, s) for a, D, s in arms_in_order(df)}
        roles = df.groupby("estimator")["role"].first().to_dict() if "role" in df else {}
        bounds = df.groupby("arm")["boundary"].first().to_dict()
        sel = sorted((f for f in fits if f.metric == "tv" and roles.get(f.estimator) != "trivial"),
                     key=lambda f: (*arms[f.arm], estimator_rank(f.estimator)))  # fmt: skip
        for f in sel:
            D, s = arms[f.arm]
            ci = (
                f"[{fmt(f.ci_low, fixed=True)}, {fmt(f.ci_high, fixed=True)}]"
                if f.measured
                else "---"
            )
            row = [name, str(D), f"{s:g}", str(bounds.get(f.arm, "")), f.estimator,
                   fmt(f.exponent, fixed=True), ci, fmt(f.theory), f.verdict]  # fmt: skip
            rows.append(row)
            tex.append([f"\\texttt{{{latex_escape(name)}}}", *map(tex_cell, row[1:4]),
                        TEX_NAMES.get(f.estimator, latex_escape(f.estimator)),
                        *map(tex_cell, row[5:8]), tex_cell(short_verdict(f.verdict))])  # fmt: skip
        if rows:
            rules.append(len(rows) - 1)
    return Table(
        columns=["study", "D", "s", "boundary", "estimator", "exponent", "95% CI", "theory",
                 "verdict"],  # fmt: skip
        tex_columns=["study", "$D$", "$s$", "boundary", "estimator", "$\\hat a$", "95\\% CI",
                     "$s/(2s+D)$", "verdict"],  # fmt: skip
        cells=rows, tex_cells=tex, align="lrrllrlrl", rules_after=rules[:-1], wrap=True,
    )  # fmt: skip
