"""Error bars of correlated time series (Monte Carlo samples).

* :func:`autocorrelation_time` — integrated autocorrelation time τ_int = ½ + Σ_{t≥1} ρ(t) with
  Sokal's automatic window (stop at the first W ≥ c τ_int(W), c = 5);
  the error of the mean is σ √(2 τ_int / n).
* :func:`blocking_error` — Flyvbjerg–Petersen blocking: the standard error of block means, taken
  at the plateau (largest block size that still leaves ≥ 32 blocks).

References: A. D. Sokal, *Monte Carlo Methods in Statistical Mechanics* (1997); H. Flyvbjerg and
H. G. Petersen, J. Chem. Phys. 91, 461 (1989).
"""

from __future__ import annotations

import numpy as np


def autocorrelation_time(x, c=5.0):
    """Integrated autocorrelation time (in samples) of the series ``x`` (n,), ≥ 0.5."""
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"need at least 4 samples for an autocorrelation time, got {n}")
    d = x - x.mean()
    var = d @ d / n
    if var == 0:
        return 0.5
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(d, size)
    acf = np.fft.irfft(f * np.conj(f), size)[:n] / (n * var)
    tau = 0.5
    for w in range(1, n):
        tau += acf[w]
        if w >= c * tau:
            break
    return max(tau, 0.5)


def mean_and_error(x):
    """(mean, standard error) of a correlated series: σ √(2 τ_int / n)."""
    x = np.asarray(x, dtype=float)
    tau = autocorrelation_time(x)
    return float(x.mean()), float(x.std(ddof=1) * np.sqrt(2 * tau / x.shape[0]))


def blocking_error(x, min_blocks=32):
    """Standard error of the mean of ``x`` from block averages (Flyvbjerg–Petersen).

    Blocks are doubled until fewer than ``min_blocks`` would remain; the largest error seen is
    returned (the plateau value for a converged series, conservative otherwise).
    """
    x = np.asarray(x, dtype=float)
    if x.shape[0] < 2 * min_blocks:
        raise ValueError(f"blocking needs at least {2 * min_blocks} samples, got {x.shape[0]}")
    best = x.std(ddof=1) / np.sqrt(x.shape[0])
    while x.shape[0] // 2 >= min_blocks:
        x = 0.5 * (x[: x.shape[0] // 2 * 2 : 2] + x[1: x.shape[0] // 2 * 2 : 2])
        best = max(best, x.std(ddof=1) / np.sqrt(x.shape[0]))
    return float(best)
