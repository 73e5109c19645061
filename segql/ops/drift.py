"""Drift between two distributions of one population (LANGUAGE.md §12, `segql
diff`): the population stability index and the Jensen–Shannon distance, over
shares that each add up to 1.

    psi = Σ (after − before) · ln(after / before)      empty shares → 1e-4
    js  = √( ½ KL(before ‖ m) + ½ KL(after ‖ m) ),  m = ½ (before + after), log base 2

PSI is the credit-scoring convention marketers use for segment drift (< 0.1
stable, ≥ 0.1 moderate, ≥ 0.25 major); it is infinite for a share that
appears from nothing, hence the smoothing. JS needs none, is symmetric and,
in base 2, lies in [0, 1] (scipy.spatial.distance.jensenshannon(p, q, base=2)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

SMOOTHING = 1e-4  # LANGUAGE.md §12: empty shares smoothed to 1e-4
MODERATE, MAJOR = 0.1, 0.25


def psi(before: Sequence[float], after: Sequence[float]) -> float:
    total = 0.0
    for b, a in zip(before, after, strict=True):
        b, a = b or SMOOTHING, a or SMOOTHING
        total += (a - b) * math.log(a / b)
    return total


def js_distance(before: Sequence[float], after: Sequence[float]) -> float:
    def kl(p: float, m: float) -> float:
        return p * math.log2(p / m) if p > 0 else 0.0

    divergence = 0.0
    for b, a in zip(before, after, strict=True):
        m = (b + a) / 2
        divergence += (kl(b, m) + kl(a, m)) / 2
    return math.sqrt(max(divergence, 0.0))  # rounding can leave -1e-17


def level(value: float) -> str:
    """PSI in words: stable, moderate or major drift."""
    if value >= MAJOR:
        return "major"
    if value >= MODERATE:
        return "moderate"
    return "stable"


def shares(counts: Sequence[int]) -> list[float]:
    """Counts as fractions of their total (all zero when the total is)."""
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def jaccard(both: int, either: int) -> float | None:
    """|A ∩ B| / |A ∪ B|; None when both are empty (nothing to compare)."""
    return both / either if either else None
