"""A plain-data form of spin Hamiltonians that are bilinear in pairs and polynomial on sites.

At fixed positions many analytic potentials reduce to

    E(m) = E_0 − ½ Σ_p J_p m_{i_p}·m_{j_p} + Σ_i (A_i |m_i|² + B_i |m_i|⁴ + C_i |m_i|⁶) − Σ_i b_i·m_i

with p over *directed* pairs of a full neighbour list (so −½ Σ_p counts each pair once, and a
periodic self-image i → i contributes −½ J |m_i|²), J_p in eV/μB², A, B, C in eV/μB^(2,4,6) and
b_i = μ_B B_i in eV/μB. A potential that can say so implements
``local_spin_model(state) -> LocalSpinModel`` and Monte Carlo then runs whole sweeps inside numba
(:mod:`spinlattice.drivers.kernels`), with no Python call per colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LocalSpinModel:
    """E(m) of the module docstring for one structure (positions fixed).

    first : (N + 1,) int64 CSR offsets, rows of site i at first[i]:first[i+1]
    neighbours : (P,) int64 neighbour j of each directed pair; exchange : (P,) J_p, eV/μB²
    landau : (N, 3) A, B, C per site; field : (N, 3) b_i, eV/μB
    """

    first: np.ndarray
    neighbours: np.ndarray
    exchange: np.ndarray
    landau: np.ndarray
    field: np.ndarray

    @classmethod
    def empty(cls, n_atoms):
        return cls(np.zeros(n_atoms + 1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                   np.zeros(0), np.zeros((n_atoms, 3)), np.zeros((n_atoms, 3)))

    @classmethod
    def from_pairs(cls, n_atoms, i, j, exchange, landau=None, field=None):
        """Build from directed pairs (i, j, J) in any order."""
        i = np.asarray(i, dtype=np.int64)
        order = np.argsort(i, kind="stable")
        first = np.searchsorted(i[order], np.arange(n_atoms + 1)).astype(np.int64)
        return cls(first, np.ascontiguousarray(np.asarray(j, dtype=np.int64)[order]),
                   np.ascontiguousarray(np.asarray(exchange, dtype=float)[order]),
                   np.zeros((n_atoms, 3)) if landau is None else np.asarray(landau, dtype=float),
                   np.zeros((n_atoms, 3)) if field is None else np.asarray(field, dtype=float))

    def __add__(self, other):
        n = self.landau.shape[0]
        rows = lambda m: np.repeat(np.arange(n), np.diff(m.first))
        return LocalSpinModel.from_pairs(
            n, np.concatenate([rows(self), rows(other)]),
            np.concatenate([self.neighbours, other.neighbours]),
            np.concatenate([self.exchange, other.exchange]),
            self.landau + other.landau, self.field + other.field)

    def energy(self, moments):
        """E(m) − E_0 (eV) for moments (N, 3): for checking against the potential."""
        n = self.landau.shape[0]
        i = np.repeat(np.arange(n), np.diff(self.first))
        pair = -0.5 * np.sum(self.exchange * np.einsum("pk,pk->p", moments[i],
                                                       moments[self.neighbours]))
        m2 = np.einsum("ik,ik->i", moments, moments)
        a, b, c = self.landau.T
        return float(pair + np.sum(a * m2 + b * m2**2 + c * m2**3)
                     - np.sum(self.field * moments))


def local_spin_model(potential, state):
    """The potential's :class:`LocalSpinModel` at ``state``, or None if it has none (a
    ``SumPotential`` has one when every term has)."""
    terms = getattr(potential, "terms", None)
    if terms is not None:
        models = [local_spin_model(t, state) for t in terms]
        if any(m is None for m in models):
            return None
        total = models[0]
        for m in models[1:]:
            total = total + m
        return total
    make = getattr(potential, "local_spin_model", None)
    return None if make is None else make(state)
