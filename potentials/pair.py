"""Pair lattice term: the Morse potential with a smooth cutoff.

    E = Σ_{i<j} φ(r_ij) S(r_ij),   φ(r) = D₀ [e^{−2α(r − r₀)} − 2 e^{−α(r − r₀)}]

(P. M. Morse, Phys. Rev. 34, 57 (1929); the cubic-metal parametrisation of Girifalco & Weizer,
Phys. Rev. 114, 687 (1959) gives for Fe D₀ = 0.4174 eV, α = 1.3885 Å⁻¹, r₀ = 2.845 Å.)
S is the C² switch of :func:`~.pairs.smooth_cutoff` from ``cutoff − taper`` to ``cutoff``, so
energy, forces and their first derivative are continuous. Each pair counts once; per-site
energies take half of each pair. The term does not depend on the moments (h = 0, ΔE = 0), so it
has every symmetry, spin rotation included.
"""

from __future__ import annotations

import numpy as np

from spinlattice.errors import InputError

from .couplings import _finite, _parameter_rows
from .pairs import PairTerm, smooth_cutoff


class Morse(PairTerm):
    """Morse pair potential per species pair with a smooth cutoff.

    parameters : {species pair or "*": (D₀ eV ≥ 0, α 1/Å > 0, r₀ Å > 0)}
    cutoff : Å; taper : Å, width of the switch ending at ``cutoff`` (0 < taper ≤ cutoff).
    Pairs of species without an entry do not interact.
    """

    def __init__(self, parameters, cutoff, taper=1.0):
        super().__init__()
        self.table, self._p = _parameter_rows(parameters, ("depth", "alpha", "r0"), "Morse")
        if np.any(self._p[:, 0] < 0) or np.any(self._p[:, 1] <= 0) or np.any(self._p[:, 2] <= 0):
            raise InputError(f"Morse parameters need D0 >= 0, alpha > 0, r0 > 0, got {parameters!r}")
        self.cutoff = _finite("Morse cutoff", cutoff, positive=True)
        self.taper = _finite("Morse taper", taper, positive=True)
        if self.taper > self.cutoff:
            raise InputError(f"Morse taper {self.taper} is longer than the cutoff {self.cutoff}")
        self.parameters = parameters

    def __repr__(self):
        return f"Morse({self.parameters!r}, cutoff={self.cutoff}, taper={self.taper})"

    def pair_energy(self, zi, zj, r):
        """(φ S, d(φ S)/dr) of pairs of atomic numbers zi, zj at distances r (Å), eV and eV/Å."""
        rows = self.table.rows(zi, zj)
        known = rows >= 0
        depth = np.where(known, self._p[rows, 0], 0.0)
        alpha = np.where(known, self._p[rows, 1], 1.0)
        r0 = np.where(known, self._p[rows, 2], 1.0)
        x = np.exp(-alpha * (r - r0))
        phi = depth * (x * x - 2.0 * x)
        dphi = -2.0 * alpha * depth * (x * x - x)
        s, ds = smooth_cutoff(r, self.cutoff - self.taper, self.cutoff)
        return phi * s, dphi * s + phi * ds

    def _pair_arrays(self, g, moments, gradients):
        e, de = self.derived(g, "pair_energy", lambda g: self.pair_energy(g.zi, g.zj, g.distances))
        out = {"pair_energy": e}
        if gradients:
            out["grad_vector"] = (de / g.distances)[:, None] * g.vectors
        return out

    def local_energy_changes(self, state, sites, new_moments):
        """ΔE = 0 (K,): the Morse energy does not depend on the moments."""
        sites = np.asarray(sites)
        if np.asarray(new_moments).reshape(-1, 3).shape[0] != sites.shape[0]:
            raise InputError("as many new moments as sites are needed")
        return np.zeros(sites.shape[0])


__all__ = ["Morse"]
