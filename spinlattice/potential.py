"""The ``Potential`` protocol every energy model implements, and their sum.

A potential is a function E(R, cell, m) of positions, cell and moments. ``compute`` returns any
subset of :data:`spinlattice.properties.ALL_PROPERTIES` (forces −∂E/∂R, stress (1/V)∂E/∂ε,
magnetic forces h = −∂E/∂m, per-site energies). Drivers only ever talk to this protocol.

Monte Carlo needs one more capability (DESIGN §4): ``local_energy_changes(state, sites,
new_moments)`` returns, for each proposal k, the exact energy change ΔE_k of setting the moment
of site ``sites[k]`` to ``new_moments[k]`` *with every other moment as in ``state``*. Proposals
are independent of each other (each is measured against the unmodified state), so a driver may
evaluate many at once; ΔE's of sites whose receptive fields do not overlap add up.

Symmetry declarations: a potential declares ``spin_orbit`` (True when moments and space rotate
only together) and optionally ``broken_symmetries``, a frozenset of names from
:data:`SYMMETRIES` it breaks on purpose (a Zeeman field breaks time reversal and rotations, a
fixed-axis anisotropy breaks joint rotation, DMI breaks inversion). The checks in
:mod:`spinlattice.testing` require every other symmetry to hold exactly.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .properties import ENERGIES, ENERGY, FORCES, MAGNETIC_FORCES, STRESS, check_properties

#: Names of the exact symmetries of DESIGN §1.
SYMMETRIES = (
    "translation", "permutation", "supercell", "joint_rotation", "inversion",
    "time_reversal", "spin_rotation",
)


@runtime_checkable
class Potential(Protocol):
    """E(R, cell, m) with derivatives.

    Attributes
    ----------
    cutoff : float, Å — interaction range of one evaluation step (pair cutoff / r_max).
    receptive_field : float, Å — a change of m_i changes site energies only of atoms within this
        distance of i (n_layers × r_cut for message passing, the cutoff for pair models).
    spin_orbit : bool — False: E is invariant under rotating all moments alone.
    """

    cutoff: float
    receptive_field: float
    spin_orbit: bool

    def compute(self, state, properties=("energy",)) -> dict:
        """Return a dict with the requested properties (names and shapes in ``properties``)."""
        ...


@runtime_checkable
class LocalMomentPotential(Potential, Protocol):
    """A potential that evaluates many independent single-site moment proposals in one call."""

    def local_energy_changes(self, state, sites, new_moments) -> np.ndarray:
        """ΔE_k (eV), shape (K,), of m[sites[k]] → new_moments[k] (K, 3), each alone."""
        ...


def broken_symmetries(potential) -> frozenset:
    """The symmetries ``potential`` declares broken, plus ``spin_rotation`` when it has SOC."""
    broken = set(getattr(potential, "broken_symmetries", ()))
    if potential.spin_orbit:
        broken.add("spin_rotation")
    return frozenset(broken)


def coupling_range(potential) -> float:
    """Distance (Å) beyond which the moments of two sites never share an energy term, so their
    single-site ΔE's add up and they may be updated together.

    A potential may declare ``coupling_range``; the safe default is 2 × ``receptive_field`` (a
    site energy E_j depends on moments within the receptive field of j, so m_i and m_k meet in
    some E_j only when |r_i − r_k| < 2 × receptive_field). For pair models it is the cutoff, for
    on-site terms 0.
    """
    declared = getattr(potential, "coupling_range", None)
    return float(2.0 * potential.receptive_field if declared is None else declared)


def moment_limits(potential) -> dict:
    """Per-element largest valid |m| (μB) the potential declares, ``{}`` when unbounded."""
    return dict(getattr(potential, "max_moment", None) or {})


class SumPotential:
    """E = Σ_t E_t of several potentials (e.g. mMACE + Zeeman + anisotropy).

    Every property is the sum of the terms' properties; the cutoff and receptive field are the
    largest of the terms; ``spin_orbit`` is true if any term has it; broken symmetries are the
    union. ``local_energy_changes`` is available when every term provides it.
    """

    def __init__(self, *terms):
        if len(terms) == 1 and isinstance(terms[0], (list, tuple)):
            terms = tuple(terms[0])
        if not terms:
            raise ValueError("SumPotential needs at least one term")
        for term in terms:
            if not isinstance(term, Potential):
                raise TypeError(f"{term!r} does not implement the Potential protocol")
        self.terms = tuple(terms)
        self.cutoff = max(t.cutoff for t in terms)
        self.receptive_field = max(t.receptive_field for t in terms)
        self.spin_orbit = any(t.spin_orbit for t in terms)
        self.coupling_range = max(coupling_range(t) for t in terms)
        self.broken_symmetries = frozenset().union(*(broken_symmetries(t) for t in terms))
        limits = {}
        for term in terms:
            for z, m in moment_limits(term).items():
                limits[z] = min(m, limits.get(z, np.inf))
        self.max_moment = limits

    def __repr__(self):
        return "SumPotential(" + ", ".join(repr(t) for t in self.terms) + ")"

    def compute(self, state, properties=(ENERGY,)) -> dict:
        properties = check_properties(properties)
        total = {}
        for term in self.terms:
            for name, value in term.compute(state, properties).items():
                total[name] = total[name] + value if name in total else np.array(value, copy=True)
        if ENERGY in total:
            total[ENERGY] = float(total[ENERGY])
        return total

    def local_energy_changes(self, state, sites, new_moments) -> np.ndarray:
        missing = [t for t in self.terms if not isinstance(t, LocalMomentPotential)]
        if missing:
            raise NotImplementedError(f"terms without local_energy_changes: {missing}")
        return sum(t.local_energy_changes(state, sites, new_moments) for t in self.terms)


__all__ = [
    "Potential", "LocalMomentPotential", "SumPotential", "SYMMETRIES", "broken_symmetries",
    "coupling_range",
    "moment_limits", "ENERGY", "FORCES", "STRESS", "MAGNETIC_FORCES", "ENERGIES",
]
