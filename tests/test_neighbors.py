"""The numba cell list gives exactly ASE's pairs and vectors, on random (triclinic, small,
partly periodic) cells."""

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_neighbor_list

from spinlattice.errors import InputError, OverlappingAtomsError
from spinlattice.neighbors import neighbor_list


def _canonical(i, j, shifts, vectors):
    order = np.lexsort((shifts[:, 2], shifts[:, 1], shifts[:, 0], j, i))
    return i[order], j[order], shifts[order], vectors[order]


def _random_case(rng):
    n = int(rng.integers(1, 25))
    while True:  # skew cells, but no plane spacing below 1 Å (keeps ASE's reference fast)
        cell = rng.normal(size=(3, 3)) * rng.uniform(1.0, 4.0) + np.eye(3) * rng.uniform(1.5, 6.0)
        if np.min(1 / np.linalg.norm(np.linalg.inv(cell), axis=0)) > 1.0:
            break
    pbc = rng.random(3) < 0.7
    frac = rng.random((n, 3)) + (rng.random((n, 3)) - 0.5) * 0.5  # some atoms outside the cell
    return frac @ cell, cell, pbc, float(rng.uniform(1.0, 6.0))


@pytest.mark.parametrize("seed", range(40))
def test_same_pairs_and_vectors_as_ase(seed):
    rng = np.random.default_rng(seed)
    positions, cell, pbc, cutoff = _random_case(rng)
    atoms = Atoms(numbers=[1] * len(positions), positions=positions, cell=cell, pbc=pbc)
    expected = _canonical(*ase_neighbor_list("ijSD", atoms, cutoff))
    nl = neighbor_list(positions, cell, pbc, cutoff, check_overlap=False)
    got = _canonical(nl.i, nl.j, nl.shifts, nl.vectors)
    assert len(got[0]) == len(expected[0])
    for a, b in zip(got[:3], expected[:3]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(got[3], expected[3], atol=1e-10)
    np.testing.assert_allclose(nl.distances, np.linalg.norm(nl.vectors, axis=1), atol=1e-12)
    assert np.all(np.diff(nl.i) >= 0), "rows must be grouped by i"


def test_tiny_cell_has_many_images():
    # one atom in a 2 Å simple cubic cell, cutoff 4.5 Å: every lattice vector with |n| 2 < 4.5
    nl = neighbor_list(np.zeros((1, 3)), np.eye(3) * 2.0, True, 4.5)
    n = np.arange(-3, 4)
    grid = np.array(np.meshgrid(n, n, n)).reshape(3, -1).T
    r = np.linalg.norm(grid * 2.0, axis=1)
    assert len(nl) == np.count_nonzero((r > 0) & (r < 4.5))


def test_molecule_without_cell():
    positions = np.array([[0.0, 0, 0], [1.0, 0, 0], [5.0, 0, 0]])
    nl = neighbor_list(positions, np.zeros((3, 3)), False, 2.0)
    assert sorted(zip(nl.i.tolist(), nl.j.tolist())) == [(0, 1), (1, 0)]


def test_overlapping_atoms_are_an_error():
    positions = np.array([[0.0, 0, 0], [0.3, 0, 0]])
    with pytest.raises(OverlappingAtomsError, match="0.300 Å apart"):
        neighbor_list(positions, np.eye(3) * 5, True, 3.0)


def test_overlap_across_periodic_boundary_is_found():
    positions = np.array([[0.1, 0, 0], [4.8, 0, 0]])
    with pytest.raises(OverlappingAtomsError, match="closer than 0.5"):
        neighbor_list(positions, np.eye(3) * 5, True, 3.0)


@pytest.mark.parametrize("cutoff", [0.0, -1.0, np.nan])
def test_bad_cutoff(cutoff):
    with pytest.raises(InputError, match="cutoff"):
        neighbor_list(np.zeros((1, 3)), np.eye(3), True, cutoff)


def test_singular_periodic_cell():
    with pytest.raises(InputError, match="singular"):
        neighbor_list(np.zeros((1, 3)), np.diag([1.0, 1.0, 0.0]), True, 1.0)
