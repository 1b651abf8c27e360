"""The ASE calculator: results equal the potential's, ASE conventions (Voigt stress), derivatives
agree with finite differences taken *through* the calculator (which also exercises the cache on
every in-place change), stale-cache protection, and it never writes into ``atoms``.
"""

import copy

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError, compare_atoms
from ase.stress import full_3x3_to_voigt_6_stress

from spinlattice.calculator import SpinLatticeCalculator
from spinlattice.errors import InputError
from spinlattice.neighbors import state_neighbor_list
from spinlattice.potential import SumPotential
from spinlattice.state import SpinLatticeState


class PairSpinPotential:
    """Test-only potential with analytic derivatives (independent of spinlattice.potentials).

    E = Σ_i a|m_i|² + ½ Σ_(i,j,S) (r_c − r)² (k − J m_i·m_j)   for r < r_c (full pair list),
    smooth (C¹) at r_c. Counts its ``compute`` calls so tests can see the cache at work.
    """

    spin_orbit = False

    def __init__(self, a=0.3, k=0.5, J=0.04, cutoff=3.0):
        self.a, self.k, self.J = a, k, J
        self.cutoff = self.receptive_field = cutoff
        self.calls = 0

    def compute(self, state, properties=("energy",)):
        self.calls += 1
        nl = state_neighbor_list(state, self.cutoff)
        i, j, d, r = nl.i, nl.j, nl.vectors, nl.distances
        m = state.moments
        x = self.cutoff - r
        coupling = self.k - self.J * np.einsum("pk,pk->p", m[i], m[j])
        energies = self.a * np.einsum("ik,ik->i", m, m)
        np.add.at(energies, i, 0.5 * x**2 * coupling)
        g = (0.5 * -2 * x * coupling / r)[:, None] * d  # ∂E/∂D_p for each directed pair
        de_dr = np.zeros_like(state.positions)
        np.add.at(de_dr, j, g)
        np.add.at(de_dr, i, -g)
        h = -2 * self.a * m
        w = (0.5 * self.J * x**2)[:, None]
        np.add.at(h, i, w * m[j])
        np.add.at(h, j, w * m[i])
        out = {"energy": float(energies.sum()), "energies": energies, "forces": -de_dr,
               "magnetic_forces": h,
               "stress": np.einsum("pa,pb->ab", g, d) / state.volume}
        return {name: out[name] for name in properties}


def make_atoms(rng, collinear=False):
    atoms = bulk("Fe", "bcc", a=2.87, cubic=True).repeat((2, 1, 1))
    atoms.set_cell(atoms.cell.array + rng.normal(scale=0.05, size=(3, 3)), scale_atoms=True)
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    n = len(atoms)
    atoms.set_initial_magnetic_moments(None)  # bulk() sets collinear ones; replace the array
    atoms.set_initial_magnetic_moments(rng.normal(2.0, 0.3, n) if collinear
                                       else rng.normal(size=(n, 3)) * 1.5)
    return atoms


def test_results_equal_the_potential(rng):
    atoms = make_atoms(rng)
    pot = PairSpinPotential()
    atoms.calc = SpinLatticeCalculator(pot)
    ref = pot.compute(SpinLatticeState.from_atoms(atoms),
                      ("energy", "forces", "stress", "magnetic_forces", "energies"))
    assert atoms.get_potential_energy() == ref["energy"]
    assert atoms.get_potential_energy(force_consistent=True) == ref["energy"]
    assert np.array_equal(atoms.get_forces(), ref["forces"])
    assert np.array_equal(atoms.get_potential_energies(), ref["energies"])
    assert np.array_equal(atoms.calc.get_property("magnetic_forces", atoms), ref["magnetic_forces"])
    stress = atoms.get_stress()
    assert stress.shape == (6,)  # ASE's Voigt form, xx yy zz yz xz xy
    assert np.array_equal(stress, full_3x3_to_voigt_6_stress(ref["stress"]))
    # ASE symmetrises: the off-diagonal pairs are averaged (the test stress is symmetric to rounding)
    assert np.array_equal(atoms.get_stress(voigt=False), 0.5 * (ref["stress"] + ref["stress"].T))
    assert atoms.get_potential_energies().sum() == pytest.approx(ref["energy"], rel=1e-13)
    with pytest.raises(PropertyNotImplementedError):
        atoms.calc.get_property("dipole", atoms)


def test_collinear_moments_lie_along_z(rng):
    atoms = make_atoms(rng, collinear=True)
    z = atoms.get_initial_magnetic_moments()
    vec = atoms.copy()
    vec.set_initial_magnetic_moments(None)
    vec.set_initial_magnetic_moments(np.stack([0 * z, 0 * z, z], axis=1))
    atoms.calc = SpinLatticeCalculator(PairSpinPotential())
    vec.calc = SpinLatticeCalculator(PairSpinPotential())
    assert atoms.get_potential_energy() == vec.get_potential_energy()
    assert np.array_equal(atoms.calc.get_property("magnetic_forces", atoms),
                          vec.calc.get_property("magnetic_forces", vec))


def _central(f, set_value, x0, h):
    set_value(x0 + h)
    ep = f()
    set_value(x0 - h)
    em = f()
    set_value(x0)
    return (ep - em) / (2 * h)


def test_derivatives_by_finite_differences_through_the_calculator(rng):
    """Forces, magnetic forces and Voigt stress against central differences of the energy.

    E is smooth and its third derivatives are O(1) eV/Å³, so with h = 1e-5 the truncation error
    is ~h² ~ 1e-10 and rounding ~1e-16·|E|/h ~ 1e-10: a tolerance of 1e-7 is safe and still
    catches any sign, factor-of-2 or index error (terms are O(1e-2..1)).
    Moments are changed *in place* (``arrays["initial_magmoms"][i, c] = ...``), so a stale cache
    would give zero differences and fail.
    """
    atoms = make_atoms(rng)
    atoms.calc = SpinLatticeCalculator(PairSpinPotential())
    forces = atoms.get_forces()
    h_mag = atoms.calc.get_property("magnetic_forces", atoms)
    stress = atoms.get_stress()
    energy = atoms.get_potential_energy
    h, tol = 1e-5, 1e-7
    for i in range(len(atoms)):
        for c in range(3):
            def set_pos(v, i=i, c=c):
                p = atoms.get_positions()
                p[i, c] = v
                atoms.set_positions(p)

            def set_mom(v, i=i, c=c):
                atoms.arrays["initial_magmoms"][i, c] = v

            dx = _central(energy, set_pos, atoms.positions[i, c], h)
            dm = _central(energy, set_mom, atoms.arrays["initial_magmoms"][i, c], h)
            assert abs(-dx - forces[i, c]) < tol, (i, c)
            assert abs(-dm - h_mag[i, c]) < tol, (i, c)
    assert np.abs(h_mag).max() > 1e-2 and np.abs(forces).max() > 1e-2  # not trivially zero
    cell0, vol = atoms.cell.array.copy(), atoms.get_volume()
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    for v, (a, b) in enumerate(voigt):
        def strain(e, a=a, b=b):
            eps = np.zeros((3, 3))
            eps[a, b] = eps[b, a] = e / (2 if a != b else 1)
            atoms.set_cell(cell0 @ (np.eye(3) + eps), scale_atoms=True)
        # σ_v = (1/V) ∂E/∂ε_v with the engineering shear strain for v ≥ 3 (ASE's Voigt form)
        ds = _central(energy, strain, 0.0, h) / vol
        assert abs(ds - stress[v]) < tol, v
    assert np.abs(stress).max() > 1e-3


def test_stale_cache_in_place_moment_change(rng):
    atoms = make_atoms(rng)
    pot = PairSpinPotential()
    atoms.calc = SpinLatticeCalculator(pot)
    e0 = atoms.get_potential_energy()
    atoms.get_forces()
    atoms.get_potential_energy()
    assert pot.calls == 2  # energy, then forces (energy is reused from cache)

    atoms.arrays["initial_magmoms"][0] = [0.0, 0.0, 3.0]
    e1 = atoms.get_potential_energy()
    assert pot.calls == 3 and e1 != e0
    fresh = SpinLatticeCalculator(PairSpinPotential()).get_potential_energy(atoms)
    assert e1 == fresh

    # a change below ASE's own tolerance (1e-15) is still noticed
    before = atoms.copy()
    m10 = atoms.arrays["initial_magmoms"][1, 0]
    atoms.arrays["initial_magmoms"][1, 0] = np.nextafter(m10, np.inf)  # one ulp
    assert 0 < abs(atoms.arrays["initial_magmoms"][1, 0] - m10) < 1e-15
    assert not compare_atoms(before, atoms, tol=1e-15)  # ASE alone would miss it
    atoms.get_potential_energy()
    assert pot.calls == 4

    # positions, cell and replacing the moments array all invalidate
    atoms.positions[0, 0] += 0.01
    atoms.get_potential_energy()
    atoms.set_initial_magnetic_moments(atoms.get_initial_magnetic_moments() * 0.5)  # new array
    atoms.get_potential_energy()
    atoms.set_cell(atoms.cell.array * 1.01, scale_atoms=True)
    atoms.get_potential_energy()
    assert pot.calls == 7
    # and no change, no new call
    atoms.get_potential_energy()
    assert pot.calls == 7


def test_never_writes_into_atoms(rng):
    atoms = make_atoms(rng)
    atoms.info["note"] = "keep me"
    arrays = copy.deepcopy(atoms.arrays)
    info = copy.deepcopy(atoms.info)
    cell, pbc = atoms.cell.array.copy(), atoms.pbc.copy()
    calc = SpinLatticeCalculator(PairSpinPotential())
    atoms.calc = calc
    atoms.get_potential_energy()
    atoms.get_forces()
    atoms.get_stress()
    atoms.get_potential_energies()
    calc.get_property("magnetic_forces", atoms)
    assert atoms.arrays.keys() == arrays.keys()
    for key in arrays:
        assert np.array_equal(atoms.arrays[key], arrays[key]), key
    assert atoms.info == info
    assert np.array_equal(atoms.cell.array, cell) and np.array_equal(atoms.pbc, pbc)
    assert atoms.calc is calc
    # results are copies: modifying them does not change the cache
    f = atoms.get_forces()
    f[:] = 0.0
    assert np.abs(atoms.get_forces()).max() > 0


def test_sum_potential_and_missing_moments(rng):
    atoms = make_atoms(rng)
    p1, p2 = PairSpinPotential(a=0.1), PairSpinPotential(a=0.2, k=0.0, J=-0.01)
    calc = SpinLatticeCalculator(SumPotential(p1, p2))
    e = calc.get_potential_energy(atoms)
    state = SpinLatticeState.from_atoms(atoms)
    assert e == pytest.approx(p1.compute(state)["energy"] + p2.compute(state)["energy"],
                              rel=1e-14)
    bare = Atoms("Fe2", positions=[[0, 0, 0], [1.4, 1.4, 1.4]], cell=np.eye(3) * 2.8, pbc=True)
    with pytest.raises(InputError, match="atoms carry no magnetic moments"):
        SpinLatticeCalculator(PairSpinPotential()).get_potential_energy(bare)


def test_rejects_non_potential():
    with pytest.raises(TypeError, match="does not implement the Potential protocol"):
        SpinLatticeCalculator(object())
