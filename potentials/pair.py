"""Lattice terms independent of the moments: Morse pair potential and Finnis–Sinclair EAM.

    E = Σ_{i<j} φ(r_ij) S(r_ij),   φ(r) = D₀ [e^{−2α(r − r₀)} − 2 e^{−α(r − r₀)}]

(P. M. Morse, Phys. Rev. 34, 57 (1929); the cubic-metal parametrisation of Girifalco & Weizer,
Phys. Rev. 114, 687 (1959) gives for Fe D₀ = 0.4174 eV, α = 1.3885 Å⁻¹, r₀ = 2.845 Å.)
S is the C² switch of :func:`~.pairs.smooth_cutoff` from ``cutoff − taper`` to ``cutoff``, so
energy, forces and their first derivative are continuous. Each pair counts once; per-site
energies take half of each pair.

:class:`FinnisSinclair` is the embedded-atom form of Finnis & Sinclair, Phil. Mag. A 50, 45
(1984) (erratum 53, 161 (1986)):

    E = Σ_i F(ρ_i) + Σ_{i<j} V(r_ij),   F(ρ) = −A √ρ,   ρ_i = Σ_{j≠i} ψ(r_ij),
    ψ(r) = (r − d)² + β (r − d)³ / d  (r < d),   V(r) = (r − c)² (c₀ + c₁ r + c₂ r²)  (r < c)

Neither term depends on the moments (h = 0, ΔE = 0), so both have every symmetry, spin rotation
included.
"""

from __future__ import annotations

import numpy as np

from spinlattice.errors import InputError
from spinlattice.properties import ENERGIES, ENERGY, check_properties

from .pairs import (
    PairTerm, SpeciesPairTable, assemble_pair_properties, finite_number, pair_parameter_rows,
    proposal_arrays, smooth_cutoff,
)


class Morse(PairTerm):
    """Morse pair potential per species pair with a smooth cutoff.

    parameters : {species pair or "*": (D₀ eV ≥ 0, α 1/Å > 0, r₀ Å > 0)}
    cutoff : Å; taper : Å, width of the switch ending at ``cutoff`` (0 < taper ≤ cutoff).
    Pairs of species without an entry do not interact.
    """

    def __init__(self, parameters, cutoff, taper=1.0):
        super().__init__()
        self.table, self._p = pair_parameter_rows(parameters, ("depth", "alpha", "r0"), "Morse")
        if np.any(self._p[:, 0] < 0) or np.any(self._p[:, 1] <= 0) or np.any(self._p[:, 2] <= 0):
            raise InputError(f"Morse parameters need D0 >= 0, alpha > 0, r0 > 0, got {parameters!r}")
        self.cutoff = finite_number("Morse cutoff", cutoff, positive=True)
        self.taper = finite_number("Morse taper", taper, positive=True)
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
        sites, _ = proposal_arrays(state, sites, new_moments)
        return np.zeros(sites.shape[0])


class FinnisSinclair(PairTerm):
    """Finnis–Sinclair embedded-atom potential for one element (equations in the module doc).

    species : element; a : A (eV), d : density cutoff (Å), beta : β, c : pair cutoff (Å),
    c0, c1, c2 : pair polynomial (eV/Å², eV/Å³, eV/Å⁴). ψ and V vanish with zero slope at their
    cutoffs. F'(ρ) = −A/(2√ρ) is singular only at ρ = 0, where the density of an atom vanishes
    quadratically, so forces stay finite (F'ψ' → −A at the edge); an atom with ρ = 0 has F = 0.
    For β > 0, ψ < 0 below r = d(1 − 1/β) (1.59 Å for Fe): far outside the fitted range, the
    density is then clipped at 0.
    Forces per bond: dE/dr = [F'(ρ_i) + F'(ρ_j)] ψ'(r) + V'(r).
    """

    def __init__(self, species, a, d, beta, c, c0, c1, c2):
        super().__init__()
        self.table = SpeciesPairTable([(species, species)])
        self.a = finite_number("Finnis-Sinclair A", a, positive=True)
        self.d = finite_number("Finnis-Sinclair d", d, positive=True)
        self.beta = finite_number("Finnis-Sinclair beta", beta)
        self.c = finite_number("Finnis-Sinclair c", c, positive=True)
        self.c0, self.c1, self.c2 = (finite_number(f"Finnis-Sinclair c{k}", v) for k, v in enumerate((c0, c1, c2)))
        self.cutoff = max(self.d, self.c)
        self.species = species

    @classmethod
    def iron(cls):
        """α-Fe parameters of Finnis & Sinclair (1984): a₀ = 2.8665 Å, E_coh = 4.28 eV."""
        return cls("Fe", a=1.828905, d=3.569745, beta=1.8, c=3.4,
                   c0=1.2371147, c1=-0.3592185, c2=-0.0385607)

    def __repr__(self):
        return (f"FinnisSinclair({self.species!r}, a={self.a}, d={self.d}, beta={self.beta}, "
                f"c={self.c}, c0={self.c0}, c1={self.c1}, c2={self.c2})")

    def _radial(self, r):
        """ψ, ψ', V, V' of distances r (P,)."""
        x = np.minimum(r - self.d, 0.0)
        psi = x * x + self.beta * x**3 / self.d
        dpsi = 2.0 * x + 3.0 * self.beta * x * x / self.d
        y = np.minimum(r - self.c, 0.0)
        poly = self.c0 + self.c1 * r + self.c2 * r * r
        v = y * y * poly
        dv = 2.0 * y * poly + y * y * (self.c1 + 2.0 * self.c2 * r)
        return psi, dpsi, v, dv

    def compute(self, state, properties=(ENERGY,)) -> dict:
        properties = check_properties(properties)
        g = self.geometry(state)
        psi, dpsi, v, dv = self.derived(g, "radial", lambda g: self._radial(g.distances))
        rho = np.bincount(g.i, weights=psi, minlength=g.n_atoms)
        root = np.sqrt(np.maximum(rho, 0.0))
        embed = -self.a * root
        dembed = np.where(root > 0, -0.5 * self.a / np.where(root > 0, root, 1.0), 0.0)
        bond = (dembed[g.i] + dembed[g.j]) * dpsi + dv
        out = assemble_pair_properties(g, properties, v, (bond / g.distances)[:, None] * g.vectors)
        if ENERGY in out:
            out[ENERGY] += float(np.sum(embed))
        if ENERGIES in out:
            out[ENERGIES] = out[ENERGIES] + embed
        return out

    def local_energy_changes(self, state, sites, new_moments):
        """ΔE = 0 (K,): the energy does not depend on the moments."""
        return Morse.local_energy_changes(self, state, sites, new_moments)


__all__ = ["Morse", "FinnisSinclair"]
