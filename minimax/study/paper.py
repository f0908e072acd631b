"""``python -m minimax.study paper RESULTS_DIR``: the paper's figures, tables and macros.

Everything is made from a stored results folder alone (``results.parquet`` and ``study.json``),
never by recomputing a cell (docs/design.md: data moves one way). Into ``OUT/figures`` and
``OUT/tables`` it writes

- ``rate_<arm>_<metric>.png|pdf``: error vs n per estimator, drawn by
  :func:`minimax.study.report.plot_rates` (the report's own figure code);
- ``exponents.png|pdf``: the measured TV exponent with its 95% CI against s, one panel per D,
  beside the minimax exponent s/(2s+D) (Oko, Akiyama & Suzuki 2023, Thm 5.1 and Prop 5.2);
- ``budget_<arm>.png|pdf``: the diffusion model's error budget at each n (issue 7), with
  whichever components the table holds;
- ``exponents``, ``budget``, ``hyperparameters``, ``targets`` tables as LaTeX (booktabs) and
  Markdown, and ``*.tex`` figure environments whose captions say what a figure lacks;
- ``OUT/macros.tex``: a ``\\newcommand`` for every number the text of ``main.tex`` quotes.

All files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from minimax.study import store
from minimax.study.rates import RateFit, fit_rates
from minimax.study.registry import tv_exponent
from minimax.study.report import COLUMN_WIDTH_IN, plot_rates, slug

#: estimators in the order the paper discusses them
ESTIMATOR_ORDER = (
    "ddpm",
    "kde",
    "empirical-score",
    "oracle-score",
    "ddpm-fixed-tmin",
    "uniform",
    "gaussian",
)
#: the diffusion model under study: the one whose error budget is drawn
BUDGET_ESTIMATOR = "ddpm"
#: metrics with a rate plot of their own
RATE_METRICS = ("tv", "score", "w1")
#: hyperparameters of the diffusion estimator shown per n (keys of its describe())
HYPER_KEYS = (
    "width",
    "depth",
    "params",
    "x_frequencies",
    "steps",
    "steps_run",
    "best_step",
    "batch_size",
    "lr",
    "t_min",
    "T",
    "sample_steps",
    "sampler",
    "loss",
)
#: names the budget engineer's metrics may carry for the oracle-score sampler's own TV
ORACLE_TV_METRICS = ("oracle_tv", "sampler_tv", "tv_oracle", "oracle_score_tv")


@dataclass
class Paper:
    """What ``build_paper`` wrote and the fits its tables were made from."""

    fits: list[RateFit]
    macros: dict[str, str]
    files: list[Path] = field(default_factory=list)
    absent_budget: list[str] = field(default_factory=list)


# -- small helpers --------------------------------------------------------------------------
_DIGITS = dict(
    zip("0123456789", "Zero One Two Three Four Five Six Seven Eight Nine".split(), strict=True)
)


def macro_name(*parts) -> str:
    """A LaTeX command name (letters only) from parts: ``("ddpm", 1, 1.5) -> ddpmOneOnePtFive``."""
    out = []
    for part in parts:
        text = f"{part:g}" if isinstance(part, float) else str(part)
        text = "".join(_DIGITS.get(c, "Pt" if c == "." else c) for c in text)
        words = [w for w in re.split(r"[^A-Za-z]+", text) if w]
        out.append("".join(w[:1].upper() + w[1:] for w in words))
    return "".join(out)


def fmt(value, digits: int = 3, fixed: bool = False) -> str:
    """A number for a table: ``---`` for NaN/None (never a NaN literal); ``digits`` decimals,
    or (not ``fixed``) ``digits - 1`` significant digits for small or huge values."""
    if value is None or not math.isfinite(float(value)):
        return "---"
    if isinstance(value, int | np.integer):
        return str(int(value))
    v = float(value)
    if fixed:
        return f"{v:.{digits}f}".replace(f"-{0:.{digits}f}", f"{0:.{digits}f}")
    if abs(v) >= 1e5:
        return f"{v:.{max(digits - 1, 1)}e}"
    if v != 0 and abs(v) < 10 ** -(digits - 1):  # small: significant digits, not zeros
        return f"{v:.{max(digits - 1, 1)}g}"
    return f"{v:.{digits}f}"


def fmt_p(p: float) -> str:
    if not math.isfinite(p):
        return "---"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.0e}"


def latex_escape(text: str) -> str:
    repl = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "≈": r"$\approx$",
        "→": r"$\to$",
        "±": r"$\pm$",
        "×": r"$\times$",
        "δ": r"$\delta$",  # the equivalence verdicts (verdicts.py)
        "≤": r"$\le$",
        "≥": r"$\ge$",
        ">": r"$>$",
        "<": r"$<$",
        "T̲": r"$\underline{T}$",
    }
    return "".join(repl.get(c, c) for c in text.replace("T̲", "\x00")).replace(
        "\x00", r"$\underline{T}$"
    )


def tex_cell(text: str) -> str:
    """A plain table cell as LaTeX: escaped, minus signs of numbers in math, en dashes as --."""
    out = re.sub(r"(?<![\w-])-(?=\d)", "$-$", latex_escape(text))
    return out.replace("–", "--")


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    store.atomic_write_bytes(path, text.encode())
    return path


def _save_figure(fig, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    files = [stem.parent / f"{stem.name}.{ext}" for ext in ("png", "pdf")]
    for path in files:
        tmp = path.with_name(f".tmp-{path.name}")
        fig.savefig(tmp, dpi=300, format=path.suffix[1:])
        tmp.replace(path)
    return files


def _order(names) -> list[str]:
    names = list(dict.fromkeys(names))
    known = [e for e in ESTIMATOR_ORDER if e in names]
    return known + sorted(set(names) - set(known))


def _arms(df: pd.DataFrame) -> list[tuple[str, int, float]]:
    """(arm, D, s) in (D, s, arm) order."""
    first = df.groupby("arm", sort=False)[["D", "s"]].first().reset_index()
    first = first.sort_values(["D", "s", "arm"], kind="stable")
    return [(r.arm, int(r.D), float(r.s)) for r in first.itertuples()]


def _params(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """The JSON column ``estimator_params`` / ``target_params`` expanded into columns."""
    if column not in df.columns:
        return pd.DataFrame(index=df.index)
    parsed = [json.loads(v) if isinstance(v, str) and v else {} for v in df[column]]
    return pd.DataFrame(parsed, index=df.index)


# -- tables ---------------------------------------------------------------------------------
@dataclass
class Table:
    """A small table rendered twice: LaTeX booktabs and Markdown. ``cells`` are plain text;
    ``tex_cells`` (same shape) may hold LaTeX markup."""

    columns: list[str]
    cells: list[list[str]]
    align: str
    tex_columns: list[str] | None = None
    tex_cells: list[list[str]] | None = None
    rules_after: list[int] = field(default_factory=list)

    def markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        sep = "|" + "|".join(":---" if a == "l" else "---:" for a in self.align) + "|"
        body = ["| " + " | ".join(row) + " |" for row in self.cells]
        return "\n".join([head, sep, *body]) + "\n"

    def latex(self) -> str:
        cols = self.tex_columns or [latex_escape(c) for c in self.columns]
        cells = self.tex_cells or [[tex_cell(c) for c in row] for row in self.cells]
        lines = [
            f"\\begin{{tabular}}{{{self.align}}}",
            "\\toprule",
            " & ".join(cols) + " \\\\",
            "\\midrule",
        ]
        for i, row in enumerate(cells):
            lines.append(" & ".join(row) + " \\\\")
            if i in self.rules_after and i != len(cells) - 1:
                lines.append("\\midrule")
        lines += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(lines) + "\n"


def exponent_table(fits: list[RateFit], df: pd.DataFrame, metric: str = "tv") -> Table:
    """Per (D, s, estimator) of the ``metric`` fits: exponent, 95% CI, theory (s/(2s+D) for TV,
    2s/(2s+D) for the score error), p-value of the theory test, n range, sizes of n,
    replicates, verdict: the numbers of the RateFit objects."""
    arms = {a: (D, s) for a, D, s in _arms(df)}
    reps = df.groupby(["arm", "estimator"])["replicate"].nunique()
    rows, tex, rules = [], [], []
    ordered = sorted(
        (f for f in fits if f.metric == metric),
        key=lambda f: (
            *arms[f.arm],
            f.arm,
            _order([f.estimator, *ESTIMATOR_ORDER]).index(f.estimator),
        ),
    )
    for i, f in enumerate(ordered):
        D, s = arms[f.arm]
        ci = f"[{fmt(f.ci_low, fixed=True)}, {fmt(f.ci_high, fixed=True)}]" if f.measured else "---"
        nrange = f"{f.n_min}–{f.n_max}" if f.measured else "---"
        row = [
            str(D),
            f"{s:g}",
            f.estimator,
            fmt(f.exponent, fixed=True),
            ci,
            fmt(f.theory),
            fmt_p(f.p_value),
            nrange,
            str(f.n_points) if f.measured else "0",
            str(int(reps.get((f.arm, f.estimator), 0))),
            f.verdict,
        ]
        rows.append(row)
        tex.append([tex_cell(c) for c in row])
        if i + 1 < len(ordered) and ordered[i + 1].arm != f.arm:
            rules.append(i)
    table = Table(
        columns=[
            "D",
            "s",
            "estimator",
            "exponent",
            "95% CI",
            "theory",
            "p",
            "n",
            "sizes",
            "reps",
            "verdict",
        ],  # fmt: skip
        tex_columns=[
            "$D$",
            "$s$",
            "estimator",
            "exponent",
            "95\\% CI",
            "$s/(2s+D)$",
            "$p$",
            "$n$",
            "sizes",
            "reps",
            "verdict",
        ],  # fmt: skip
        cells=rows,
        tex_cells=tex,
        align="rrlrlrrlrrl",
        rules_after=rules,
    )
    if any(math.isfinite(f.flagged_exponent) for f in ordered):
        # rows flagged rising/unresolved are TV lower bounds: that fit is indicative only
        extra = [fmt(f.flagged_exponent, fixed=True) for f in ordered]
        table.columns.insert(-1, "with flagged rows")
        table.tex_columns.insert(-1, "with flagged")
        for row, tex_row, v in zip(table.cells, table.tex_cells, extra, strict=True):
            row.insert(-1, v)
            tex_row.insert(-1, v)
        table.align = table.align[:-1] + "rl"
    return table


def hyperparameter_table(df: pd.DataFrame, estimator: str = BUDGET_ESTIMATOR) -> Table | None:
    """The hyperparameters the diffusion model actually used at each (D, s, n): the median over
    replicates of its recorded ``estimator_params`` (steps_run and best_step vary by replicate:
    their range is shown), and M, the samples drawn per TV evaluation."""
    sel = df[(df["estimator"] == estimator) & (df["metric"] == "tv") & (df["status"] == "ok")]
    if sel.empty:
        return None
    params = _params(sel, "estimator_params")
    keys = [k for k in HYPER_KEYS if k in params.columns]
    rows, rules = [], []
    arms = _arms(sel)
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
    tex_cols = [
        {"D": "$D$", "s": "$s$", "n": "$n$", "M": "$M$", "t_min": "$\\underline{T}$",
         "T": "$T$"}.get(c, latex_escape(c))
        for c in columns
    ]  # fmt: skip
    tex = [[tex_cell(c) for c in row] for row in rows]
    align = "rrrr" + "".join("l" if k in ("sampler", "loss") else "r" for k in keys)
    return Table(columns, rows, align, tex_columns=tex_cols, tex_cells=tex, rules_after=rules)


def measured_smoothness(row: pd.Series) -> tuple[float, float]:
    """The target's L1 smoothness measured from its own pdf and cell masses (modulus of
    smoothness and wavelet-detail decay, :func:`minimax.targets.smoothness.estimate_smoothness`;
    docs/theory.md section 7). The target is rebuilt from the columns that define it (kind, D, s, p,
    boundary, seed, the arm's largest n): a property of the truth, not a recomputed cell.
    With few levels the modulus is fitted over [2^-J, 2^-(j0+1)]; NaN where no range exists."""
    from minimax.study.spec import TargetSpec
    from minimax.study.worker import build_target
    from minimax.targets.smoothness import estimate_smoothness

    spec = TargetSpec(
        kind=str(row["target"]),
        D=int(row["D"]),
        s=float(row["s"]),
        p=float(row["p"]),
        boundary=str(row["boundary"]),
        seed=int(row["target_seed"]),
    )
    target = build_target(spec, int(row["n_max"]))
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


def measured_smoothness_by_arm(df: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """:func:`measured_smoothness` of every arm's target."""
    out = {}
    for arm, _, _ in _arms(df):
        a = df[df["arm"] == arm]
        r = a.iloc[0].copy()
        r["n_max"] = int(a["n"].max())
        out[arm] = measured_smoothness(r)
    return out


def target_table(df: pd.DataFrame, measured: dict | None = None) -> Table:
    """The targets: D, s, p, boundary, the nominal L1 smoothness recorded by the target, the
    two ``measured`` values (by arm), TV to the uniform density, certified pdf bounds."""
    rows = []
    for arm, D, s in _arms(df):
        r = df[df["arm"] == arm].iloc[0]
        tp = json.loads(r["target_params"]) if isinstance(r.get("target_params"), str) else {}
        mod, det = (measured or {}).get(arm, (math.nan, math.nan))
        rows.append(
            [
                str(D),
                f"{s:g}",
                f"{float(r['p']):g}",
                str(r["boundary"]),
                fmt(tp.get("smoothness_l1", math.nan), 2, fixed=True),
                fmt(mod, 2, fixed=True),
                fmt(det, 2, fixed=True),
                fmt(tp.get("tv_to_uniform", math.nan)),
                fmt(tp.get("pdf_min_certified", math.nan)),
                fmt(tp.get("pdf_max_certified", math.nan)),
            ]
        )
    return Table(
        columns=[
            "D",
            "s",
            "p",
            "boundary",
            "L1 smoothness",
            "measured (modulus)",
            "measured (details)",
            "TV to uniform",
            "min q",
            "max q",
        ],  # fmt: skip
        tex_columns=[
            "$D$",
            "$s$",
            "$p$",
            "boundary",
            "nominal",
            "$\\omega_m$ slope",
            "detail slope",
            "TV$(q,\\mathrm{unif})$",
            "$\\min q$",
            "$\\max q$",
        ],  # fmt: skip
        cells=rows,
        align="rrrlrrrrrr",
    )


# -- the error budget -----------------------------------------------------------------------
BUDGET_COMPONENTS = (
    "total TV",
    "oracle-score sampler TV",
    "TV floor",
    "outside mass",
    "outside before reflection",
    "score error",
    "train/held-out loss gap",
)


def budget_frame(df: pd.DataFrame, arm: str) -> pd.DataFrame:
    """Mean over replicates, per n, of each error-budget component of the diffusion model in
    one arm (issue 7): columns are the components the table holds, plus any further metric of
    the diffusion model (added by the budget work) under its own name."""
    a = df[(df["arm"] == arm) & (df["status"] == "ok")]
    d = a[a["estimator"] == BUDGET_ESTIMATOR]
    if d.empty:
        return pd.DataFrame()

    def per_n(rows: pd.DataFrame, col: str = "value") -> pd.Series:
        return rows.groupby("n")[col].mean()

    out = {}
    tv = d[d["metric"] == "tv"]
    if len(tv):
        out["total TV"] = per_n(tv)
        if tv["floor"].notna().any():
            out["TV floor"] = per_n(tv, "floor")
    oracle = d[d["metric"].isin(ORACLE_TV_METRICS)]
    if oracle.empty:
        oracle = a[(a["estimator"] == "oracle-score") & (a["metric"] == "tv")]
    # an "unresolved" TV has no admissible level: no value to show (a "rising" one is a lower
    # bound and stays, as it does in the total TV)
    oracle = oracle[oracle["flag"] != "unresolved"]
    if len(oracle):
        out["oracle-score sampler TV"] = per_n(oracle)
    om = d[d["metric"] == "outside_mass"]
    if len(om):
        out["outside mass"] = per_n(om)
    if len(tv):  # the sampler's mass outside the box before boundary='reflect' folds it back
        p = _params(tv, "estimator_params")
        if "outside_fraction" in p.columns and p["outside_fraction"].notna().any():
            frac = p["outside_fraction"].astype(float).groupby(tv["n"]).mean()
            out["outside before reflection"] = frac
    sc = d[d["metric"] == "score"]
    if len(sc):
        out["score error"] = per_n(sc)
    gap = d[d["metric"] == "loss_gap"]
    if len(gap):
        out["train/held-out loss gap"] = per_n(gap)
    elif len(tv):
        p = _params(tv, "estimator_params")
        if "loss_gap" in p.columns and p["loss_gap"].notna().any():
            out["train/held-out loss gap"] = p["loss_gap"].astype(float).groupby(tv["n"]).mean()
    known = {"tv", "outside_mass", "score", "loss_gap", "w1", *ORACLE_TV_METRICS}
    for metric in dict.fromkeys(d["metric"]):
        if metric not in known:
            out[metric.replace("_", " ")] = per_n(d[d["metric"] == metric])
    return pd.DataFrame(out).sort_index()


def largest_component(budget: pd.DataFrame) -> tuple[str, float]:
    """The largest TV-scale component (sampler TV, floor, outside mass) at the largest n."""
    cols = [c for c in ("oracle-score sampler TV", "TV floor", "outside mass") if c in budget]
    if budget.empty or not cols:
        return ("---", math.nan)
    last = budget.iloc[-1][cols].astype(float).dropna()
    if last.empty:
        return ("---", math.nan)
    return (str(last.idxmax()), float(last.max()))


def plot_budget(budget: pd.DataFrame, title: str, stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "total TV": dict(color="k", marker="o", lw=1.2),
        "oracle-score sampler TV": dict(color="C0", marker="s"),
        "TV floor": dict(color="0.5", marker="", ls="--"),
        "outside mass": dict(color="C3", marker="^"),
        "outside before reflection": dict(color="C3", marker="^", ls="--", mfc="white"),
        "score error": dict(color="C2", marker="D"),
        "train/held-out loss gap": dict(color="C4", marker="v", ls=":"),
    }
    with plt.rc_context({"font.size": 7, "legend.fontsize": 5.5, "lines.linewidth": 1.0}):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.4), layout="constrained")
        drawn = 0
        for i, col in enumerate(budget.columns):
            y = budget[col].astype(float)
            label = col
            st = styles.get(col, dict(color=f"C{5 + i % 4}", marker="x"))
            if col == "train/held-out loss gap":
                # signed (held-out minus training loss); log axes take |gap|, open where < 0
                neg = y[y < 0].abs()
                y, label = y.abs(), "|held-out − train loss| (open: < 0)"
                st = {**st, "mfc": st["color"], "markevery": [v > 0 for v in budget[col]]}
                if len(neg):
                    ax.plot(neg.index, neg.values, ls="", ms=3, marker=st["marker"],
                            mfc="white", color=st["color"])  # fmt: skip
            y = y[np.isfinite(y) & (y > 0)]
            if y.empty:
                continue
            ax.plot(y.index, y.values, ms=3, label=label, **st)
            drawn += 1
        ax.set_xscale("log")
        ax.set_yscale("log")
        sizes = budget.index.to_numpy()
        if 0 < len(sizes) <= 10:
            from matplotlib.ticker import FixedLocator, NullFormatter

            ax.xaxis.set_major_locator(FixedLocator(sizes))
            ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:g}")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("n (training samples)")
        ax.set_ylabel("mean over replicates")
        ax.set_title(f"{title}\nerror budget of {BUDGET_ESTIMATOR}", fontsize=6)
        if drawn:
            ax.legend(loc="best", frameon=False)
        files = _save_figure(fig, stem)
        plt.close(fig)
    return files


def budget_table(budgets: dict[str, pd.DataFrame], arms) -> Table:
    comps = [c for c in BUDGET_COMPONENTS if any(c in b for b in budgets.values())]
    extra = sorted({c for b in budgets.values() for c in b.columns} - set(BUDGET_COMPONENTS))
    comps += extra
    rows, rules = [], []
    for arm, D, s in arms:
        b = budgets.get(arm)
        if b is None or b.empty:
            continue
        for n, r in b.iterrows():
            rows.append([str(D), f"{s:g}", str(int(n)), *[fmt(r.get(c, math.nan)) for c in comps]])
        rules.append(len(rows) - 1)
    return Table(
        columns=["D", "s", "n", *comps],
        tex_columns=["$D$", "$s$", "$n$", *[latex_escape(c) for c in comps]],
        cells=rows,
        align="rrr" + "r" * len(comps),
        rules_after=rules[:-1],
    )


# -- the exponent figure --------------------------------------------------------------------
def plot_exponents(fits: list[RateFit], df: pd.DataFrame, stem: Path) -> list[Path]:
    """Measured TV exponent with 95% CI against s, one panel per D, with s/(2s+D)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = {a: (D, s) for a, D, s in _arms(df)}
    roles = df.groupby("estimator")["role"].first().to_dict() if "role" in df else {}
    tv = [f for f in fits if f.metric == "tv" and roles.get(f.estimator) != "trivial"]
    dims = sorted({arms[f.arm][0] for f in tv})
    if not dims:
        return []
    ests = _order(f.estimator for f in tv)
    s_all = np.array([arms[f.arm][1] for f in tv])
    step = 0.06 * max(float(np.ptp(s_all)), 0.5) / max(len(ests), 1)
    with plt.rc_context({"font.size": 7, "legend.fontsize": 5.5, "lines.linewidth": 1.0}):
        fig, axes = plt.subplots(
            1,
            len(dims),
            figsize=(COLUMN_WIDTH_IN * (1 if len(dims) == 1 else 2), 2.5),
            layout="constrained",
            squeeze=False,
            sharey=True,
        )
        for ax, D in zip(axes[0], dims, strict=True):
            grid = np.linspace(max(0.05, s_all.min() - 0.25), s_all.max() + 0.25, 200)
            ax.plot(grid, tv_exponent(grid, D), color="k", lw=1.0, label="theory s/(2s+D)")
            for j, est in enumerate(ests):
                flagged = [
                    f for f in tv
                    if f.estimator == est and arms[f.arm][0] == D and not f.measured
                    and math.isfinite(f.flagged_exponent)
                ]  # fmt: skip
                if flagged:  # indicative only: those TV values are lower bounds
                    x = (
                        np.array([arms[f.arm][1] for f in flagged])
                        + (j - (len(ests) - 1) / 2) * step
                    )
                    y = np.array([f.flagged_exponent for f in flagged])
                    err = np.array([[f.flagged_exponent - f.flagged_ci_low for f in flagged],
                                    [f.flagged_ci_high - f.flagged_exponent for f in flagged]])  # fmt: skip
                    ax.errorbar(x, y, yerr=err, fmt="o", ms=3, capsize=1.5, color=f"C{j}",
                                mfc="white", ls="none",
                                label=f"{est} (flagged rows kept)")  # fmt: skip
                sel = [f for f in tv if f.estimator == est and arms[f.arm][0] == D and f.measured]
                if not sel:
                    continue
                x = np.array([arms[f.arm][1] for f in sel]) + (j - (len(ests) - 1) / 2) * step
                y = np.array([f.exponent for f in sel])
                err = np.array([[f.exponent - f.ci_low for f in sel],
                                [f.ci_high - f.exponent for f in sel]])  # fmt: skip
                ax.errorbar(x, y, yerr=err, fmt="o", ms=3, capsize=1.5, color=f"C{j}", label=est)
            ax.axhline(0, color="0.6", lw=0.5)
            ax.set_title(f"D = {D}", fontsize=7)
            ax.set_xlabel("smoothness s")
        axes[0][0].set_ylabel("TV exponent a (error ≍ n^-a), 95% CI")
        handles, labels = axes[0][0].get_legend_handles_labels()
        for ax in axes[0][1:]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        axes[0][-1].legend(handles, labels, loc="best", frameon=False)
        files = _save_figure(fig, stem)
        plt.close(fig)
    return files


# -- macros ---------------------------------------------------------------------------------
def _verdict_kind(f: RateFit) -> str:
    v = f.verdict
    if v.startswith(("consistent", "equivalent")):  # equivalence by TOST (verdicts.py)
        return "Consistent"
    if v == "steeper":
        return "Steeper"
    if v == "flatter":
        return "Flatter"
    if v.startswith(("inconclusive", "not resolved")):
        return "Inconclusive"
    return "Unmeasured"


def make_macros(
    df: pd.DataFrame,
    fits: list[RateFit],
    budgets: dict[str, pd.DataFrame],
    study: dict,
    measured: dict | None = None,
) -> dict[str, str]:
    """Every number the text quotes, by name. Summary macros (always defined, ``---`` when the
    table lacks them) and one set per (estimator, D, s) fit."""
    m: dict[str, str] = {}
    arms = _arms(df)
    tv_fits = [f for f in fits if f.metric == "tv"]
    ok = df[df["status"] == "ok"]
    cells = df.drop_duplicates(subset=["arm", "n", "replicate", "estimator"])
    m["StudyName"] = latex_escape(str(df["study"].iloc[0]))
    m["NumArms"] = str(len(arms))
    m["NumCells"] = str(len(cells))
    m["NumFailedCells"] = str(int((cells["status"] != "ok").sum()))
    m["NumEstimators"] = str(df["estimator"].nunique())
    m["Dims"] = ", ".join(str(d) for d in sorted(df["D"].unique()))
    m["NMin"] = str(int(df["n"].min()))
    m["NMax"] = str(int(df["n"].max()))
    m["NumSizes"] = str(df["n"].nunique())
    m["NDecades"] = f"{math.log10(df['n'].max() / df['n'].min()):.1f}"
    m["Replicates"] = str(int(df.groupby(["arm", "n", "estimator"])["replicate"].nunique().min()))
    sampled = ok[(ok["metric"] == "tv") & ok["floor"].notna()]
    m["SamplesM"] = str(int(sampled["m"].max())) if len(sampled) else "---"
    tp = _params(df.drop_duplicates("arm"), "target_params")
    for key, name in (("tv_to_uniform", "TvUniform"), ("smoothness_l1", "SmoothnessLOne")):
        v = tp[key].astype(float) if key in tp else pd.Series(dtype=float)
        m[f"{name}Min"] = fmt(v.min() if len(v) else math.nan, 2)
        m[f"{name}Max"] = fmt(v.max() if len(v) else math.nan, 2)
    s_of = {a: s for a, _, s in arms}
    devs = [
        abs(v - s_of[a]) for a, pair in (measured or {}).items() for v in pair if math.isfinite(v)
    ]
    m["SmoothnessMaxDeviation"] = fmt(max(devs) if devs else math.nan, 2, fixed=True)
    # per estimator: counts of verdicts and the mean departure from theory
    for est in _order([*ESTIMATOR_ORDER, *df["estimator"].unique()]):
        key = macro_name(est)
        fs = [f for f in tv_fits if f.estimator == est]
        meas = [f for f in fs if f.measured]
        m[f"{key}Fits"] = str(len(fs))
        m[f"{key}Measured"] = str(len(meas))
        for kind in ("Consistent", "Steeper", "Flatter", "Inconclusive", "Unmeasured"):
            m[f"{key}{kind}"] = str(sum(_verdict_kind(f) == kind for f in fs))
        dev = [f.exponent - f.theory for f in meas]
        ratio = [f.exponent / f.theory for f in meas if f.theory > 0]
        m[f"{key}MeanDeviation"] = fmt(float(np.mean(dev)) if dev else math.nan, fixed=True)
        m[f"{key}MeanRatio"] = fmt(float(np.mean(ratio)) if ratio else math.nan, 2)
        m[f"{key}MinRatio"] = fmt(float(np.min(ratio)) if ratio else math.nan, 2)
        m[f"{key}MaxRatio"] = fmt(float(np.max(ratio)) if ratio else math.nan, 2)
    # one set per fit: \ExpDdpmDOneSOne, \ExpLoDdpmDOneSOne, ...
    arm_ds = {a: (D, s) for a, D, s in arms}
    for f in tv_fits:
        D, s = arm_ds[f.arm]
        tag = macro_name(f.estimator, "D", D, "S", float(s))
        m[f"Exp{tag}"] = fmt(f.exponent, fixed=True)
        m[f"ExpLo{tag}"] = fmt(f.ci_low, fixed=True)
        m[f"ExpHi{tag}"] = fmt(f.ci_high, fixed=True)
        m[f"Pval{tag}"] = fmt_p(f.p_value)
        if math.isfinite(f.flagged_exponent):  # the fit keeping rising/unresolved rows
            m[f"FlagExp{tag}"] = fmt(f.flagged_exponent, fixed=True)
            m[f"FlagExpLo{tag}"] = fmt(f.flagged_ci_low, fixed=True)
            m[f"FlagExpHi{tag}"] = fmt(f.flagged_ci_high, fixed=True)
        m[f"Theory{macro_name('D', D, 'S', float(s))}"] = fmt(f.theory)
    for f in (f for f in fits if f.metric == "score"):
        D, s = arm_ds[f.arm]
        tag = macro_name(f.estimator, "D", D, "S", float(s))
        m[f"ScoreExp{tag}"] = fmt(f.exponent, fixed=True)
        m[f"ScoreExpLo{tag}"] = fmt(f.ci_low, fixed=True)
        m[f"ScoreExpHi{tag}"] = fmt(f.ci_high, fixed=True)
    for f in (f for f in fits if f.metric == "score"):
        D, s = arm_ds[f.arm]
        m[f"ScoreTheory{macro_name('D', D, 'S', float(s))}"] = fmt(f.theory)
    # per arm: the DDPM's mean TV and a few hyperparameters at the smallest and largest n
    for arm, D, s in arms:
        tag = macro_name("D", D, "S", float(s))
        sel = ok[
            (ok["arm"] == arm) & (ok["estimator"] == BUDGET_ESTIMATOR) & (ok["metric"] == "tv")
        ]
        if sel.empty:
            continue
        for est in ("ddpm", "kde"):
            e = ok[(ok["arm"] == arm) & (ok["estimator"] == est) & (ok["metric"] == "tv")]
            if len(e):
                mean = e.groupby("n")["value"].mean()
                m[f"Tv{macro_name(est)}{tag}First"] = fmt(mean.iloc[0])
                m[f"Tv{macro_name(est)}{tag}Last"] = fmt(mean.iloc[-1])
        params = _params(sel, "estimator_params")
        for key, name in (("sample_steps", "SampleSteps"), ("T", "GridT"), ("t_min", "TMin")):
            if key in params:
                med = params[key].astype(float).groupby(sel["n"]).median()
                lo, hi = med.iloc[0], med.iloc[-1]
                as_int = key != "t_min"
                m[f"{name}{tag}First"] = str(int(lo)) if as_int else fmt(lo)
                m[f"{name}{tag}Last"] = str(int(hi)) if as_int else fmt(hi)
    score = [f for f in fits if f.metric == "score" and f.estimator == BUDGET_ESTIMATOR]
    meas = [f for f in score if f.measured]
    m["ScoreFits"] = str(len(score))
    m["ScoreConsistent"] = str(sum(_verdict_kind(f) == "Consistent" for f in score))
    m["ScoreFlatter"] = str(sum(_verdict_kind(f) == "Flatter" for f in score))
    m["ScoreSteeper"] = str(sum(_verdict_kind(f) == "Steeper" for f in score))
    m["ScoreMeanRatio"] = fmt(
        float(np.mean([f.exponent / f.theory for f in meas])) if meas else math.nan, 2
    )
    # the budget at the largest n
    tops = {a: largest_component(b) for a, b in budgets.items() if not b.empty}
    names = [t[0] for t in tops.values() if t[0] != "---"]
    if names:
        top = max(set(names), key=names.count)
        m["BudgetTopComponent"] = latex_escape(top)
        m["BudgetTopCount"] = str(names.count(top))
    else:
        m["BudgetTopComponent"], m["BudgetTopCount"] = "---", "0"
    m["BudgetArms"] = str(len(tops))
    for arm, D, s in arms:  # the sampler's own TV (oracle score, same sampler) per arm
        b = budgets.get(arm)
        if b is not None and "oracle-score sampler TV" in b:
            col = b["oracle-score sampler TV"].dropna()
            if len(col):
                tag = macro_name("D", D, "S", float(s))
                m[f"OracleTv{tag}First"], m[f"OracleTv{tag}Last"] = (
                    fmt(col.iloc[0]),
                    fmt(col.iloc[-1]),
                )
                m[f"OracleTv{tag}NFirst"] = str(int(col.index[0]))
                m[f"OracleTv{tag}NLast"] = str(int(col.index[-1]))
                total = b["total TV"].reindex(col.index)
                m[f"OracleTvShare{tag}Last"] = fmt(col.iloc[-1] / total.iloc[-1], 2)
    outside = [b["outside mass"].iloc[-1] for b in budgets.values() if "outside mass" in b]
    m["OutsideMassMax"] = fmt(max(outside) if outside else math.nan)
    ratios = [
        float(b["TV floor"].iloc[-1] / b["total TV"].iloc[-1])
        for b in budgets.values()
        if "TV floor" in b and "total TV" in b and b["total TV"].iloc[-1] > 0
    ]
    m["FloorRatioMax"] = fmt(max(ratios) if ratios else math.nan, 2)
    m["BudgetAbsent"] = latex_escape(", ".join(_absent(budgets)) or "none")
    return m


def _absent(budgets: dict[str, pd.DataFrame]) -> list[str]:
    held = {c for b in budgets.values() for c in b.columns}
    return [c for c in BUDGET_COMPONENTS if c not in held]


def macros_tex(macros: dict[str, str]) -> str:
    lines = ["% generated by `python -m minimax.study paper`: do not edit"]
    for name, value in macros.items():
        if not re.fullmatch(r"[A-Za-z]+", name):
            raise AssertionError(f"macro name {name!r} is not letters only")
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")
    return "\n".join(lines) + "\n"


# -- figure environments --------------------------------------------------------------------
def _figure_env(path: str, caption: str, label: str, wide: bool = False) -> str:
    env = "figure*" if wide else "figure"
    width = "\\textwidth" if wide else "\\columnwidth"
    return (
        f"\\begin{{{env}}}[t]\n\\centering\n\\includegraphics[width={width}]{{{path}}}\n"
        f"\\caption{{{caption}}}\n\\label{{{label}}}\n\\end{{{env}}}\n"
    )


# -- the command ----------------------------------------------------------------------------
def build_paper(results_dir, out="paper", figures: bool = True) -> Paper:
    """Write the paper's figures, tables and macros from a stored results folder alone."""
    results_dir, out = Path(results_dir), Path(out)
    df = store.read_table(results_dir)
    study_path = results_dir / "study.json"
    study = json.loads(study_path.read_text()) if study_path.is_file() else {}
    figdir, tabdir = out / "figures", out / "tables"
    files: list[Path] = []
    arms = _arms(df)

    fits: list[RateFit] = []
    rate_envs = []
    for arm, D, s in arms:
        adf = df[df["arm"] == arm]
        for metric in RATE_METRICS:
            if not (adf["metric"] == metric).any():
                continue
            mf = fit_rates(adf, metric)
            fits.extend(mf)
            if not figures:
                continue
            name = f"rate_{slug(arm)}_{metric}"
            drawn = plot_rates(mf, adf[adf["metric"] == metric], metric, arm, figdir / name)
            files += drawn
            if drawn and metric == "tv":
                rate_envs.append(
                    _figure_env(
                        f"figures/{name}.pdf",
                        f"TV against $n$ for {latex_escape(arm)} ($D={D}$, $s={s:g}$): "
                        "replicates (dots), means $\\pm$ se, OLS fit with its 95\\% band, "
                        "the theory slope $s/(2s+D)$ through the data (dotted) and the TV "
                        "estimate's noise floor (dashed).",
                        f"fig:rate:{slug(arm)}",
                    )
                )

    budgets = {arm: budget_frame(df, arm) for arm, _, _ in arms}
    budgets = {a: b for a, b in budgets.items() if not b.empty}
    absent = _absent(budgets)
    budget_envs = []
    if figures:
        ex = plot_exponents(fits, df, figdir / "exponents")
        files += ex
        exp_env = (
            _figure_env(
                "figures/exponents.pdf",
                "The headline picture: measured TV exponent $a$ (error $\\asymp n^{-a}$, OLS "
                "on log--log with CRV3 cluster-robust 95\\% CI) against the smoothness $s$, "
                "per dimension $D$ and estimator, beside the minimax exponent $s/(2s+D)$ "
                "(solid). Open markers: fits whose rows were all flagged rising or "
                "unresolved by the TV estimator, kept anyway (their TV values are lower bounds, "
                "so the exponent is indicative only); fits not measurable for other reasons "
                "(floors, failures) are absent; the trivial baselines are left out (their exponent is 0 by "
                "construction). See Table~\\ref{tab:exponents}.",
                "fig:exponents",
                wide=True,
            )
            if ex
            else "% no exponent could be measured\n"
        )
        for arm, _, _ in arms:
            if arm not in budgets:
                continue
            name = f"budget_{slug(arm)}"
            drawn = plot_budget(budgets[arm], arm, figdir / name)
            files += drawn
            b = budgets[arm]
            zero = [c for c in b.columns if not (b[c].astype(float).abs() > 0).any()]
            held = ", ".join(latex_escape(c) for c in b.columns if c not in zero)
            if zero:
                held += " (" + ", ".join(latex_escape(c) for c in zero) + ": 0 at every $n$, "
                held += "not drawn on log axes)"
            miss = ", ".join(latex_escape(c) for c in BUDGET_COMPONENTS if c not in budgets[arm])
            top, val = largest_component(budgets[arm])
            budget_envs.append(
                _figure_env(
                    f"figures/{name}.pdf",
                    f"Error budget of the DDPM for {latex_escape(arm)}: means over replicates "
                    f"at each $n$ of {held}. TV, floor and outside mass are on the TV scale; the "
                    "score error (its own exponent is $2s/(2s+D)$) and the held-out minus "
                    "training loss (open markers: negative) are in their own units. "
                    + (f"Absent from this results table: {miss}. " if miss else "")
                    + (
                        f"Largest TV-scale component at the largest $n$: "
                        f"{latex_escape(top)} ({fmt(val)})."
                        if top != "---"
                        else ""
                    ),
                    f"fig:budget:{slug(arm)}",
                )
            )
        files.append(_write_text(figdir / "exponents.tex", exp_env))
        files.append(_write_text(figdir / "rates.tex", "".join(rate_envs) or "% none\n"))
        files.append(_write_text(figdir / "budget.tex", "".join(budget_envs) or "% none\n"))

    measured = measured_smoothness_by_arm(df)
    tables = {
        "exponents": exponent_table(fits, df),
        "score_exponents": exponent_table(fits, df, "score")
        if any(f.metric == "score" for f in fits)
        else None,
        "targets": target_table(df, measured),
        "budget": budget_table(budgets, arms) if budgets else None,
        "hyperparameters": hyperparameter_table(df),
    }
    for name, table in tables.items():
        if table is None or not table.cells:
            tex = f"% no rows: the results table holds nothing for the {name} table\n"
            md = f"(no rows: the results table holds nothing for the {name} table)\n"
        else:
            tex, md = table.latex(), table.markdown()
        files.append(_write_text(tabdir / f"{name}.tex", tex))
        files.append(_write_text(tabdir / f"{name}.md", md))

    macros = make_macros(df, fits, budgets, study, measured)
    files.append(_write_text(out / "macros.tex", macros_tex(macros)))
    return Paper(fits=fits, macros=macros, files=files, absent_budget=absent)
