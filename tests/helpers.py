"""Statistical helpers shared by the tests (imported as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def chi2_pvalue(counts, masses, n):
    """Pearson chi-square p-value of n draws against exact cell masses; cells with expected
    count < 5 and the mass outside the grid are pooled into one cell."""
    counts, masses = counts.ravel().astype(float), masses.ravel()
    exp = n * masses
    small = exp < 5
    obs = np.append(counts[~small], counts[small].sum() + n - counts.sum())
    e = np.append(exp[~small], exp[small].sum() + n * (1 - masses.sum()))
    keep = e > 0
    chi2 = ((obs[keep] - e[keep]) ** 2 / e[keep]).sum()
    return stats.chi2.sf(chi2, keep.sum() - 1)
