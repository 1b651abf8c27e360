"""On-site (single-moment) terms: Landau longitudinal energy and single-ion anisotropy.

Every term here is a sum of per-site energies E_i(m_i) that are polynomials in the components of
m_i (μB), so they are smooth at m = 0 (no division by |m|). They exert no lattice forces and no
stress; magnetic forces are h_i = −∂E_i/∂m_i (eV/μB).

* :class:`Landau` — E_i = A|m|² + B|m|⁴ + C|m|⁶ per species (longitudinal fluctuations;
  A < 0 < B gives a moment of |m|² = (−B + √(B² − 3AC))/(3C), or −A/(2B) when C = 0).
  Ma & Dudarev, Phys. Rev. B 86, 054416 (2012) use this form for iron.
* :class:`UniaxialAnisotropy` — E_i = −K₁(m·n)² − K₂(m·n)⁴ (K₁ > 0: easy axis n).
* :class:`CubicAnisotropy` — with u = R m in the crystal frame,
  E_i = K₁(u_x²u_y² + u_y²u_z² + u_z²u_x²) + K₂ u_x²u_y²u_z² (K₁ > 0: easy ⟨100⟩ axes, as in Fe).

Anisotropies refer to fixed axes in the lab frame: they break joint rotations of space and
spins (``broken_symmetries = {"joint_rotation"}``) and spin rotations (``spin_orbit = True``);
they are even in m, so time-reversal symmetric. Landau is fully rotation invariant.

Parameters are keyed by species ({"Fe": ..., 26: ...}) or "*" for every species; a state with a
species the term does not know is an :class:`~spinlattice.errors.InputError`.
"""

from __future__ import annotations

import numpy as np

from spinlattice.errors import InputError
from spinlattice.spinmodel import LocalSpinModel
from spinlattice.properties import (
    ENERGIES, ENERGY, FORCES, MAGNETIC_FORCES, STRESS, check_properties,
)

from . import kernels
from .pairs import ANY_PAIR, number_row, proposal_arrays, species_number, species_symbol


class SiteTerm:
    """Base of on-site terms: per-species parameter rows → per-site rows, property assembly.

    Subclasses set ``kernel_kind`` and implement ``_site_arrays(params (N, P), moments) ->
    (energies (N,), ∂E/∂m (N, 3))``; ``cutoff`` and ``receptive_field`` are 0 (no neighbours).
    """

    cutoff = 0.0
    receptive_field = 0.0
    coupling_range = 0.0
    spin_orbit = False
    broken_symmetries = frozenset()
    kernel_kind = None

    def _set_species_rows(self, parameters, n, what):
        if not isinstance(parameters, dict) or not parameters:
            raise InputError(f"{what} needs a non-empty dict {{species or '*': parameters}}")
        self._rows = {}
        for key, values in parameters.items():
            z = ANY_PAIR if isinstance(key, str) and key == ANY_PAIR else species_number(key)
            if z in self._rows:
                raise InputError(f"{what}: species {key!r} given twice")
            self._rows[z] = number_row(values, n, f"{what} parameters of {key!r}")
        if ANY_PAIR in self._rows and len(self._rows) > 1:
            raise InputError(f"{what}: '*' (every species) cannot be combined with explicit species")
        self._what = what

    def site_parameters(self, numbers):
        """(N, P) parameter row of every atom; InputError for species without parameters."""
        if ANY_PAIR in self._rows:
            return np.ascontiguousarray(np.tile(self._extend(self._rows[ANY_PAIR]), (len(numbers), 1)))
        unknown = sorted(set(np.unique(numbers).tolist()) - set(self._rows))
        if unknown:
            raise InputError(f"{self._what} has no parameters for species "
                             f"{[species_symbol(z) for z in unknown]}; it knows "
                             f"{sorted(species_symbol(z) for z in self._rows)}")
        rows = {z: self._extend(row) for z, row in self._rows.items()}
        table = np.zeros((119, len(next(iter(rows.values())))))
        for z, row in rows.items():
            table[z] = row
        return np.ascontiguousarray(table[numbers])

    def _extend(self, row):
        """Per-species row → the row the kernel uses (subclasses append axes)."""
        return row

    def compute(self, state, properties=(ENERGY,)) -> dict:
        properties = check_properties(properties)
        params = self.site_parameters(state.numbers)
        energies, grad = self._site_arrays(params, state.moments)
        n = state.n_atoms
        out = {}
        if ENERGY in properties:
            out[ENERGY] = float(np.sum(energies))
        if ENERGIES in properties:
            out[ENERGIES] = energies
        if FORCES in properties:
            out[FORCES] = np.zeros((n, 3))
        if STRESS in properties:
            out[STRESS] = np.zeros((3, 3))
        if MAGNETIC_FORCES in properties:
            out[MAGNETIC_FORCES] = -grad
        return out

    def local_energy_changes(self, state, sites, new_moments):
        """ΔE_k (eV), (K,), of m[sites[k]] → new_moments[k] (K, 3), each alone (numba)."""
        sites, new_moments = proposal_arrays(state, sites, new_moments)
        return kernels.site_energy_changes(self.kernel_kind, self.site_parameters(state.numbers),
                                           np.ascontiguousarray(state.moments), sites, new_moments)


class Landau(SiteTerm):
    """E_i = A|m_i|² + B|m_i|⁴ + C|m_i|⁶ with (A, B, C) per species.

    parameters : {species or "*": (A eV/μB², B eV/μB⁴, C eV/μB⁶)}. The energy must be bounded
    below: C > 0, or C = 0 and B > 0, or B = C = 0 and A ≥ 0 (else InputError).
    h_i = −(2A + 4B|m|² + 6C|m|⁴) m_i.
    """

    kernel_kind = kernels.LANDAU

    def __init__(self, parameters):
        self._set_species_rows(parameters, 3, "Landau")
        for z, (a, b, c) in self._rows.items():
            if not (c > 0 or (c == 0 and b > 0) or (c == 0 and b == 0 and a >= 0)):
                name = z if z == ANY_PAIR else species_symbol(z)
                raise InputError(
                    f"Landau energy of {name} with A={a}, B={b}, C={c} is unbounded below as "
                    f"|m| → ∞: the highest non-zero coefficient must be positive")
        self.parameters = parameters

    def local_spin_model(self, state):
        """The term as a :class:`~spinlattice.spinmodel.LocalSpinModel` (A, B, C per site)."""
        model = LocalSpinModel.empty(state.n_atoms)
        model.landau = self.site_parameters(state.numbers)
        return model

    def __repr__(self):
        return f"Landau({self.parameters!r})"

    def _site_arrays(self, p, m):
        m2 = np.einsum("ik,ik->i", m, m)
        a, b, c = p[:, 0], p[:, 1], p[:, 2]
        energies = m2 * (a + m2 * (b + m2 * c))
        grad = (2.0 * a + m2 * (4.0 * b + 6.0 * c * m2))[:, None] * m
        return energies, grad


def _unit_axis(axis, what):
    n = number_row(axis, 3, what)
    norm = np.linalg.norm(n)
    if norm < 1e-12:
        raise InputError(f"{what} must be a non-zero vector, got {axis!r}")
    return n / norm


class UniaxialAnisotropy(SiteTerm):
    """E_i = −K₁(m_i·n)² − K₂(m_i·n)⁴ about a fixed lab-frame axis n (normalised).

    parameters : {species or "*": (K₁ eV/μB², K₂ eV/μB⁴)}; axis : (3,).
    h_i = (2K₁x + 4K₂x³) n with x = m_i·n.
    """

    kernel_kind = kernels.UNIAXIAL
    spin_orbit = True
    broken_symmetries = frozenset({"joint_rotation"})

    def __init__(self, parameters, axis=(0.0, 0.0, 1.0)):
        self._set_species_rows(parameters, 2, "UniaxialAnisotropy")
        self.axis = _unit_axis(axis, "anisotropy axis")
        self.parameters = parameters

    def __repr__(self):
        return f"UniaxialAnisotropy({self.parameters!r}, axis={self.axis.tolist()})"

    def _extend(self, row):
        return np.concatenate([row, self.axis])

    def _site_arrays(self, p, m):
        x = m @ self.axis
        k1, k2 = p[:, 0], p[:, 1]
        energies = -x * x * (k1 + k2 * x * x)
        grad = (-(2.0 * k1 * x + 4.0 * k2 * x**3))[:, None] * self.axis[None, :]
        return energies, grad


class CubicAnisotropy(SiteTerm):
    """E_i = K₁(u_x²u_y² + u_y²u_z² + u_z²u_x²) + K₂u_x²u_y²u_z², u = R m_i.

    parameters : {species or "*": (K₁ eV/μB⁴, K₂ eV/μB⁶)}; axes : (3, 3) rows = the crystal
    axes in the lab frame (orthonormal; default the identity). ∂E/∂m = Rᵀ ∂E/∂u.
    """

    kernel_kind = kernels.CUBIC
    spin_orbit = True
    broken_symmetries = frozenset({"joint_rotation"})

    def __init__(self, parameters, axes=None):
        self._set_species_rows(parameters, 2, "CubicAnisotropy")
        axes = np.eye(3) if axes is None else np.asarray(axes, dtype=np.float64)
        if axes.shape != (3, 3) or not np.all(np.isfinite(axes)) or \
                not np.allclose(axes @ axes.T, np.eye(3), atol=1e-8):
            raise InputError(f"cubic anisotropy axes must be an orthonormal (3, 3) matrix, got {axes!r}")
        self.axes = axes
        self.parameters = parameters

    def __repr__(self):
        return f"CubicAnisotropy({self.parameters!r}, axes={self.axes.tolist()})"

    def _extend(self, row):
        return np.concatenate([row, self.axes.reshape(-1)])

    def _site_arrays(self, p, m):
        u = m @ self.axes.T
        sq = u * u
        k1, k2 = p[:, 0], p[:, 1]
        energies = k1 * (sq[:, 0] * sq[:, 1] + sq[:, 1] * sq[:, 2] + sq[:, 2] * sq[:, 0]) \
            + k2 * sq[:, 0] * sq[:, 1] * sq[:, 2]
        others = sq.sum(axis=1)[:, None] - sq  # (u_y² + u_z², u_z² + u_x², u_x² + u_y²)
        products = np.stack([sq[:, 1] * sq[:, 2], sq[:, 2] * sq[:, 0], sq[:, 0] * sq[:, 1]], axis=1)
        grad_u = 2.0 * u * (k1[:, None] * others + k2[:, None] * products)
        return energies, grad_u @ self.axes


__all__ = ["Landau", "UniaxialAnisotropy", "CubicAnisotropy"]
