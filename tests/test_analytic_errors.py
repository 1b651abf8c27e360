"""Invalid parameters and inputs of the analytic terms give clear errors."""

import numpy as np
import pytest
from ase.build import bulk

from spinlattice.errors import InputError
from spinlattice.potentials import (
    BetheSlater, BulkDMI, CubicAnisotropy, CubicDecay, Heisenberg, Landau, Morse, ShellTable,
    UniaxialAnisotropy, Zeeman,
)
from spinlattice.state import SpinLatticeState


def fe_co_state():
    atoms = bulk("Fe", "bcc", a=2.866, cubic=True)
    atoms.numbers[1] = 27
    return SpinLatticeState.from_atoms(atoms, moments=[[0, 0, 2.2], [0, 0, 1.6]])


@pytest.mark.parametrize("make, match", [
    (lambda: ShellTable({("Xx", "Fe"): [(2.5, 1e-3)]}), "unknown species 'Xx'"),
    (lambda: ShellTable({("Fe", "Fe"): [(-2.5, 1e-3)]}), "must be positive"),
    (lambda: ShellTable({("Fe", "Fe"): [(2.5, 1e-3), (2.5, 2e-3)]}), "same distance"),
    (lambda: ShellTable({("Fe", "Fe"): []}), "no shells"),
    (lambda: ShellTable({("Fe", "Fe"): [(2.5, float("nan"))]}), "finite"),
    (lambda: ShellTable({("Fe", "Fe"): [(2.5, 1e-3)], ("Fe", "Fe"): [(2.9, 1e-3)],
                         (26, 26): [(2.9, 1e-3)]}), "given twice"),
    (lambda: ShellTable({("Fe",): [(2.5, 1e-3)]}), "2-tuples"),
    (lambda: ShellTable({("Fe", "Fe"): [(2.5, 1e-3)]}, tolerance=-0.1), "non-negative"),
    (lambda: BetheSlater({"*": (0.02, 0.3, 0.0)}, cutoff=3.5), "delta must be positive"),
    (lambda: BetheSlater({"*": (0.02, 0.3, 2.0)}, cutoff=-1.0), "cutoff must be positive"),
    (lambda: BetheSlater({"*": (0.02, 0.3, 2.0)}, cutoff=3.0, taper=4.0), "longer than the cutoff"),
    (lambda: BetheSlater({"*": (0.02, 0.3)}, cutoff=3.0), "must be"),
    (lambda: BetheSlater({"*": (0.1, 0.3, 2.0), ("Fe", "Fe"): (0.1, 0.3, 2.0)}, cutoff=3.0), "cannot be combined"),
    (lambda: CubicDecay({"*": (0.01, 0.0)}), "r_c must be positive"),
    (lambda: Morse({"*": (0.4, -1.0, 2.8)}, cutoff=4.0), "alpha > 0"),
    (lambda: Morse({"*": (-0.4, 1.0, 2.8)}, cutoff=4.0), "D0 >= 0"),
    (lambda: Landau({"Fe": (-0.5, -0.1, 0.0)}), "unbounded below"),
    (lambda: Landau({"Fe": (-0.5, 0.1, -1e-3)}), "unbounded below"),
    (lambda: Landau({"Fe": (-0.5, 0.1)}), "3 finite numbers"),
    (lambda: Landau({"Qq": (0.1, 0.1, 0.0)}), "unknown species"),
    (lambda: UniaxialAnisotropy({"Fe": (1e-4, 0.0)}, axis=(0, 0, 0)), "non-zero"),
    (lambda: CubicAnisotropy({"Fe": (1e-4, 0.0)}, axes=np.diag([1.0, 2.0, 1.0])), "orthonormal"),
    (lambda: Zeeman((0.0, np.nan, 1.0)), "finite"),
    (lambda: Zeeman((0.0, 1.0)), "3 finite numbers"),
    (lambda: Heisenberg(0.01), "needs a coupling"),
])
def test_invalid_parameters(make, match):
    with pytest.raises(InputError, match=match):
        make()


@pytest.mark.parametrize("potential", [
    Heisenberg(ShellTable({("Fe", "Fe"): [(2.482, 7e-3)]})),
    BulkDMI(BetheSlater({("Fe", "Fe"): (1e-3, 0.3, 2.0)}, cutoff=3.0)),
    Morse({("Fe", "Fe"): (0.4, 1.4, 2.8)}, cutoff=4.0),
    Landau({"Fe": (-0.5, 0.1, 0.0)}),
    CubicAnisotropy({"Fe": (1e-4, 0.0)}),
])
def test_unknown_species_in_state(potential):
    with pytest.raises(InputError, match=r"no parameters for species \['Co'\]"):
        potential.compute(fe_co_state())


def test_pairs_without_entry_do_not_couple():
    """Known species, pair absent from the table: no coupling (Fe–Co below)."""
    state = fe_co_state()
    pot = Heisenberg(ShellTable({("Fe", "Fe"): [(2.866, 7e-3)], ("Co", "Co"): [(2.866, 5e-3)]}))
    e = pot.compute(state)["energy"]
    assert e == pytest.approx(-0.5 * 6 * (7e-3 * 2.2**2 + 5e-3 * 1.6**2))


def test_local_energy_changes_shape_mismatch():
    state = fe_co_state()
    with pytest.raises(InputError, match="2 sites but 1 new moments"):
        Heisenberg(CubicDecay({"*": (0.01, 3.0)})).local_energy_changes(
            state, np.array([0, 1]), np.zeros((1, 3)))
    with pytest.raises(InputError):
        Zeeman((0, 0, 1)).local_energy_changes(state, np.array([0]), np.zeros((2, 3)))


@pytest.mark.parametrize("potential", [
    Heisenberg(CubicDecay({"*": (0.01, 3.0)})), Morse({"*": (0.4, 1.4, 2.8)}, cutoff=4.0),
    Landau({"*": (-0.5, 0.1, 0.0)}), Zeeman((0, 0, 1)),
])
@pytest.mark.parametrize("sites, new, match", [
    ([2], [[0, 0, 1]], r"sites must be in 0..1"),
    ([-1], [[0, 0, 1]], r"sites must be in 0..1"),
    ([0], [[0, np.nan, 1]], "NaN"),
    ([0], [[0, 1]], r"shape \(K, 3\)"),
])
def test_bad_proposals_are_refused_before_the_kernels(potential, sites, new, match):
    """The numba kernels do not check bounds: bad proposals must not reach them."""
    with pytest.raises(InputError, match=match):
        potential.local_energy_changes(fe_co_state().replace(numbers=[26, 26]), sites, new)


def test_stress_of_non_periodic_pair_term_is_refused():
    state = SpinLatticeState([[0, 0, 0], [2.5, 0, 0]], [26, 26], np.zeros((3, 3)), [False] * 3,
                             [[0, 0, 1], [0, 0, 1]])
    with pytest.raises(InputError, match="periodic"):
        Heisenberg(CubicDecay({"*": (0.01, 3.0)})).compute(state, ("stress",))


def test_unknown_property_name():
    with pytest.raises(ValueError, match="unknown property"):
        Zeeman((0, 0, 1)).compute(fe_co_state(), ("magnetic_force",))
