"""Analytic terms against hand-computed values: conventions, signs, units, periodic images."""

import numpy as np
import pytest
from ase.build import bulk

from spinlattice.potential import SumPotential
from spinlattice.potentials.pair import FinnisSinclair
from spinlattice.potentials import (
    BetheSlater, Biquadratic, BulkDMI, CubicAnisotropy, CubicDecay, Heisenberg, InterfacialDMI,
    Landau, Morse, ShellTable, UniaxialAnisotropy, Zeeman,
)
from spinlattice.state import SpinLatticeState
from spinlattice.units import MU_B

ALL = ("energy", "energies", "forces", "magnetic_forces")


def dimer(r, m1, m2, numbers=(26, 26)):
    """Two atoms on the x axis, no periodicity."""
    return SpinLatticeState([[0, 0, 0], [r, 0, 0]], numbers, np.zeros((3, 3)), [False] * 3,
                            np.array([m1, m2], dtype=float))


def test_heisenberg_dimer_counts_the_pair_once():
    """E = −J m1·m2 (not −2J), split half/half; h1 = J m2; force from J'(r)."""
    j0, rc, r = 0.01, 3.5, 2.5
    coupling = CubicDecay({("Fe", "Fe"): (j0, rc)})
    m1, m2 = np.array([0.3, -1.2, 1.7]), np.array([1.1, 0.4, -2.0])
    out = Heisenberg(coupling).compute(dimer(r, m1, m2), ALL)
    j = j0 * (1 - r / rc) ** 3
    assert out["energy"] == pytest.approx(-j * m1 @ m2, rel=1e-14)
    np.testing.assert_allclose(out["energies"], [-j * m1 @ m2 / 2] * 2, rtol=1e-14)
    np.testing.assert_allclose(out["magnetic_forces"], [j * m2, j * m1], rtol=1e-14)
    dj = -3 * j0 * (1 - r / rc) ** 2 / rc
    # F_2 = −∂E/∂x_2 = J'(r) m1·m2 along +x
    np.testing.assert_allclose(out["forces"][1], [dj * (m1 @ m2), 0, 0], rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(out["forces"][0], -out["forces"][1], rtol=1e-14)


def test_biquadratic_and_dmi_dimers():
    r = 2.4
    coupling = CubicDecay({"*": (0.02, 3.0)})
    c = 0.02 * (1 - r / 3.0) ** 3
    m1, m2 = np.array([0.0, 2.0, 0.0]), np.array([0.0, 0.5, 1.5])
    assert Biquadratic(coupling).compute(dimer(r, m1, m2))["energy"] == pytest.approx(-c * (m1 @ m2) ** 2)
    # r̂ = x, m1 × m2 = (3, 0, 0): E = D(r) r̂·(m1 × m2) = 3 D(r), whichever atom comes first
    dmi = BulkDMI(coupling)
    assert dmi.compute(dimer(r, m1, m2))["energy"] == pytest.approx(3 * c)
    swapped = SpinLatticeState([[r, 0, 0], [0, 0, 0]], [26, 26], np.zeros((3, 3)), [False] * 3,
                               np.array([m2, m1]))
    assert dmi.compute(swapped)["energy"] == pytest.approx(3 * c)
    assert dmi.compute(dimer(r, m2, m1))["energy"] == pytest.approx(-3 * c)
    # interfacial, normal z: D_12 = D(r) ẑ × x̂ = D(r) ŷ; m1 × m2 ∥ x̂ gives 0, a y-component counts
    film = InterfacialDMI(coupling, normal=(0, 0, 2))
    assert film.compute(dimer(r, m1, m2))["energy"] == pytest.approx(0.0, abs=1e-15)
    a, b = np.array([0.0, 0.0, 1.5]), np.array([2.0, 0.0, 0.0])  # a × b = (0, 3, 0)
    assert film.compute(dimer(r, a, b))["energy"] == pytest.approx(3 * c)


def shells_j1_j2(j1, j2):
    return ShellTable({("Fe", "Fe"): [(2.866 * np.sqrt(3) / 2, j1), (2.866, j2)]})


@pytest.mark.parametrize("cubic", [True, False])
def test_bcc_ferromagnet_is_half_z_j_m2_per_atom(cubic):
    """E/atom = −½ (8 J1 + 6 J2) m² in the 2-atom cubic cell and the 1-atom primitive cell
    (where every neighbour is a periodic image of the atom itself)."""
    atoms = bulk("Fe", "bcc", a=2.866, cubic=cubic)
    m = np.tile([0.0, 0.0, 2.2], (len(atoms), 1))
    state = SpinLatticeState.from_atoms(atoms, moments=m)
    j1, j2 = 7e-3, 3.8e-3
    pot = Heisenberg(shells_j1_j2(j1, j2))
    e = pot.compute(state, ("energy", "stress"))
    assert e["energy"] / len(atoms) == pytest.approx(-0.5 * (8 * j1 + 6 * j2) * 2.2**2, rel=1e-13)
    np.testing.assert_allclose(e["stress"], 0.0, atol=1e-15)  # flat shells: rigid lattice
    # a single-site change in the primitive cell changes every (self-image) bond of the site
    new = np.array([[0.0, 1.0, 1.5]])
    delta = pot.local_energy_changes(state, np.array([0]), new)[0]
    moved = state.moments.copy()
    moved[0] = new[0]
    assert delta == pytest.approx(pot.compute(state.replace(moments=moved))["energy"]
                                  - e["energy"], abs=1e-14)


def test_bcc_antiferromagnet_flips_the_sign_of_j1():
    atoms = bulk("Fe", "bcc", a=2.866, cubic=True)
    state = SpinLatticeState.from_atoms(atoms, moments=[[0, 0, 2.0], [0, 0, -2.0]])
    j1, j2 = 7e-3, 3.8e-3
    e = Heisenberg(shells_j1_j2(j1, j2)).compute(state)["energy"] / 2
    assert e == pytest.approx(-0.5 * (-8 * j1 + 6 * j2) * 4.0, rel=1e-13)


def test_shell_table_windows():
    table = ShellTable({("Fe", "Fe"): [(2.5, 1.0), (2.62, 2.0), (3.5, -1.0)]},
                       tolerance=0.05, taper=0.05)
    z = np.array([26])
    value = lambda r: table.evaluate(z, z, np.array([r]))[0][0]
    assert value(2.5) == 1.0 and value(2.62) == 2.0 and value(3.5) == -1.0
    assert value(3.5 + 0.049) == -1.0 and value(3.5 + 0.1) == 0.0 and value(3.0) == 0.0
    # the windows of the close pair end half way (2.56) and are continuous there
    assert abs(value(2.5599999)) < 1e-12 and abs(value(2.5600001)) < 1e-12
    r = np.linspace(2.3, 3.7, 20001)
    v, dv = table.evaluate(np.full_like(r, 26, dtype=int), np.full_like(r, 26, dtype=int), r)
    assert np.max(np.abs(np.diff(v))) < 2e-2  # no jumps
    np.testing.assert_allclose(np.gradient(v, r)[1:-1], dv[1:-1], atol=2e-2 * np.max(np.abs(dv)))
    assert table.cutoff == pytest.approx(3.6)


def test_bethe_slater_formula_and_smooth_cutoff():
    a, g, d, rc = 0.03, 0.4, 1.8, 4.0
    bs = BetheSlater({"*": (a, g, d)}, cutoff=rc, taper=0.5)
    z = np.array([26, 26])
    r = np.array([2.5, 3.0])
    v, _ = bs.evaluate(z, z, r)
    x = r / d
    np.testing.assert_allclose(v, 4 * a * x**2 * (1 - g * x**2) * np.exp(-x**2), rtol=1e-14)
    v, dv = bs.evaluate(z[:1], z[:1], np.array([rc]))
    assert v[0] == 0.0 and dv[0] == 0.0


def test_morse_dimer_minimum_and_force():
    morse = Morse({("Fe", "Fe"): (0.4174, 1.3885, 2.845)}, cutoff=4.5, taper=1.0)
    out = morse.compute(dimer(2.845, [0, 0, 1], [0, 0, 1]), ALL)
    assert out["energy"] == pytest.approx(-0.4174, rel=1e-14)
    np.testing.assert_allclose(out["forces"], 0.0, atol=1e-14)
    np.testing.assert_allclose(out["magnetic_forces"], 0.0)
    compressed = morse.compute(dimer(2.6, [0, 0, 1], [0, 0, 1]), ALL)
    assert compressed["forces"][1, 0] > 0  # repulsive: atom 2 pushed along +x
    assert morse.compute(dimer(4.6, [0, 0, 1], [0, 0, 1]))["energy"] == 0.0


def test_onsite_values():
    m = np.array([[0.0, 0.0, 2.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]) * np.array([[1], [1 / np.sqrt(3)], [1]])
    state = SpinLatticeState(np.eye(3) * 3.0, [26, 26, 26], np.eye(3) * 9.0, [True] * 3, m)
    landau = Landau({"Fe": (-0.4, 0.05, 0.002)}).compute(state, ALL)
    m2 = np.array([4.0, 1.0, 0.0])
    np.testing.assert_allclose(landau["energies"], -0.4 * m2 + 0.05 * m2**2 + 0.002 * m2**3)
    assert np.all(landau["magnetic_forces"][2] == 0.0)  # smooth at m = 0
    uni = UniaxialAnisotropy({"Fe": (1e-4, 1e-5)}, axis=(0, 0, 3)).compute(state, ALL)
    np.testing.assert_allclose(uni["energies"], [-4e-4 - 16e-5, -(1e-4 / 3 + 1e-5 / 9), 0.0])
    cub = CubicAnisotropy({"Fe": (2e-4, 3e-5)}).compute(state, ALL)
    np.testing.assert_allclose(cub["energies"], [0.0, 2e-4 / 3 + 3e-5 / 27, 0.0], atol=1e-20)
    zee = Zeeman((0.0, 0.0, 1.0)).compute(state, ALL)
    np.testing.assert_allclose(zee["energies"], [-2.0 * MU_B, -MU_B / np.sqrt(3), 0.0])
    np.testing.assert_allclose(zee["magnetic_forces"], np.tile([0, 0, MU_B], (3, 1)))


def test_landau_minimum_where_expected():
    """A < 0 < B, C = 0: the energy is minimal at |m|² = −A/(2B)."""
    a, b = -0.4, 0.05
    sizes = np.linspace(0.1, 4.0, 3901)
    states = np.stack([np.zeros_like(sizes), np.zeros_like(sizes), sizes], axis=1)
    state = SpinLatticeState(np.zeros((len(sizes), 3)) + np.arange(len(sizes))[:, None],
                             np.full(len(sizes), 26), np.zeros((3, 3)), [False] * 3, states)
    e = Landau({"*": (a, b, 0.0)}).compute(state, ("energies",))["energies"]
    assert sizes[np.argmin(e)] == pytest.approx(np.sqrt(-a / (2 * b)), abs=1e-3)


def test_geometry_cache_notices_in_place_changes():
    """Positions changed in place (same state object) must not reuse a stale neighbour list."""
    atoms = bulk("Fe", "bcc", a=2.866, cubic=True).repeat(2)
    rng = np.random.default_rng(0)
    state = SpinLatticeState.from_atoms(atoms, moments=rng.normal(size=(16, 3)))
    pot = Heisenberg(BetheSlater({"*": (0.02, 0.3, 2.0)}, cutoff=3.5, taper=0.5))
    e0 = pot.compute(state)["energy"]
    state.positions[3] += [0.1, -0.05, 0.02]
    e1 = pot.compute(state)["energy"]
    fresh = Heisenberg(BetheSlater({"*": (0.02, 0.3, 2.0)}, cutoff=3.5, taper=0.5))
    assert e1 != e0 and e1 == pytest.approx(fresh.compute(state)["energy"], rel=1e-14)


def test_terms_with_different_cutoffs_share_neighbour_lists_correctly():
    """A short-range term evaluated after a long-range one at the same positions."""
    atoms = bulk("Fe", "bcc", a=2.866, cubic=True).repeat(2)
    rng = np.random.default_rng(4)
    state = SpinLatticeState.from_atoms(atoms, moments=rng.normal(size=(16, 3)))
    long = Heisenberg(CubicDecay({"*": (0.01, 4.5)}))
    short = Heisenberg(CubicDecay({"*": (0.01, 2.7)}))
    total = SumPotential(long, short).compute(state)["energy"]
    alone = Heisenberg(CubicDecay({"*": (0.01, 2.7)})).compute(state.copy())["energy"]
    assert total == pytest.approx(long.compute(state.copy())["energy"] + alone, rel=1e-13)


def test_repr_names_parameters():
    assert "ShellTable" in repr(Heisenberg(shells_j1_j2(1e-3, 5e-4)))
    assert "Zeeman(field=[0.0, 0.0, 2.0])" == repr(Zeeman((0, 0, 2)))
    assert "Landau" in repr(Landau({"Fe": (-0.1, 0.01, 0.0)}))


def test_finnis_sinclair_iron_reproduces_its_fit():
    """Finnis & Sinclair (1984) fitted α-Fe: a₀ = 2.8665 Å (zero pressure), E_coh = 4.28 eV,
    C11 = 2.43 Mbar."""
    fs = FinnisSinclair.iron()
    state = SpinLatticeState.from_atoms(bulk("Fe", "bcc", a=2.8665, cubic=True),
                                        moments=np.zeros((2, 3)))
    out = fs.compute(state, ("energy", "stress"))
    assert out["energy"] / 2 == pytest.approx(-4.28, abs=5e-4)
    assert np.max(np.abs(out["stress"])) < 1e-6  # eV/Å³ (< 0.2 MPa)
    h = 1e-5
    sigma = []
    for e in (h, -h):
        deform = np.diag([1 + e, 1.0, 1.0])
        strained = state.replace(positions=state.positions @ deform.T, cell=state.cell @ deform.T)
        sigma.append(fs.compute(strained, ("stress",))["stress"][0, 0])
    c11_gpa = (sigma[0] - sigma[1]) / (2 * h) * 160.21766208
    assert c11_gpa == pytest.approx(243.0, abs=1.5)


def test_finnis_sinclair_at_vanishing_density_stays_finite():
    fs = FinnisSinclair.iron()
    far = fs.compute(dimer(4.0, [0, 0, 1], [0, 0, 1]), ALL)
    assert far["energy"] == 0.0 and np.all(far["forces"] == 0.0)
    edge = fs.compute(dimer(3.5697, [0, 0, 1], [0, 0, 1]), ALL)  # just inside d
    assert np.all(np.isfinite(edge["forces"])) and abs(edge["forces"][0, 0]) < 2 * 1.828905
