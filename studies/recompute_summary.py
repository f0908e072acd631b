"""Old beside new: committed studies' sampled-TV exponents before and after the estimator changed.

    python studies/recompute_summary.py [--out results/recompute/summary.md]

Each pair is (the study as first run, the same study file rerun into ``results/recompute``):
same study name and seeds, so the same training sets, fits and sampling streams. The script
first checks that the fits are the same (the DDPM's held-out loss, and every model's selection
record, per cell), so that a changed exponent is the measurement's doing, and then sets side by
side, per arm and estimator scored from samples: the exponent with its 95 % CI and the rows the
fit used (old → new), the rows flagged in the new run by flag, the KDE calibration offset
(sampled − exact exponent, which gates the verdicts) and the verdict. Where a study pools
target seeds (``pooled.csv``), the pooled rows come first, with the offset pooled two-stage over
the seeds as the study's report does it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import numpy as np
import pandas as pd

from minimax.study.calibration import GATING_CONTROL, SAMPLED_METHODS, offset_text
from minimax.study.pooled import two_stage, unit_label

#: (label, the study as first run, the recomputed study)
PAIRS = (
    ("confirm", "results/confirm", "results/recompute/confirm"),
    ("confirm, rescored with the four-quarter check", "results/recompute/confirm",
     "results/recompute/confirm_quarter_check"),
    ("generative_confirm", "results/generative_confirm", "results/recompute/generative_confirm"),
    ("generative_confirm, rescored with the four-quarter check (D = 2: GAN, VAE, KDE at the "
     "rule's M)", "results/recompute/generative_confirm",
     "results/recompute/generative_confirm_rescore"),
    ("generative_confirm, D = 2 DDPM, dpm2m", "results/generative_confirm_dpm2m",
     "results/recompute/generative_confirm_dpm2m"),
    ("generative_confirm, D = 2 DDPM, dpm2m, rescored with the grid guard 0.9",
     "results/recompute/generative_confirm_dpm2m",
     "results/recompute/generative_confirm_dpm2m_guard09"),
    ("generative_confirm, D = 2 GAN, VAE, KDE, rescored with the grid guard 0.9",
     "results/recompute/generative_confirm_rescore",
     "results/recompute/generative_confirm_rescore_d2_guard09"),
    ("budget_d2, rerun at the current code (grid guard 0.9)", "results/budget_d2",
     "results/recompute/budget_d2_guard09"),
    ("adaptivity, rerun at the current code (the same study file)", "results/adaptivity",
     "results/recompute/adaptivity"),
    ("recipe D = 1, s = 1, band", "results/recipe_D1_s1_band",
     "results/recompute/recipe_D1_s1_band"),
    ("recipe D = 2, s = 1.5, smooth", "results/recipe_D2_s1.5_smooth",
     "results/recompute/recipe_D2_s1.5_smooth"),
)  # fmt: skip
#: estimator_params entries that record what a fit selected (equal when the fit is the same)
FIT_KEYS = ("heldout_loss", "best_step", "heldout_elbo", "selected_lr", "kde_bandwidth", "kde_h")
KEY = ["arm", "n", "replicate", "estimator"]


def _load(path: Path) -> dict:
    d = {"rows": pd.read_parquet(path / "results.parquet"), "fits": pd.read_csv(path / "fits.csv")}
    for name in ("pooled", "paired", "pooled_paired"):
        f = path / f"{name}.csv"
        d[name] = pd.read_csv(f) if f.exists() else pd.DataFrame()
    return d


def same_fits(old: pd.DataFrame, new: pd.DataFrame) -> tuple[int, int, float]:
    """(cells compared, cells whose selection record differs, max |Δ held-out loss|) over the
    tv rows present in both tables."""

    def record(df):
        tv = df[(df["metric"] == "tv") & (df["status"] == "ok")].set_index(KEY)
        params = tv["estimator_params"].map(json.loads)
        return params.map(lambda p: {k: p[k] for k in FIT_KEYS if k in p})

    a, b = record(old), record(new)
    both = a.index.intersection(b.index)
    differ = sum(a[i] != b[i] for i in both)
    gaps = [abs(a[i]["heldout_loss"] - b[i]["heldout_loss"]) for i in both
            if "heldout_loss" in a[i] and "heldout_loss" in b[i]]  # fmt: skip
    return len(both), int(differ), float(max(gaps)) if gaps else float("nan")


def _sampled_estimators(rows: pd.DataFrame) -> list[str]:
    tv = rows[(rows["metric"] == "tv") & rows["method"].isin(SAMPLED_METHODS)]
    return list(dict.fromkeys(tv["estimator"]))


def _offsets(paired: pd.DataFrame) -> dict:
    """arm → the gating control's sampled − exact exponent offset, where the table has it."""
    if paired.empty:
        return {}
    sel = paired[
        (paired["metric"] == "tv_sampled") & (paired["first"] == f"{GATING_CONTROL} sampled")
    ]
    return {r.arm: float(r.difference) for r in sel.itertuples() if np.isfinite(r.difference)}


def _flags(rows: pd.DataFrame, arms, estimator: str) -> str:
    tv = rows[(rows["metric"] == "tv") & (rows["estimator"] == estimator) & rows["arm"].isin(arms)]
    counts = tv["flag"].value_counts()
    bad = ", ".join(f"{int(v)} {k}" for k, v in counts.items() if k != "ok")
    return f"{int(counts.get('ok', 0))} of {len(tv)} ok" + (f"; {bad}" if bad else "")


def _exp(r) -> str:
    if r is None or not np.isfinite(r["exponent"]):
        return "not measurable"
    return f"{r['exponent']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def _pooled_offset(offsets: dict, arms) -> str:
    found = [offsets[a] for a in arms if a in offsets]
    if len(found) < 2:
        return f"{len(found)} seed(s) measured"
    st = two_stage(found)
    return f"{offset_text(st['exponent'])} [{st['ci_low']:+.3f}, {st['ci_high']:+.3f}]"


def _vs_kde(pairs: pd.DataFrame, arm: str, est: str) -> str:
    """The paired exponent difference est − KDE with both TVs sampled at est's M."""
    if pairs.empty:
        return ""
    sel = pairs[(pairs["arm"] == arm) & (pairs["metric"] == "tv") & (pairs["first"] == est)
                & (pairs["second"] == f"{GATING_CONTROL} (sampled)")]  # fmt: skip
    if sel.empty:
        return "—"  # a table written before the pair existed
    if not np.isfinite(sel["difference"].iloc[0]):
        return "not measurable"
    r = sel.iloc[0]
    return f"{r['difference']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"


def _offset(offsets: dict, arm: str) -> str:
    return offset_text(offsets[arm]) if arm in offsets else "not measurable"


def _fit_row(frame: pd.DataFrame, arm: str, est: str):
    """The TV fit of ``est`` on ``arm`` (a fits or pooled table), or None."""
    return next((r for _, r in frame.iterrows()
                 if (r["arm"], r["estimator"], r["metric"]) == (arm, est, "tv")), None)  # fmt: skip


def _used(fit) -> str:
    return "" if fit is None else f" ({int(fit['n_rows'])} rows)"


def compare(label: str, old: dict, new: dict) -> list[dict]:
    """The table rows of one study: pooled groups first, then each arm."""
    out = []
    off_old, off_new = _offsets(old["paired"]), _offsets(new["paired"])
    arms = list(dict.fromkeys(new["rows"]["arm"]))
    for est in _sampled_estimators(new["rows"]):
        if not new["pooled"].empty:
            for group in dict.fromkeys(unit_label(a) for a in arms):
                members = [a for a in arms if unit_label(a) == group]
                po, pn = (_fit_row(d["pooled"], group, est) for d in (old, new))
                out.append({"study": label, "arm": f"{group}, pooled over {len(members)} seeds",
                            "estimator": est, "old": _exp(po), "new": _exp(pn),
                            "new rows": _flags(new["rows"], members, est),
                            "KDE offset old → new": f"{_pooled_offset(off_old, members)} → "
                                                    f"{_pooled_offset(off_new, members)}",
                            "new − KDE, both sampled": _vs_kde(new["pooled_paired"], group, est),
                            "new verdict": "" if pn is None else str(pn["verdict"])})  # fmt: skip
        for arm in arms:
            fo, fn = (_fit_row(d["fits"], arm, est) for d in (old, new))
            if fn is None:  # not part of the rerun (a rescoring of some models only)
                continue
            out.append({"study": label, "arm": arm, "estimator": est,
                        "old": _exp(fo) + _used(fo), "new": _exp(fn) + _used(fn),
                        "new rows": _flags(new["rows"], [arm], est),
                        "KDE offset old → new": f"{_offset(off_old, arm)} → {_offset(off_new, arm)}",
                        "new − KDE, both sampled": _vs_kde(new["paired"], arm, est),
                        "new verdict": "" if fn is None else str(fn["verdict"])})  # fmt: skip
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--out", type=Path, default=Path("results/recompute/summary.md"))
    args = ap.parse_args(argv)
    lines = ["# Old beside new: the sampled-TV exponents of committed studies, recomputed",
             "", "(studies/recompute_summary.py; old: the study as first run, new: the same "
             "study file rerun with the current estimator into results/recompute)", ""]  # fmt: skip
    table = []
    for label, old_dir, new_dir in PAIRS:
        if not (Path(new_dir) / "fits.csv").exists():
            lines.append(f"- {label}: {new_dir} not recomputed yet")
            continue
        old, new = _load(Path(old_dir)), _load(Path(new_dir))
        cells, differ, gap = same_fits(old["rows"], new["rows"])
        version = ", ".join(sorted(set(new["rows"]["version"].astype(str))))
        lines.append(f"- {label}: recomputed with code {version}; {cells} fitted cells in both "
                     f"runs, {differ} with a different selection record, max |Δ held-out loss| "
                     f"= {gap:.3g}"
                     + ("" if differ == 0 else ": the fits differ, so this pair is not a "
                        "remeasurement of the same fits"))  # fmt: skip
        table += compare(label, old, new)
    if table:
        from tv_calibration import markdown  # this script's folder is on sys.path

        lines += ["", markdown(pd.DataFrame(table).set_index(["study", "arm"]))]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
