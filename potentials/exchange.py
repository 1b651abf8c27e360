"""Exchange terms between moments: Heisenberg, biquadratic and Dzyaloshinskii–Moriya (DMI).

Conventions (spinlattice's; see docs/conventions.md for other codes):

    Heisenberg     E = −Σ_{i<j} J(r_ij) m_i·m_j           J in eV/μB², m in μB
    biquadratic    E = −Σ_{i<j} K(r_ij) (m_i·m_j)²         K in eV/μB⁴
    DMI (bulk)     E =  Σ_{i<j} D(r_ij) r̂_ij·(m_i × m_j)   D in eV/μB², r̂_ij = (r_j − r_i)/r_ij
    DMI (film)     E =  Σ_{i<j} D(r_ij) (n × r̂_ij)·(m_i × m_j)   n: film normal

Each pair of atoms (each periodic image pair) counts **once**; a dimer has E = −J m₁·m₂.
J > 0 is ferromagnetic. Moments are full vectors (not unit vectors), so the exchange also acts
on the moment lengths; per-site energies split each pair energy half/half.

The coupling C(r) of each term is a :mod:`.couplings` object: :class:`~.couplings.ShellTable`
(values per shell and species pair, e.g. from TB2J/UppASD via :mod:`.readers`),
:class:`~.couplings.BetheSlater` or :class:`~.couplings.CubicDecay` (smooth J(r), which
couples spins to the lattice: forces and stress include −J'(r) m_i·m_j r̂_ij).

Symmetry: Heisenberg and biquadratic exchange are invariant under any rotation of all moments
(``spin_orbit = False``). Bulk DMI couples spin to space (``spin_orbit = True``) and is odd under
inversion (``broken_symmetries = {"inversion"}``); it stays invariant under joint rotations and
time reversal. Interfacial DMI also breaks joint rotations (fixed normal).
"""

from __future__ import annotations

import numpy as np

from spinlattice.errors import InputError
from spinlattice.spinmodel import LocalSpinModel

from . import kernels
from .pairs import PairTerm, proposal_arrays


def _check_coupling(coupling, what):
    if not all(hasattr(coupling, a) for a in ("evaluate", "cutoff", "table")):
        raise InputError(f"{what} needs a coupling from spinlattice.potentials.couplings "
                         f"(ShellTable, BetheSlater, CubicDecay), got {coupling!r}")
    return coupling


class _ExchangeTerm(PairTerm):
    """Pair term E = ½ Σ_p e(D_p, m_i, m_j) with one coupling C(r) per pair."""

    kernel_kind = None

    def __init__(self, coupling):
        super().__init__()
        self.coupling = _check_coupling(coupling, type(self).__name__)
        self.cutoff = float(coupling.cutoff)
        self.table = coupling.table

    def __repr__(self):
        return f"{type(self).__name__}({self.coupling!r})"

    def coupling_values(self, geometry):
        """(C (P,), dC/dr (P,)) of every directed pair, cached per geometry."""
        return self.derived(geometry, "coupling",
                            lambda g: self.coupling.evaluate(g.zi, g.zj, g.distances))

    def _kernel_coupling(self, geometry):
        return self.coupling_values(geometry)[0]

    def _kernel_vectors(self, geometry):
        """Per-pair vectors the bond-energy kernel needs (D_ij; the DMI axis for DMI)."""
        return geometry.vectors

    def local_energy_changes(self, state, sites, new_moments):
        """ΔE_k (eV), (K,), of m[sites[k]] → new_moments[k] (K, 3), each alone (numba)."""
        g = self.geometry(state)
        sites, new_moments = proposal_arrays(state, sites, new_moments)
        return kernels.pair_energy_changes(
            self.kernel_kind, g.first, g.j, np.ascontiguousarray(self._kernel_coupling(g)),
            np.ascontiguousarray(self._kernel_vectors(g)), np.ascontiguousarray(state.moments),
            sites, new_moments)


class Heisenberg(_ExchangeTerm):
    """E = −Σ_{i<j} J(r_ij) m_i·m_j (each pair once; J in eV/μB², m in μB).

    coupling : a :mod:`.couplings` object giving J(r) per species pair.

    Pair arrays (per directed pair p, s = m_i·m_j): e = −J s, ∂e/∂D = −J'(r) s D/r,
    ∂e/∂m_i = −J m_j, ∂e/∂m_j = −J m_i.
    """

    kernel_kind = kernels.HEISENBERG

    def local_spin_model(self, state):
        """The term as a :class:`~spinlattice.spinmodel.LocalSpinModel` at fixed positions
        (J_p of every directed pair), so Monte Carlo can run whole sweeps in numba."""
        g = self.geometry(state)
        model = LocalSpinModel.empty(state.n_atoms)
        model.first, model.neighbours = g.first, np.ascontiguousarray(g.j)
        model.exchange = np.ascontiguousarray(self.coupling_values(g)[0])
        return model

    def _pair_arrays(self, g, moments, gradients):
        c, dc = self.coupling_values(g)
        mi, mj = moments[g.i], moments[g.j]
        s = np.einsum("pk,pk->p", mi, mj)
        out = {"pair_energy": -c * s}
        if gradients:
            out["grad_vector"] = (-dc * s / g.distances)[:, None] * g.vectors
            out["grad_moment_i"] = -c[:, None] * mj
            out["grad_moment_j"] = -c[:, None] * mi
        return out


class Biquadratic(_ExchangeTerm):
    """E = −Σ_{i<j} K(r_ij) (m_i·m_j)² (each pair once; K in eV/μB⁴).

    Pair arrays: e = −K s², ∂e/∂D = −K'(r) s² D/r, ∂e/∂m_i = −2K s m_j.
    """

    kernel_kind = kernels.BIQUADRATIC

    def _pair_arrays(self, g, moments, gradients):
        c, dc = self.coupling_values(g)
        mi, mj = moments[g.i], moments[g.j]
        s = np.einsum("pk,pk->p", mi, mj)
        out = {"pair_energy": -c * s * s}
        if gradients:
            out["grad_vector"] = (-dc * s * s / g.distances)[:, None] * g.vectors
            out["grad_moment_i"] = (-2.0 * c * s)[:, None] * mj
            out["grad_moment_j"] = (-2.0 * c * s)[:, None] * mi
        return out


class BulkDMI(_ExchangeTerm):
    """E = Σ_{i<j} D(r_ij) r̂_ij·(m_i × m_j), the bulk (B20-type) Dzyaloshinskii–Moriya term.

    D_ij = D(r) r̂_ij is odd in r̂ and m_i × m_j is odd in the exchange i ↔ j, so each pair
    contributes once whichever way it is listed. D in eV/μB² (per pair, moments in μB).
    Breaks inversion and spin rotation (SOC); even under time reversal.

    Written with a bond axis a_p = ``_axis(D_p)`` (a = D for the bulk form, linear in D):
    with f = D(r)/r, c = m_i × m_j, t = a·c: e = f t, ∂e/∂D = (f'(r) t / r) D + f ∂t/∂D with
    f' = D'/r − D/r², ∂e/∂m_i = f m_j × a, ∂e/∂m_j = f a × m_i.
    """

    kernel_kind = kernels.DMI
    spin_orbit = True
    broken_symmetries = frozenset({"inversion"})

    def _axis(self, vectors):
        """Bond axis a(D) (P, 3), linear in D (the DMI vector is D(r)/r · a)."""
        return vectors

    def _axis_gradient(self, cross):
        """∂(a·c)/∂D (P, 3) for c = m_i × m_j."""
        return cross

    def _kernel_coupling(self, geometry):
        return self.derived(geometry, "coupling_over_r",
                            lambda g: self.coupling_values(g)[0] / g.distances)

    def _kernel_vectors(self, geometry):
        return self.derived(geometry, "axes", lambda g: self._axis(g.vectors))

    def _pair_arrays(self, g, moments, gradients):
        c, dc = self.coupling_values(g)
        r = g.distances
        f = c / r
        axis = self._axis(g.vectors)
        mi, mj = moments[g.i], moments[g.j]
        cross = np.cross(mi, mj)
        t = np.einsum("pk,pk->p", axis, cross)
        out = {"pair_energy": f * t}
        if gradients:
            df = dc / r - c / (r * r)
            out["grad_vector"] = (df * t / r)[:, None] * g.vectors \
                + f[:, None] * self._axis_gradient(cross)
            out["grad_moment_i"] = f[:, None] * np.cross(mj, axis)
            out["grad_moment_j"] = f[:, None] * np.cross(axis, mi)
        return out


class InterfacialDMI(BulkDMI):
    """E = Σ_{i<j} D(r_ij) (n × r̂_ij)·(m_i × m_j), the interfacial (Néel-type) DMI of a film
    with normal n (normalised), D in eV/μB².

    The DMI vector n × r̂_ij lies in the film plane, perpendicular to the bond. The fixed normal
    breaks joint rotations as well as inversion and spin rotation.
    """

    broken_symmetries = frozenset({"inversion", "joint_rotation"})

    def __init__(self, coupling, normal=(0.0, 0.0, 1.0)):
        super().__init__(coupling)
        normal = np.asarray(normal, dtype=np.float64).reshape(-1)
        if normal.shape != (3,) or not np.all(np.isfinite(normal)) or np.linalg.norm(normal) < 1e-12:
            raise InputError(f"interfacial DMI normal must be a non-zero 3-vector, got {normal!r}")
        self.normal = normal / np.linalg.norm(normal)

    def __repr__(self):
        return f"InterfacialDMI({self.coupling!r}, normal={self.normal.tolist()})"

    def _axis(self, vectors):
        return np.cross(self.normal[None, :], vectors)

    def _axis_gradient(self, cross):
        # (n × D)·c = D·(c × n)
        return np.cross(cross, self.normal[None, :])


__all__ = ["Heisenberg", "Biquadratic", "BulkDMI", "InterfacialDMI"]
