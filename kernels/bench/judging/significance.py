"""The statistics of the regression gate (kernels.bench.judging.compare, whose docstring says why
these): the Mann-Whitney U test of two sample lists, Holm's correction over a family of
tests, the smallest p-value a sample count allows, and the geometric mean of ratios."""

from __future__ import annotations

import math

from scipy.stats import mannwhitneyu

EXACT_UP_TO = 50  # samples a side up to which the U test's exact distribution is used


def mann_whitney(old_samples, new_samples) -> float:
    """Two-sided p-value of the Mann-Whitney U test of two sample lists (1.0 when every
    sample is equal: no evidence of a difference). Exact where there are no ties (SciPy's
    default switches to the normal approximation above 8 samples, which for 15 vs 15
    separated samples gives 3e-6 instead of the exact 1.3e-8), the normal approximation
    with the tie correction otherwise."""
    pooled = [*old_samples, *new_samples]
    exact = len(set(pooled)) == len(pooled) and \
        max(len(old_samples), len(new_samples)) <= EXACT_UP_TO
    p = float(mannwhitneyu(new_samples, old_samples, alternative="two-sided",
                           method="exact" if exact else "asymptotic").pvalue)
    return 1.0 if math.isnan(p) else p


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values, in the given order: the i-th smallest p times
    (m - i + 1), made non-decreasing, at most 1. Reject where adjusted < alpha."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def smallest_p(n_old, n_new) -> float:
    """The smallest two-sided p-value the U test can give with these sample counts (all of
    one side below all of the other, no ties): 2 / C(n_old + n_new, n_old)."""
    return min(1.0, 2 / math.comb(n_old + n_new, n_old))


def geometric_mean(values) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))
