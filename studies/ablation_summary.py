"""Summary of the GAN and VAE recipe ablations (studies/ablation_gan_*.toml, ablation_vae_*.toml).

    python studies/ablation_summary.py gan|gan_d2|vae|vae_d2 [--results results/ablations] [--out FILE]

Per arm: the model's mean TV at each n (and how many of its rows failed), its fitted exponent
with the 95% CI of the study's fit, and the KDE's mean TV on the same training sets. Arms are
separate studies, so their training sets differ (a cell's data seed includes the study's name):
differences between arms carry training-set noise, whose size the KDE column shows. The
model-to-KDE ratio at each n is paired within an arm (same training sets) and is the comparison
between arms that this noise affects least.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _this_tree  # noqa: F401  (first: this checkout's package, not the editable install's)
import pandas as pd

from minimax.study import store

#: the arms of each family, the reference arm first
FAMILIES = {
    "gan": ("gan", ["gan_base", "gan_fourier0.5", "gan_fourier0", "gan_noskip", "gan_lr3e-4",
                    "gan_steps4", "gan_steps16"]),
    "gan_d2": ("gan", ["gan_d2_base", "gan_d2_steps4"]),
    "vae": ("vae", ["vae_base", "vae_steps4", "vae_latent4", "vae_draws32", "vae_lr1e-3",
                    "vae_lr1e-3_steps4", "vae_lr2e-3_steps4", "vae_lrsel_steps4"]),
    "vae_d2": ("vae", ["vae_d2_base", "vae_d2_latent1", "vae_d2_lr1e-3", "vae_d2_lr2e-3",
                       "vae_d2_lrsel"]),
}  # fmt: skip


def arm_rows(folder: Path, model: str) -> dict | None:
    """The summary numbers of one arm's results folder (None when it has not run)."""
    if not (folder / "results.parquet").is_file():
        return None
    df = store.read_table(folder)
    tv = df[df["metric"] == "tv"]
    out = {"arm": folder.name, "n": sorted(tv["n"].unique())}
    for est in (model, "kde"):
        rows = tv[tv["estimator"] == est]
        ok = rows[rows["status"] == "ok"]
        out[est] = {int(n): g["value"].mean() for n, g in ok.groupby("n")}
        out[f"{est}_failed"] = int((rows["status"] != "ok").sum())
        out[f"{est}_rows"] = len(rows)
    fits = pd.read_csv(folder / "fits.csv")
    fit = fits[(fits["estimator"] == model) & (fits["metric"] == "tv")]
    out["fit"] = None
    if not fit.empty:
        row = fit.iloc[0]
        if pd.notna(row["exponent"]):
            out["fit"] = (row["exponent"], row["ci_low"], row["ci_high"], "")
        elif pd.notna(row.get("flagged_exponent")):  # every row flagged: the indicative fit
            out["fit"] = (row["flagged_exponent"], row["flagged_ci_low"], row["flagged_ci_high"],
                          " (flagged rows kept: indicative)")  # fmt: skip
    return out


def table(family: str, results: Path) -> str:
    model, arms = FAMILIES[family]
    rows = [r for r in (arm_rows(results / a, model) for a in arms) if r is not None]
    if not rows:
        return f"no arm of {family!r} has run under {results}\n"
    sizes = sorted({n for r in rows for n in r["n"]})
    head = [f"# {family} recipe ablations (studies/ablation_summary.py {family})", "",
            f"Mean TV of the {model} at each n (rows that failed count in 'failed', not in the "
            "mean), its exponent with the 95% CI of the study's fit, and the ratio of its TV to "
            "the KDE's on the same training sets (paired within the arm).", "",
            "| arm | " + " | ".join(f"n = {n}" for n in sizes)
            + " | exponent [95% CI] | failed | KDE at n = "
            + f"{sizes[-1]} | {model}/KDE at n = {sizes[-1]} |",
            "|---|" + "---|" * (len(sizes) + 4)]  # fmt: skip
    for r in rows:
        cells = [f"{r[model][n]:.4f}" if n in r[model] else "—" for n in sizes]
        f = r["fit"]
        fit = "—" if f is None else f"{f[0]:.3f} [{f[1]:.3f}, {f[2]:.3f}]{f[3]}"
        last = sizes[-1]
        kde = r["kde"].get(last)
        ratio = (r[model][last] / kde) if (kde and last in r[model]) else float("nan")
        head.append(f"| {r['arm']} | " + " | ".join(cells)
                    + f" | {fit} | {r[f'{model}_failed']} of {r[f'{model}_rows']} | "
                    + ("—" if kde is None else f"{kde:.4f}") + f" | {ratio:.2f} |")  # fmt: skip
    return "\n".join(head) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("family", choices=sorted(FAMILIES))
    ap.add_argument("--results", type=Path, default=Path("results/ablations"))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    text = table(a.family, a.results)
    out = a.out or a.results / f"{a.family}_summary.md"
    out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
