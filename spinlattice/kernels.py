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


@nb.njit(cache=True, inline="always")
def _store(k, i, j, tx, ty, tz, positions, wraps, cell, out_i, out_j, out_t, out_d, out_r):
    """Write pair k: image shift of the original positions and its exact vector."""
    out_i[k] = i
    out_j[k] = j
    s0 = tx - wraps[j, 0] + wraps[i, 0]
    s1 = ty - wraps[j, 1] + wraps[i, 1]
    s2 = tz - wraps[j, 2] + wraps[i, 2]
    out_t[k, 0] = s0
    out_t[k, 1] = s1
    out_t[k, 2] = s2
    r2 = 0.0
    for c in range(3):
        d = positions[j, c] - positions[i, c] + s0 * cell[0, c] + s1 * cell[1, c] + s2 * cell[2, c]
        out_d[k, c] = d
        r2 += d * d
    out_r[k] = np.sqrt(r2)


@nb.njit(cache=True, parallel=True)
def cell_list_pairs(positions, wrapped, wraps, cell, bins, order, bin_start, n_bins, reach,
                    periodic, cutoff, self_interaction):
    """All pairs (i, j, T) with |r_j + T·cell − r_i| < cutoff, by a cell-list search.

    positions : (N, 3) Cartesian positions, Å; wrapped : the same wrapped into the cell,
    wrapped = positions − wraps·cell with wraps (N, 3) int64
    cell : (3, 3) lattice vectors as rows
    bins : (N,) flat bin of each atom; order : (N,) atoms sorted by bin;
    bin_start : (n_bins_total + 1,) start of each bin in ``order``
    n_bins, reach : (3,) bins per axis and how many bins away a neighbour can be
    periodic : (3,) bool; cutoff : Å; self_interaction : keep i == j with T = 0

    Returns i (P,), j (P,), S (P, 3) int64, D (P, 3) and |D| (P,), grouped by i, where
    S = T − wraps_j + wraps_i is the image shift of the original positions and
    D = r_j − r_i + S·cell is evaluated from the original positions (exact image vectors).
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
            out_r = np.empty(total, dtype=np.float64)
        else:
            out_i = np.empty(0, dtype=np.int64)
            out_j = np.empty(0, dtype=np.int64)
            out_t = np.empty((0, 3), dtype=np.int64)
            out_d = np.empty((0, 3), dtype=np.float64)
            out_r = np.empty(0, dtype=np.float64)
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
                            ddx = wrapped[j, 0] + sx - wrapped[i, 0]
                            ddy = wrapped[j, 1] + sy - wrapped[i, 1]
                            ddz = wrapped[j, 2] + sz - wrapped[i, 2]
                            if ddx * ddx + ddy * ddy + ddz * ddz < rc2:
                                if pass_ == 1:
                                    _store(k, i, j, tx, ty, tz, positions, wraps, cell,
                                           out_i, out_j, out_t, out_d, out_r)
                                k += 1
            if pass_ == 0:
                counts[i] = k
    return out_i, out_j, out_t, out_d, out_r
