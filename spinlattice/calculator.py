"""An ASE calculator that wraps any :class:`~spinlattice.potential.Potential`.

Moments are read from ``atoms`` (``initial_magmoms``, via ``get_initial_magnetic_moments``);
collinear (N,) moments lie along z. Results (ASE names and units):

==================  =======  ==================================================
name                shape    meaning
==================  =======  ==================================================
``energy``          ()       E, eV (``free_energy`` is the same number)
``forces``          (N, 3)   −∂E/∂R, eV/Å
``stress``          (6,)     Voigt xx yy zz yz xz xy of (1/V) ∂E/∂ε, eV/Å³ (ASE sign)
``energies``        (N,)     per-site energies, eV
``magnetic_forces`` (N, 3)   h = −∂E/∂m, eV/μB (``calc.get_property("magnetic_forces", atoms)``)
==================  =======  ==================================================

The cache is invalidated by any change ASE notices (positions, numbers, cell, pbc, moments) and,
in addition, by any change of the moments at all, compared exactly against a copy of the moments
used for the cached result — so ``atoms.arrays["initial_magmoms"][0] = ...`` is always noticed,
however small. The calculator never writes into ``atoms``.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from .errors import InputError
from .potential import Potential
from .properties import ENERGIES, ENERGY, FORCES, MAGNETIC_FORCES, STRESS
from .state import SpinLatticeState, normalise_moments

#: ASE property name → potential property name.
_TO_POTENTIAL = {
    "energy": ENERGY, "free_energy": ENERGY, "forces": FORCES, "stress": STRESS,
    "energies": ENERGIES, "magnetic_forces": MAGNETIC_FORCES,
}


def _atoms_moments(atoms) -> np.ndarray:
    """The moments of ``atoms`` as (N, 3) μB; :class:`InputError` when there are none."""
    if not atoms.has("initial_magmoms"):
        raise InputError(
            "atoms carry no magnetic moments: set atoms.set_initial_magnetic_moments(...) "
            "((N,) collinear or (N, 3) vectors, μB) before using SpinLatticeCalculator"
        )
    return normalise_moments(atoms.get_initial_magnetic_moments(), len(atoms))


class SpinLatticeCalculator(Calculator):
    """ASE calculator for a spin-lattice :class:`~spinlattice.potential.Potential`.

    Parameters
    ----------
    potential : any object implementing the ``Potential`` protocol.
    **kwargs : passed to ``ase.calculators.calculator.Calculator``.

    Each calculation asks the potential for the requested property and the energy only; further
    properties of the same configuration are computed on demand and added to the cache.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies",
                              "magnetic_forces"]

    def __init__(self, potential, **kwargs):
        if not isinstance(potential, Potential):
            raise TypeError(f"{potential!r} does not implement the Potential protocol "
                            "(compute, cutoff, receptive_field, spin_orbit)")
        super().__init__(**kwargs)
        self.potential = potential
        self._moments_used = None  # (N, 3) copy of the moments of the cached results

    def reset(self):
        super().reset()
        self._moments_used = None

    def check_state(self, atoms, tol=1e-15):
        """ASE's checks, plus an exact comparison of the moments with those last used."""
        changes = super().check_state(atoms, tol=tol)
        if "initial_magmoms" not in changes and self._moments_used is not None:
            same = (atoms.has("initial_magmoms")
                    and np.shape(atoms.arrays["initial_magmoms"])[:1] == (len(atoms),))
            if same:
                try:
                    same = np.array_equal(_atoms_moments(atoms), self._moments_used)
                except InputError:
                    same = False
            if not same:
                changes.append("initial_magmoms")
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)  # self.atoms = atoms.copy()
        atoms = self.atoms
        moments = _atoms_moments(atoms)
        state = SpinLatticeState.from_atoms(atoms, moments=moments)
        unknown = [p for p in properties if p not in _TO_POTENTIAL]
        if unknown:
            raise InputError(f"SpinLatticeCalculator cannot compute {unknown}; it implements "
                             f"{self.implemented_properties}")
        wanted = {ENERGY} | {_TO_POTENTIAL[p] for p in properties}
        order = [p for p in (ENERGY, FORCES, STRESS, MAGNETIC_FORCES, ENERGIES) if p in wanted]
        out = self.potential.compute(state, tuple(order))
        self._moments_used = moments.copy()
        results = {}
        for name in order:
            if name not in out:
                continue
            value = out[name]
            if name == ENERGY:
                results["energy"] = results["free_energy"] = float(value)
            elif name == STRESS:
                results["stress"] = full_3x3_to_voigt_6_stress(np.asarray(value, dtype=float))
            else:
                results[name] = np.array(value, dtype=float, copy=True)
        self.results.update(results)


__all__ = ["SpinLatticeCalculator"]
