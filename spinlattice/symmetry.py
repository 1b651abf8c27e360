"""Symmetry transforms of a spin-lattice state (DESIGN §1).

Each function returns a new :class:`~spinlattice.state.SpinLatticeState`. How the outputs of an
exact potential must transform is stated for each; :mod:`spinlattice.testing` checks it.

Moments are axial vectors, odd under time reversal: under inversion r → −r they stay, under a
proper rotation R both r and m rotate, under time reversal only m → −m.
"""

from __future__ import annotations

import numpy as np


def translate(state, vector):
    """All positions shifted by ``vector`` (3,), Å. E, forces, h, stress unchanged."""
    return state.replace(positions=state.positions + np.asarray(vector, dtype=float))


def rotate_jointly(state, rotation):
    """Rotate positions, cell and moments together by a proper rotation R (3, 3).

    E unchanged; forces → R F, magnetic forces → R h, stress → R σ Rᵀ. Exact for every potential
    without an external axis (field, fixed-axis anisotropy).
    """
    rotation = np.asarray(rotation, dtype=float)
    return state.replace(
        positions=state.positions @ rotation.T,
        cell=state.cell @ rotation.T,
        moments=state.moments @ rotation.T,
        momenta=None if state.momenta is None else state.momenta @ rotation.T,
    )


def rotate_spins(state, rotation):
    """Rotate the moments only, by R (3, 3). Exact without spin-orbit coupling:
    E and forces unchanged, magnetic forces → R h."""
    return state.replace(moments=state.moments @ np.asarray(rotation, dtype=float).T)


def invert(state):
    """Spatial inversion r → −r with moments unchanged (axial vectors).

    The cell is kept: every Bravais lattice is centrosymmetric. E and h unchanged, forces → −F,
    stress unchanged.
    """
    return state.replace(positions=-state.positions)


def time_reverse(state):
    """m → −m. Without an external field E, forces and stress unchanged, h → −h."""
    return state.replace(moments=-state.moments)


def permute(state, permutation):
    """Reorder atoms: atom k of the result is atom ``permutation[k]`` of ``state``.
    Per-atom outputs are permuted the same way; E and stress unchanged."""
    p = np.asarray(permutation)
    if sorted(p.tolist()) != list(range(state.n_atoms)):
        raise ValueError("permutation must be a rearrangement of range(n_atoms)")
    return state.replace(
        positions=state.positions[p], numbers=state.numbers[p], moments=state.moments[p],
        momenta=None if state.momenta is None else state.momenta[p],
        masses=None if state.masses is None else state.masses[p],
    )


def supercell(state, repeats):
    """Repeat a periodic cell ``repeats`` = (n1, n2, n3) times. E → (n1 n2 n3) E, stress unchanged;
    per-atom outputs are tiled (the copy with offset (a, b, c) follows the original order)."""
    reps = np.asarray(repeats, dtype=int).reshape(3)
    if np.any(reps < 1):
        raise ValueError("repeats must be positive integers")
    if np.any((reps > 1) & ~state.pbc):
        raise ValueError("can only repeat along periodic directions")
    offsets = np.array([(a, b, c) for a in range(reps[0]) for b in range(reps[1])
                        for c in range(reps[2])], dtype=float)
    shifts = offsets @ state.cell  # (n_copies, 3)
    n_copies = len(offsets)

    def tile(x):
        return None if x is None else np.concatenate([x] * n_copies)

    return state.replace(
        positions=(state.positions[None, :, :] + shifts[:, None, :]).reshape(-1, 3),
        numbers=tile(state.numbers), moments=tile(state.moments),
        momenta=tile(state.momenta), masses=tile(state.masses),
        cell=state.cell * reps[:, None],
    )


def wrap_atom(state, index, lattice_shift):
    """Move atom ``index`` by the lattice vector ``lattice_shift`` (3,) ints · cell: the same
    periodic crystal, so every output must be unchanged."""
    positions = state.positions.copy()
    positions[index] += np.asarray(lattice_shift, dtype=float) @ state.cell
    return state.replace(positions=positions)
