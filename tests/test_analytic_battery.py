"""Every analytic term passes the whole physics battery of spinlattice.testing in float64.

Two structures per term: perturbed bcc Fe 2×2×2 (16 atoms, random moments of varying length)
and a 3-atom triclinic Fe/Co cell smaller than the cutoff (many periodic images, two species).
FD errors ≤ 1e-6 relative, symmetries ≤ 1e-10 absolute; symmetries a term breaks on purpose
must be *detected* (error far above the tolerance).
"""

import numpy as np
import pytest
from ase.build import bulk

from spinlattice.potential import SumPotential
from spinlattice.potentials.pair import FinnisSinclair
from spinlattice.potentials import (
    BetheSlater, Biquadratic, BulkDMI, CubicAnisotropy, CubicDecay, Heisenberg, InterfacialDMI,
    Landau, Morse, ShellTable, UniaxialAnisotropy, Zeeman,
)
from spinlattice.sphere import random_rotation
from spinlattice.state import SpinLatticeState
from spinlattice.testing import check_potential

FE, CO = 26, 27
PAIRS = (("Fe", "Fe"), ("Fe", "Co"), ("Co", "Co"))


def random_moments(rng, n, size=2.2):
    m = rng.normal(size=(n, 3))
    return m / np.linalg.norm(m, axis=1)[:, None] * size * rng.uniform(0.7, 1.3, size=(n, 1))


def bcc_fe(rng):
    atoms = bulk("Fe", "bcc", a=2.866, cubic=True).repeat((2, 2, 2))
    positions = atoms.positions + rng.normal(scale=0.01, size=atoms.positions.shape)
    return SpinLatticeState(positions, atoms.numbers, np.array(atoms.cell), [True] * 3,
                            random_moments(rng, len(atoms)))


def triclinic_feco(rng):
    cell = np.array([[2.6, 0.2, 0.1], [0.5, 2.7, -0.2], [0.3, 0.6, 2.9]])
    frac = np.array([[0.0, 0.0, 0.0], [0.45, 0.55, 0.5], [0.1, 0.5, 0.2]])
    positions = frac @ cell + rng.normal(scale=0.01, size=(3, 3))
    return SpinLatticeState(positions, [FE, CO, FE], cell, [True] * 3, random_moments(rng, 3))


def by_pair(*rows):
    return dict(zip(PAIRS, rows))


def bethe_slater(alpha):
    return BetheSlater(by_pair((alpha, 0.3, 2.0), (0.7 * alpha, 0.2, 2.1), (0.5 * alpha, 0.4, 1.9)),
                       cutoff=3.6, taper=0.8)


SHELLS = ShellTable({("Fe", "Fe"): [(2.482, 7.1e-3), (2.866, 3.8e-3), (4.053, 3.4e-4)],
                     ("Fe", "Co"): [(2.5, 5e-3)], ("Co", "Co"): [(2.5, 4e-3)]})

TERMS = {
    "morse": Morse(by_pair((0.4174, 1.3885, 2.845), (0.35, 1.3, 2.8), (0.3, 1.4, 2.75)),
                   cutoff=3.8, taper=1.0),
    "finnis_sinclair": FinnisSinclair.iron(),
    "heisenberg_bethe_slater": Heisenberg(bethe_slater(0.02)),
    "heisenberg_cubic_decay": Heisenberg(CubicDecay(by_pair((0.01, 3.6), (0.008, 3.5), (0.006, 3.4)))),
    "heisenberg_shells": Heisenberg(SHELLS),
    "biquadratic": Biquadratic(bethe_slater(1e-3)),
    "bulk_dmi": BulkDMI(bethe_slater(2e-3)),
    "interfacial_dmi": InterfacialDMI(bethe_slater(2e-3), normal=(0.2, -0.3, 1.0)),
    "landau": Landau({"Fe": (-0.5, 0.05, 0.001), "Co": (-0.3, 0.08, 0.0)}),
    "uniaxial": UniaxialAnisotropy({"*": (1e-4, 2e-5)}, axis=(1.0, 1.0, 0.3)),
    "cubic": CubicAnisotropy({"Fe": (1e-4, 3e-5), "Co": (-5e-5, 1e-5)},
                             axes=random_rotation(np.random.default_rng(3))),
    "zeeman": Zeeman((0.3, -2.0, 5.0)),
}
PAIR_TERMS = {"morse", "finnis_sinclair", "heisenberg_bethe_slater", "heisenberg_cubic_decay", "heisenberg_shells",
              "biquadratic", "bulk_dmi", "interfacial_dmi"}
SPIN_ROTATION_INVARIANT = {"morse", "finnis_sinclair", "heisenberg_bethe_slater", "heisenberg_cubic_decay",
                           "heisenberg_shells", "biquadratic", "landau"}
EXPECTED_BROKEN = {
    "bulk_dmi": {"inversion", "spin_rotation"},
    "interfacial_dmi": {"inversion", "joint_rotation", "spin_rotation"},
    "uniaxial": {"joint_rotation", "spin_rotation"},
    "cubic": {"joint_rotation", "spin_rotation"},
    "zeeman": {"time_reversal", "joint_rotation", "spin_rotation"},
}


@pytest.mark.parametrize("structure", ["bcc_fe", "triclinic_feco"])
@pytest.mark.parametrize("name", sorted(TERMS))
def test_battery(name, structure):
    rng = np.random.default_rng(7)
    state = bcc_fe(rng) if structure == "bcc_fe" else triclinic_feco(rng)
    if (structure == "bcc_fe" and name == "heisenberg_shells") or name == "finnis_sinclair":
        state = state.replace(numbers=np.full(state.n_atoms, FE))  # single-species models
    potential = TERMS[name]
    # locality needs sites outside the receptive field: only the 16-atom cell, pair terms
    locality = structure == "bcc_fe" and name in PAIR_TERMS
    report = check_potential(potential, state, rng=np.random.default_rng(0), locality=locality)
    report.assert_ok(fd_tol=1e-6, sym_tol=1e-10)
    assert report.errors["local_delta"] <= 1e-10
    # the breaking of every symmetry the term does not have is detected, not just allowed
    for symmetry in EXPECTED_BROKEN.get(name, ()):
        assert symmetry in report.broken
        assert report.errors[symmetry] > 1e-7, (symmetry, report.summary())
    if name in SPIN_ROTATION_INVARIANT:
        assert not potential.spin_orbit
        assert report.errors["spin_rotation"] <= 1e-10
    else:
        assert report.errors["spin_rotation"] > 1e-7


def test_sum_of_all_terms_passes_battery():
    """The full spin-lattice model (Morse + exchange + DMI + Landau + anisotropy + field)."""
    rng = np.random.default_rng(11)
    state = bcc_fe(rng)
    total = SumPotential([TERMS[k] for k in sorted(TERMS) if k != "heisenberg_shells"])
    state = state.replace(numbers=np.full(state.n_atoms, FE))
    report = check_potential(total, state, rng=np.random.default_rng(1))
    report.assert_ok(fd_tol=1e-6, sym_tol=1e-10)
    assert report.broken == {"inversion", "joint_rotation", "spin_rotation", "time_reversal"}


@pytest.mark.parametrize("name", ["landau", "uniaxial", "cubic", "zeeman"])
def test_site_terms_are_strictly_local(name):
    """On-site terms (receptive field 0): changing m_i changes only E_i."""
    rng = np.random.default_rng(5)
    state = bcc_fe(rng)
    potential = TERMS[name]
    assert potential.receptive_field == 0.0
    base = potential.compute(state, ("energies",))["energies"]
    moments = state.moments.copy()
    moments[3] = random_moments(rng, 1)[0]
    changed = potential.compute(state.replace(moments=moments), ("energies",))["energies"]
    assert np.all(changed[np.arange(state.n_atoms) != 3] == base[np.arange(state.n_atoms) != 3])
    assert changed[3] != base[3]


def test_local_energy_changes_many_proposals_match_full_recomputation():
    """A batch of 40 proposals (repeated sites included) on the summed model, 1e-10."""
    rng = np.random.default_rng(2)
    state = bcc_fe(rng)
    total = SumPotential([TERMS[k] for k in sorted(TERMS)])
    state = state.replace(numbers=np.full(state.n_atoms, FE))
    sites = rng.integers(0, state.n_atoms, size=40)
    new = random_moments(rng, 40)
    batched = total.local_energy_changes(state, sites, new)
    e0 = total.compute(state)["energy"]
    for k, (s, m) in enumerate(zip(sites, new)):
        moments = state.moments.copy()
        moments[s] = m
        assert abs(total.compute(state.replace(moments=moments))["energy"] - e0 - batched[k]) < 1e-10
