"""The shipped battery passes a correct potential and catches each deliberate bug."""

import numpy as np
import pytest
from ase.build import bulk

from spinlattice.state import SpinLatticeState
from spinlattice.testing import check_potential
from toy_potential import ToyPotential


def perturbed_fe(rng, repeat=3, noise=0.1):
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(repeat)
    atoms.positions += rng.normal(scale=noise, size=atoms.positions.shape)
    moments = rng.normal(size=(len(atoms), 3))
    moments *= (2.2 / np.linalg.norm(moments, axis=1))[:, None]
    return SpinLatticeState.from_atoms(atoms, moments=moments)


def test_correct_potential_passes(rng):
    report = check_potential(ToyPotential(), perturbed_fe(rng), rng=rng)
    report.assert_ok(fd_tol=1e-6, sym_tol=1e-10)
    assert report.errors["locality"] == 0.0
    assert set(report.errors) >= {"fd_forces", "fd_stress", "fd_magnetic_forces", "translation",
                                  "permutation", "supercell", "joint_rotation", "inversion",
                                  "time_reversal", "spin_rotation", "sum_forces",
                                  "sum_energies", "locality", "local_delta"}


@pytest.mark.parametrize("bug, caught", [
    ("force_sign", "fd_forces"),
    ("nonlocal", "locality"),
    ("odd_in_m", "time_reversal"),
])
def test_bugs_are_caught(rng, bug, caught):
    report = check_potential(ToyPotential(bug=bug), perturbed_fe(rng), rng=rng)
    failed = report.failures(fd_tol=1e-6, sym_tol=1e-10)
    assert any(f.startswith(caught) for f in failed), (bug, failed)


def test_spin_rotation_breaking_is_reported_not_required(rng):
    class WithAxis(ToyPotential):
        spin_orbit = True  # a fixed-axis anisotropy: E += K Σ m_z²

        def compute(self, state, properties=("energy",)):
            out = super().compute(state, properties)
            mz = state.moments[:, 2]
            if "energy" in out:
                out["energy"] += 0.01 * float(np.sum(mz**2))
            if "energies" in out:
                out["energies"] = out["energies"] + 0.01 * mz**2
            if "magnetic_forces" in out:
                out["magnetic_forces"][:, 2] -= 0.02 * mz
            return out

    pot = WithAxis()
    pot.broken_symmetries = frozenset({"joint_rotation"})
    report = check_potential(pot, perturbed_fe(rng), rng=rng)
    report.assert_ok(fd_tol=1e-6, sym_tol=1e-10)
    assert report.errors["spin_rotation"] > 1e-4
    assert report.errors["joint_rotation"] > 1e-4
