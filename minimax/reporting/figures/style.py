"""One figure style for ``report`` and ``paper``: colours, markers, titles, legends, files.

Every estimator has a fixed colour and marker (``ESTIMATOR_STYLES``; an estimator not listed
gets a deterministic one from a hash of its name, never from its position in a plot), so the
KDE looks the same in every figure. Points left out of a fit are drawn hollow, and the legend
says why (:func:`exclusion_label`). Titles are human (:func:`target_title`: "Besov, D = 2,
s = 1.5, jump at the boundary"), legends sit below the axes (:func:`legend_below`), and files
are written atomically as PNG (300 dpi) and PDF (:func:`save_figure`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

#: one column of a two-column paper (inches); TEXT_WIDTH_IN: both columns
COLUMN_WIDTH_IN = 3.4
TEXT_WIDTH_IN = 6.9

#: matplotlib rc of every figure: sized for print at one column
FIGURE_STYLE = {
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "legend.fontsize": 6,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "pdf.fonttype": 42,
}

METRIC_LABELS = {
    "tv": "TV(q̂, q)",
    "tv_sampled": "TV(q̂, q) from samples",
    "w1": "W1(q̂, q)",
    "score": "score error (σ²-weighted)",
    "score_integral": "score error (time integral)",
    "outside_mass": "mass outside the box",
    "oracle_tv": "TV of the oracle-score sampler",
}
THEORY_LABELS = {"tv": "s/(2s+D)", "tv_sampled": "s/(2s+D)", "w1": "min((s+1)/(2s+D), 1/2)",
                 "score": "2s/(2s+D)", "score_integral": "2s/(2s+D)"}  # fmt: skip


@dataclass(frozen=True)
class Style:
    color: str
    marker: str
    label: str


#: the fixed style of each known estimator (Okabe-Ito and Tol colours: distinguishable in
#: print and by colour-blind readers; markers all fillable, so hollow means "left out")
ESTIMATOR_STYLES = {
    "ddpm": Style("#0072B2", "o", "DDPM"),
    "kde": Style("#D55E00", "s", "KDE (positive control)"),
    "kde-oracle": Style("#882255", "d", "KDE, oracle bandwidth"),
    "empirical-score": Style("#CC79A7", "D", "empirical score"),
    "oracle-score": Style("#009E73", "^", "oracle score"),
    "ddpm-fixed-tmin": Style("#56B4E9", "v", "DDPM, frozen T̲ (negative control)"),
    "uniform": Style("#999999", "p", "uniform"),
    "gaussian": Style("#555555", "h", "Gaussian"),
    "gan": Style("#E69F00", "<", "GAN"),
    "vae": Style("#8C564B", ">", "VAE"),
    "wavelet": Style("#332288", "*", "wavelet thresholding"),
}
_FALLBACK_COLORS = ("#117733", "#AA4499", "#44AA99", "#999933", "#661100", "#6699CC", "#AA4466")
_FALLBACK_MARKERS = ("P", "X", "8", "H", "d", "s", "o")


def estimator_style(name: str) -> Style:
    """The colour, marker and legend name of an estimator: fixed for the known ones, a
    deterministic pick (SHA-256 of the name) for any other."""
    if name in ESTIMATOR_STYLES:
        return ESTIMATOR_STYLES[name]
    h = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return Style(
        _FALLBACK_COLORS[h % len(_FALLBACK_COLORS)],
        _FALLBACK_MARKERS[(h // 7) % len(_FALLBACK_MARKERS)],
        name,
    )


_KINDS = {"besov": "Besov", "sparse-multiscale": "sparse multiscale", "gmm": "Gaussian mixture"}
_BOUNDARIES = {"band": "jump at the boundary", "smooth": "vanishing smoothly at the boundary"}


def target_title(kind: str, D: int, s: float | None = None, p: float | None = None,
                 boundary: str | None = None) -> str:  # fmt: skip
    """A human title: ``("besov", 2, 1.5, 2, "band")`` -> "Besov, D = 2, s = 1.5, jump at the
    boundary" (p is named only when it is not 2, the default)."""
    name = _KINDS.get(str(kind), str(kind))
    parts = [name[:1].upper() + name[1:], f"D = {int(D)}"]
    if s is not None and math.isfinite(float(s)):
        parts.append(f"s = {float(s):g}")
    if p is not None and math.isfinite(float(p)) and float(p) != 2.0:
        parts.append(f"p = {float(p):g}")
    if boundary:
        parts.append(_BOUNDARIES.get(str(boundary), f"{boundary} boundary"))
    return ", ".join(parts)


def frame_title(df, fallback: str = "") -> str:
    """:func:`target_title` of the first row of a results table (``fallback`` when the table
    lacks the target columns)."""
    cols = ("target", "D", "s", "p", "boundary")
    if df is None or not len(df) or not all(c in df.columns for c in cols):
        return fallback
    r = df.iloc[0]
    return target_title(r["target"], r["D"], r["s"], r["p"], r["boundary"])


#: what a row's exclusion reason (rate_rows.row_reasons, fit_rate) means, in a legend
_REASONS = {
    "flag rising": "flagged rising: a lower bound",
    "flag unresolved": "flagged unresolved",
    "value not finite": "no finite value",
}


def exclusion_label(reason: str) -> str:
    """The legend text of a point left out of a fit, from its reason in ``RateFit.excluded``
    (``"below 2×floor"``, ``"flag rising"``, a failure status, ...)."""
    if reason in _REASONS:
        return _REASONS[reason]
    if reason.startswith("below"):  # "below 2×floor": the point measures the TV's floor
        return reason.replace("×floor", "× its noise floor")
    if reason.startswith("not fitted"):
        return reason
    return f"failed ({reason})"


def legend_below(fig, handles, labels, ncol: int | None = None, rows: int = 0) -> None:
    """A figure legend under the axes, off the data (constrained layout makes room). ``rows``:
    pad it with blank entries to at least this many rows, so that the figures of one grid
    keep axes of one size."""
    if not handles:
        return
    ncol = ncol or (1 if max(len(lab) for lab in labels) > 34 else 2)
    handles, labels = list(handles), list(labels)
    if rows * ncol > len(handles):
        from matplotlib.lines import Line2D

        pad = rows * ncol - len(handles)
        handles += [Line2D([], [], ls="", marker="")] * pad
        labels += [" "] * pad
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False,
               handlelength=1.8, columnspacing=1.2, borderaxespad=0.2)  # fmt: skip


def legend_height(labels, ncol: int, row_in: float = 0.13) -> float:
    """Inches a legend of ``labels`` in ``ncol`` columns needs below the axes."""
    rows = math.ceil(len(labels) / max(ncol, 1))
    return 0.1 + row_in * rows


def n_axis(ax, sizes, label: str = "n (training samples)") -> None:
    """Log x axis labelled at the design's sizes of n (up to 10 of them)."""
    ax.set_xscale("log")
    if 0 < len(sizes) <= 10:
        from matplotlib.ticker import FixedLocator, NullFormatter

        ax.xaxis.set_major_locator(FixedLocator(sorted(sizes)))
        ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:g}")
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(label)


def save_figure(fig, stem: Path) -> list[Path]:
    """``stem.png`` (300 dpi) and ``stem.pdf``, each written to a temporary file then renamed.
    The stem may hold dots (s=1.5): the suffix is appended, never substituted."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    files = [stem.parent / f"{stem.name}.{ext}" for ext in ("png", "pdf")]
    for path in files:
        tmp = path.with_name(f".tmp-{path.name}")
        # no creation date in the PDF: a regenerated figure of the same data is the same file
        meta = {"CreationDate": None} if path.suffix == ".pdf" else {}
        fig.savefig(tmp, dpi=300, format=path.suffix[1:], metadata=meta)
        tmp.replace(path)
    return files
