"""The ``Potential`` protocol every energy model implements, their sum and committee mean.

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


def _combine(combined, parts, kind, noun):
    """Check ``parts`` (potentials, given as arguments or as one list) and set on ``combined``
    what the protocol asks of a potential built from them: the largest cutoff, receptive field
    and coupling range, SOC if any part has it, the union of the broken symmetries and the
    smallest per-element moment limit. Returns the parts as a tuple."""
    if len(parts) == 1 and isinstance(parts[0], (list, tuple)):
        parts = tuple(parts[0])
    if not parts:
        raise ValueError(f"{kind} needs at least one {noun}")
    for part in parts:
        if not isinstance(part, Potential):
            raise TypeError(f"{part!r} does not implement the Potential protocol")
    combined.cutoff = max(t.cutoff for t in parts)
    combined.receptive_field = max(t.receptive_field for t in parts)
    combined.spin_orbit = any(t.spin_orbit for t in parts)
    combined.coupling_range = max(coupling_range(t) for t in parts)
    combined.broken_symmetries = frozenset().union(*(broken_symmetries(t) for t in parts))
    limits = {}
    for part in parts:
        for z, m in moment_limits(part).items():
            limits[z] = min(m, limits.get(z, np.inf))
    combined.max_moment = limits
    return tuple(parts)


def _require_local_changes(parts):
    """Raise NotImplementedError naming the parts that have no ``local_energy_changes``."""
    missing = [t for t in parts if not isinstance(t, LocalMomentPotential)]
    if missing:
        raise NotImplementedError(f"parts without local_energy_changes: {missing}")


class SumPotential:
    """E = Σ_t E_t of several potentials (e.g. mMACE + Zeeman + anisotropy).

    Every property is the sum of the terms' properties; the cutoff and receptive field are the
    largest of the terms; ``spin_orbit`` is true if any term has it; broken symmetries are the
    union. ``local_energy_changes`` is available when every term provides it.
    """

    def __init__(self, *terms):
        self.terms = _combine(self, terms, "SumPotential", "term")

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
        _require_local_changes(self.terms)
        return sum(t.local_energy_changes(state, sites, new_moments) for t in self.terms)


class CommitteePotential:
    """E = (1/K) Σ_k E_k: the mean of a committee of K potentials trained independently (other
    seeds, architectures or loss weights) on the same data.

    Every property is the mean of the members' properties (all are linear in E), so the
    committee is one potential like any other. Its spread, the sample standard deviation
    σ_p = [Σ_k (p_k − p̄)² / (K − 1)]^½ of each property (:meth:`spread`), estimates the model
    error of a configuration: large where the members extrapolate differently (query by
    committee, Seung, Opper & Sompolinsky, COLT 1992; for interatomic potentials e.g. Smith et
    al., J. Chem. Phys. 148, 241733 (2018)); docs/accuracy.md measures how well σ_E ranks the
    errors of an Fe committee. Attributes combine as in :class:`SumPotential`.
    """

    def __init__(self, *members):
        self.members = _combine(self, members, "CommitteePotential", "member")

    def __repr__(self):
        return "CommitteePotential(" + ", ".join(repr(m) for m in self.members) + ")"

    def member_results(self, state, properties=(ENERGY,)) -> list:
        """One ``compute`` result per member, in order."""
        properties = check_properties(properties)
        return [m.compute(state, properties) for m in self.members]

    def compute(self, state, properties=(ENERGY,)) -> dict:
        return self.compute_with_spread(state, properties)[0]

    def spread(self, state, properties=(ENERGY,)) -> dict:
        """σ_p of each property across the members (same shapes and units as ``compute``; eV
        for the energy); zeros for a committee of one."""
        return self.compute_with_spread(state, properties)[1]

    def compute_with_spread(self, state, properties=(ENERGY,)) -> tuple:
        """(``compute``, ``spread``) from one evaluation of each member."""
        return mean_and_spread(self.member_results(state, properties))

    def local_energy_changes(self, state, sites, new_moments) -> np.ndarray:
        _require_local_changes(self.members)
        return np.mean([m.local_energy_changes(state, sites, new_moments)
                        for m in self.members], axis=0)


def mean_and_spread(results):
    """({name: mean}, {name: sample standard deviation, zeros for one result}) over a list of
    dicts of equally shaped values; an "energy" entry becomes a float."""
    mean, spread = {}, {}
    for name in results[0]:
        values = np.array([r[name] for r in results], dtype=float)
        mean[name] = values.mean(axis=0)
        spread[name] = (values.std(axis=0, ddof=1) if len(results) > 1
                        else np.zeros_like(mean[name]))
    for d in (mean, spread):
        if ENERGY in d:
            d[ENERGY] = float(d[ENERGY])
    return mean, spread


__all__ = [
    "Potential", "LocalMomentPotential", "SumPotential", "CommitteePotential", "mean_and_spread",
    "SYMMETRIES", "broken_symmetries",
    "coupling_range",
    "moment_limits", "ENERGY", "FORCES", "STRESS", "MAGNETIC_FORCES", "ENERGIES",
]
