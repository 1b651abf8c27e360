"""numba kernels of the core: pure array functions, no state, no Python objects.

Only the neighbour-list cell-list search lives here; drivers and potentials keep their own
kernel modules.
"""

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _bin_index(s, n):
    """Bin of fractional coordinate ``s`` (already shifted to start at 0) among ``n`` bins."""
    b = int(np.floor(s * n))
    if b < 0:
        return 0
    if b >= n:
        return n - 1
    return b


@nb.njit(cache=True)
def assign_bins(frac, n_bins):
    """Flat bin index of each point. frac: (N, 3) in [0, 1]; n_bins: (3,) int. Returns (N,)."""
    out = np.empty(frac.shape[0], dtype=np.int64)
    for a in range(frac.shape[0]):
        bx = _bin_index(frac[a, 0], n_bins[0])
        by = _bin_index(frac[a, 1], n_bins[1])
        bz = _bin_index(frac[a, 2], n_bins[2])
        out[a] = (bx * n_bins[1] + by) * n_bins[2] + bz
    return out


@nb.njit(cache=True, parallel=True)
def cell_list_pairs(positions, cell, bins, order, bin_start, n_bins, reach, periodic,
                    cutoff, self_interaction):
    """All pairs (i, j, T) with |r_j + T·cell − r_i| < cutoff, by a cell-list search.

    positions : (N, 3) wrapped Cartesian positions, Å
    cell : (3, 3) lattice vectors as rows
    bins : (N,) flat bin of each atom; order : (N,) atoms sorted by bin;
    bin_start : (n_bins_total + 1,) start of each bin in ``order``
    n_bins, reach : (3,) bins per axis and how many bins away a neighbour can be
    periodic : (3,) bool; cutoff : Å; self_interaction : keep i == j with T = 0

    Returns i (P,), j (P,), T (P, 3) int64 and D (P, 3) float64, grouped by i.
    """
    n = positions.shape[0]
    rc2 = cutoff * cutoff
    counts = np.zeros(n + 1, dtype=np.int64)
    for pass_ in range(2):
        if pass_ == 1:
            total = 0
            for a in range(n):
                c = counts[a]
                counts[a] = total
                total += c
            counts[n] = total
            out_i = np.empty(total, dtype=np.int64)
            out_j = np.empty(total, dtype=np.int64)
            out_t = np.empty((total, 3), dtype=np.int64)
            out_d = np.empty((total, 3), dtype=np.float64)
        else:
            out_i = np.empty(0, dtype=np.int64)
            out_j = np.empty(0, dtype=np.int64)
            out_t = np.empty((0, 3), dtype=np.int64)
            out_d = np.empty((0, 3), dtype=np.float64)
        for i in nb.prange(n):
            b = bins[i]
            bz0 = b % n_bins[2]
            by0 = (b // n_bins[2]) % n_bins[1]
            bx0 = b // (n_bins[1] * n_bins[2])
            k = counts[i] if pass_ == 1 else 0
            for dx in range(-reach[0], reach[0] + 1):
                gx = bx0 + dx
                tx = gx // n_bins[0]
                if tx != 0 and not periodic[0]:
                    continue
                for dy in range(-reach[1], reach[1] + 1):
                    gy = by0 + dy
                    ty = gy // n_bins[1]
                    if ty != 0 and not periodic[1]:
                        continue
                    for dz in range(-reach[2], reach[2] + 1):
                        gz = bz0 + dz
                        tz = gz // n_bins[2]
                        if tz != 0 and not periodic[2]:
                            continue
                        nb_bin = ((gx - tx * n_bins[0]) * n_bins[1] + (gy - ty * n_bins[1])) \
                            * n_bins[2] + (gz - tz * n_bins[2])
                        sx = tx * cell[0, 0] + ty * cell[1, 0] + tz * cell[2, 0]
                        sy = tx * cell[0, 1] + ty * cell[1, 1] + tz * cell[2, 1]
                        sz = tx * cell[0, 2] + ty * cell[1, 2] + tz * cell[2, 2]
                        for q in range(bin_start[nb_bin], bin_start[nb_bin + 1]):
                            j = order[q]
                            if j == i and tx == 0 and ty == 0 and tz == 0 and not self_interaction:
                                continue
                            ddx = positions[j, 0] + sx - positions[i, 0]
                            ddy = positions[j, 1] + sy - positions[i, 1]
                            ddz = positions[j, 2] + sz - positions[i, 2]
                            if ddx * ddx + ddy * ddy + ddz * ddz < rc2:
                                if pass_ == 1:
                                    out_i[k] = i
                                    out_j[k] = j
                                    out_t[k, 0] = tx
                                    out_t[k, 1] = ty
                                    out_t[k, 2] = tz
                                    out_d[k, 0] = ddx
                                    out_d[k, 1] = ddy
                                    out_d[k, 2] = ddz
                                k += 1
            if pass_ == 0:
                counts[i] = k
    return out_i, out_j, out_t, out_d
