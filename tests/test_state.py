import numpy as np
import pytest
from ase.build import bulk

from spinlattice.errors import InputError
from spinlattice.state import SpinLatticeState


def test_collinear_moments_become_vectors_along_z():
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True)
    atoms.set_initial_magnetic_moments([2.2, -2.2])
    s = SpinLatticeState.from_atoms(atoms)
    np.testing.assert_array_equal(s.moments, [[0, 0, 2.2], [0, 0, -2.2]])


def test_ase_round_trip_keeps_vector_moments(rng):
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(2)
    m = rng.normal(size=(len(atoms), 3))
    s = SpinLatticeState.from_atoms(atoms, moments=m)
    back = SpinLatticeState.from_atoms(s.to_atoms())
    for name in ("positions", "numbers", "cell", "pbc", "moments", "masses"):
        np.testing.assert_array_equal(getattr(back, name), getattr(s, name))
    assert s.to_atoms().get_initial_magnetic_moments().shape == (len(atoms), 3)


def test_replace_copies_arrays(rng):
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True)
    s = SpinLatticeState.from_atoms(atoms, moments=np.ones((2, 3)))
    t = s.replace(moments=np.zeros((2, 3)))
    t.positions[0, 0] = 99.0
    assert s.positions[0, 0] == 0.0 and s.moments[0, 0] == 1.0


def test_missing_moments_message():
    atoms = bulk("Fe", "bcc", a=2.83)
    del atoms.arrays["initial_magmoms"]  # ASE's bulk("Fe") sets moments by default
    with pytest.raises(InputError, match="no magnetic moments"):
        SpinLatticeState.from_atoms(atoms)


def test_momenta_are_converted_from_ase_units():
    import ase.units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(2)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    s = SpinLatticeState.from_atoms(atoms)
    # velocity in Å/fs: ASE's velocity is Å per ASE time unit
    v_fs = atoms.get_velocities() * ase.units.fs
    np.testing.assert_allclose(s.momenta / s.masses[:, None], v_fs, rtol=1e-14)
    np.testing.assert_allclose(s.to_atoms().get_momenta(), atoms.get_momenta(), rtol=1e-14)
