"""A small, independent test-only potential used to exercise the core checks and drivers.

E = Σ_{i<j} [k (r_ij − r0)² − J m_i·m_j] φ(r_ij) + Σ_i (a|m_i|² + b|m_i|⁴),
φ(r) = (1 − r/r_c)³ for r < r_c. Optional deliberate bugs let tests prove the checks fail.
"""

import numpy as np

from spinlattice.neighbors import state_neighbor_list
from spinlattice.testing import full_energy_changes


class ToyPotential:
    spin_orbit = False

    def __init__(self, cutoff=3.2, k=0.3, r0=2.5, J=0.02, a=-0.1, b=0.01, bug=None):
        self.cutoff = self.receptive_field = cutoff
        self.k, self.r0, self.J, self.a, self.b, self.bug = k, r0, J, a, b, bug

    def compute(self, state, properties=("energy",)):
        nl = state_neighbor_list(state, self.cutoff)
        i, j, d, r = nl.i, nl.j, nl.vectors, nl.distances
        m = state.moments
        x = 1 - r / self.cutoff
        phi, dphi = x**3, -3 * x**2 / self.cutoff
        mm = np.einsum("pk,pk->p", m[i], m[j])
        pair = self.k * (r - self.r0) ** 2 - self.J * mm
        e_pair = 0.5 * pair * phi  # full list: each pair twice
        m2 = np.einsum("ik,ik->i", m, m)
        energies = self.a * m2 + self.b * m2**2
        np.add.at(energies, i, e_pair)
        if self.bug == "nonlocal":
            energies = energies + 1e-3 * np.roll(m2, 7)
        if self.bug == "odd_in_m":
            energies = energies + 1e-3 * m[:, 2]
        de_dr = 0.5 * (2 * self.k * (r - self.r0) * phi + pair * dphi)
        fvec = (de_dr / r)[:, None] * d  # dE/dD_p
        forces = np.zeros_like(state.positions)
        np.add.at(forces, i, fvec)
        np.add.at(forces, j, -fvec)
        if self.bug == "force_sign":
            forces = -forces
        h = -(2 * self.a + 4 * self.b * m2)[:, None] * m
        np.add.at(h, i, (self.J * phi)[:, None] * m[j])
        if self.bug == "odd_in_m":
            h[:, 2] -= 1e-3
        out = {"energy": float(energies.sum()), "energies": energies, "forces": forces,
               "magnetic_forces": h}
        if "stress" in properties:
            out["stress"] = np.einsum("pa,pb->ab", fvec, d) / state.volume
        return {k: v for k, v in out.items() if k in properties}

    def local_energy_changes(self, state, sites, new_moments):
        return full_energy_changes(self, state, sites, new_moments)
