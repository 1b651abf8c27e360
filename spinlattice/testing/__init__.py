"""Shipped physics checks for any :class:`~spinlattice.potential.Potential`.

    report = check_potential(potential, state, rng=np.random.default_rng(0))
    report.assert_ok(fd_tol=1e-6, sym_tol=1e-10)

``report.errors`` maps each check to the worst error found (see :mod:`.checks`); symmetries the
potential declares broken (``broken_symmetries``, and ``spin_rotation`` when ``spin_orbit``) are
measured and reported but not required, so a test can assert that a breaking is *detected*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..potential import LocalMomentPotential, broken_symmetries
from .checks import (
    finite_difference_errors,
    full_energy_changes,
    local_delta_error,
    locality_error,
    sum_rule_errors,
    symmetry_errors,
)

_SYMMETRY_KEYS = ("translation", "permutation", "supercell", "joint_rotation", "inversion",
                  "time_reversal", "spin_rotation")


@dataclass
class CheckReport:
    """Worst errors of every check, and the symmetries the potential declares broken."""

    errors: dict
    broken: frozenset = field(default_factory=frozenset)

    def failures(self, fd_tol=1e-6, sym_tol=1e-10, sum_tol=1e-10):
        """List of "name: error > tol" strings for every required check that failed.

        Relative tolerance ``fd_tol`` for the ``fd_*`` entries, absolute ``sym_tol`` for
        symmetries, locality and local ΔE, absolute ``sum_tol`` for sum rules. A NaN locality
        (state too small to test) is a failure: use a larger state.
        """
        failed = []
        for name, err in self.errors.items():
            if name in self.broken:
                continue
            if name == "sum_forces" and "translation" in self.broken:
                continue
            tol = fd_tol if name.startswith("fd_") else sum_tol if name.startswith("sum_") \
                else sym_tol
            if not err <= tol:  # also catches NaN
                failed.append(f"{name}: {err:.3e} > {tol:.1e}")
        return failed

    def assert_ok(self, **tolerances):
        failed = self.failures(**tolerances)
        if failed:
            raise AssertionError("physics checks failed:\n  " + "\n  ".join(failed)
                                 + f"\nall errors: {self.summary()}")

    def summary(self) -> str:
        return ", ".join(f"{k}={v:.2e}" for k, v in self.errors.items())


def check_potential(potential, state, rng=None, fd=True, symmetries=True, locality=True,
                    local_delta=True, fd_delta=1e-4):
    """Run the battery of DESIGN §6 rungs 1–2 on ``potential`` at ``state``.

    ``locality`` needs a state larger than twice the receptive field (else NaN is reported);
    ``local_delta`` runs when the potential implements ``local_energy_changes``.
    Returns a :class:`CheckReport`.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    errors = {}
    if fd:
        errors.update(finite_difference_errors(potential, state, rng, delta=fd_delta))
    if symmetries:
        errors.update(symmetry_errors(potential, state, rng))
    errors.update(sum_rule_errors(potential, state))
    if locality:
        errors["locality"] = locality_error(potential, state, rng)
    if local_delta and isinstance(potential, LocalMomentPotential):
        errors["local_delta"] = local_delta_error(potential, state, rng)
    return CheckReport(errors=errors, broken=broken_symmetries(potential))


__all__ = [
    "CheckReport", "check_potential", "finite_difference_errors", "symmetry_errors",
    "sum_rule_errors", "locality_error", "local_delta_error",
]
