"""Neighbour lists: all pairs within a cutoff, periodic and triclinic, by a numba cell list.

The list is *full* (both i→j and j→i) and uses the same conventions as
``ase.neighborlist.neighbor_list("ijSDd", ...)``: the vector from i to j is

    D_ij = r_j − r_i + S_ij · cell,       S_ij ∈ Z³ (image shift, zero along non-periodic axes),

and i == j appears with S ≠ 0 when a periodic cell is shorter than the cutoff (many images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from . import kernels
from .errors import InputError, OverlappingAtomsError
from .units import MIN_DISTANCE


#: Below this many atoms the cell-list search runs on one thread.
_PARALLEL_MIN_ATOMS = 2000


@dataclass
class NeighborList:
    """Pairs within ``cutoff``; arrays have one row per directed pair (P pairs).

    i, j : (P,) int64 — centre and neighbour; rows are grouped by i in ascending order
    shifts : (P, 3) int64 — S in D = r_j − r_i + S·cell
    vectors : (P, 3) float — D, Å
    distances : (P,) float — |D|, Å
    """

    i: np.ndarray
    j: np.ndarray
    shifts: np.ndarray
    vectors: np.ndarray
    distances: np.ndarray
    cutoff: float

    def __len__(self):
        return self.i.shape[0]


def _binning_cell(positions, cell, pbc):
    """A non-singular cell for binning: zero/degenerate non-periodic vectors are replaced by
    orthogonal vectors spanning the atoms' extent (the physical cell is unchanged)."""
    cell = np.array(cell, dtype=np.float64)
    for k in range(3):
        if pbc[k]:
            continue
        others = [cell[a] for a in range(3) if a != k]
        normal = np.cross(others[0], others[1])
        if np.linalg.norm(normal) < 1e-12:
            # pick any direction orthogonal to the non-zero periodic vectors
            basis = [v for v in others if np.linalg.norm(v) > 1e-12]
            trial = np.eye(3)
            for v in basis:
                trial = trial - np.outer(trial @ v, v) / (v @ v)
            normal = trial[np.argmax(np.linalg.norm(trial, axis=1))]
        if abs(np.dot(normal, cell[k])) < 1e-8 * max(1.0, np.linalg.norm(cell[k])):
            extent = np.ptp(positions @ normal / np.linalg.norm(normal)) if len(positions) else 0.0
            cell[k] = normal / np.linalg.norm(normal) * (extent + 1.0)
    # a non-periodic axis that became dependent on the others after replacement is impossible here
    if abs(np.linalg.det(cell)) < 1e-12:
        raise InputError("cell is singular along a periodic direction")
    return cell


def neighbor_list(positions, cell, pbc, cutoff, self_interaction=False, check_overlap=True):
    """All directed pairs (i, j, S) with |r_j − r_i + S·cell| < cutoff.

    Parameters
    ----------
    positions : (N, 3) Å; cell : (3, 3) Å (rows); pbc : (3,) bool; cutoff : Å (> 0)
    self_interaction : keep i == j with S = 0 (distance 0)
    check_overlap : raise :class:`OverlappingAtomsError` if a pair is closer than 0.5 Å

    Returns a :class:`NeighborList`. Cost O(N · neighbours) with a cell list of bins at least
    ``cutoff`` wide (fewer bins, more images, when the cell is smaller than the cutoff).
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise InputError(f"positions must have shape (N, 3), got {positions.shape}")
    if not np.all(np.isfinite(positions)):
        raise InputError("positions contain NaN or inf")
    if not cutoff > 0 or not np.isfinite(cutoff):
        raise InputError(f"cutoff must be a positive finite number, got {cutoff}")
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    n = positions.shape[0]
    bin_cell = _binning_cell(positions, cell, pbc) if n else np.eye(3)
    inv = np.linalg.inv(bin_cell)
    frac = positions @ inv
    # wrap periodic axes into [0, 1); W = integer wraps so that r' = r − W·cell
    wraps = np.where(pbc, np.floor(frac), 0.0)
    frac = frac - wraps
    wrapped = positions - wraps @ bin_cell
    # non-periodic axes: fractional coordinates relative to the lowest atom
    low = np.where(pbc, 0.0, frac.min(axis=0) if n else 0.0)
    span = np.where(pbc, 1.0, (np.ptp(frac, axis=0) if n else 0.0) + 1e-12)
    plane_distance = 1.0 / np.linalg.norm(inv, axis=0)  # d_k = 1/|b_k|
    extent = plane_distance * span
    n_bins = np.maximum(1, np.floor(extent / cutoff)).astype(np.int64)
    n_bins = np.minimum(n_bins, max(1, int(round(n ** (1 / 3))) * 2 + 1))
    reach = np.ceil(cutoff * n_bins / extent).astype(np.int64)
    reach = np.where(pbc, reach, np.minimum(reach, n_bins))
    bins = kernels.assign_bins(np.ascontiguousarray((frac - low) / span), n_bins)
    order = np.argsort(bins, kind="stable")
    bin_start = np.searchsorted(bins[order], np.arange(n_bins.prod() + 1)).astype(np.int64)
    threads = numba.get_num_threads()
    if n < _PARALLEL_MIN_ATOMS:  # thread start-up costs ~100x the work of a small cell
        numba.set_num_threads(1)
    try:
        i, j, shifts, vectors, distances = kernels.cell_list_pairs(
            positions, wrapped, wraps.astype(np.int64), np.ascontiguousarray(bin_cell), bins,
            order, bin_start, n_bins, reach, pbc.copy(), float(cutoff), bool(self_interaction),
        )
    finally:
        numba.set_num_threads(threads)
    if check_overlap and len(distances):
        close = distances < MIN_DISTANCE
        if self_interaction:
            close &= ~((i == j) & ~shifts.any(axis=1))
        if close.any():
            p = int(np.argmax(close))
            raise OverlappingAtomsError(
                f"atoms {i[p]} and {j[p]} (image {tuple(shifts[p])}) are {distances[p]:.3f} Å "
                f"apart, closer than {MIN_DISTANCE} Å"
            )
    return NeighborList(i, j, shifts, vectors, distances, float(cutoff))


def state_neighbor_list(state, cutoff, **kwargs):
    """:func:`neighbor_list` of a :class:`~spinlattice.state.SpinLatticeState`."""
    return neighbor_list(state.positions, state.cell, state.pbc, cutoff, **kwargs)
