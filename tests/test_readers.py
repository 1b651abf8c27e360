"""TB2J and UppASD exchange readers: conventions, hand-summed shell energies, round trips and
malformed files."""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from spinlattice.errors import FileFormatError, InputError
from spinlattice.potentials import Heisenberg
from spinlattice.potentials.readers import (
    read_tb2j, read_tb2j_bonds, read_uppasd, read_uppasd_bonds, shell_table_from_bonds,
    write_uppasd,
)
from spinlattice.state import SpinLatticeState
from spinlattice.units import MEV, MRY

DATA = Path(__file__).parent / "data"
ABACUS = DATA / "fe_exchange_tb2j" / "Abacus_Fe_no_SOC.exchange.out"
SIESTA = DATA / "fe_exchange_tb2j" / "Siesta_bccFe.exchange.out"
UPPASD = DATA / "uppasd_bccfe" / "inpsd.dat"
M_ABACUS = 2.2949

# shell averages of the ABACUS file (meV, TB2J convention), from
# shared/data/fe_exchange_tb2j/tb2j_shell_averaged_Jiso.csv: J1, J2, J3 with z = 8, 6, 12
J_SHELLS_MEV = (18.68697, 9.92113, 0.89700)
Z_BCC = (8, 6, 12)


def bcc_state(a, moment, cubic=True, afm=False, repeat=1):
    atoms = bulk("Fe", "bcc", a=a, cubic=cubic).repeat(repeat)
    m = np.zeros((len(atoms), 3))
    m[:, 2] = moment
    if afm:  # B2 antiferromagnet: corner up, body centre down
        frac = atoms.get_scaled_positions() * repeat
        m[np.isclose((frac.sum(axis=1) * 2) % 2, 1.0), 2] *= -1
    return SpinLatticeState.from_atoms(atoms, moments=m)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_tb2j_abacus_parsed():
    bonds = read_tb2j_bonds(ABACUS)
    assert len(bonds.i) == 1370 and bonds.labels == ["Fe1", "Fe2"]
    np.testing.assert_allclose(bonds.cell, np.eye(3) * 2.866)
    np.testing.assert_allclose(bonds.moments, [M_ABACUS, M_ABACUS])
    assert bonds.exchange[0] == pytest.approx(18.6873 * MEV)  # first bond line of the file
    assert bonds.distances.min() == pytest.approx(2.866 * np.sqrt(3) / 2)
    # every listed bond has its reverse (TB2J counts each pair twice)
    forward = {(a, b, tuple(s)) for a, b, s in zip(bonds.i, bonds.j, bonds.shifts)}
    assert all((b, a, tuple(-np.array(s))) in forward for a, b, s in forward)
    # J_ours = 2 J_TB2J / |m|² (eV/μB²)
    assert bonds.exchange_per_moment()[0] == pytest.approx(2 * 18.6873e-3 / M_ABACUS**2)


def test_tb2j_ferromagnet_equals_hand_summed_shells():
    """First three shells: E/atom = −Σ_s z_s J_s (TB2J convention, unit vectors, meV)."""
    model = read_tb2j(ABACUS, max_distance=4.1)
    shells = list(model.coupling.shells().values())[0]
    assert [round(r, 3) for r, _ in shells] == [2.482, 2.866, 4.053]
    state = bcc_state(2.866, M_ABACUS)
    e = model.compute(state)["energy"] / state.n_atoms
    hand = -sum(z * j for z, j in zip(Z_BCC, J_SHELLS_MEV)) * MEV
    assert e == pytest.approx(hand, abs=5e-7)  # csv means are rounded to 1e-5 meV
    assert e == pytest.approx(-0.219786, abs=1e-6)
    # same number from a 2x2x2 supercell and from the 1-atom primitive cell
    big = bcc_state(2.866, M_ABACUS, repeat=2)
    assert model.compute(big)["energy"] / big.n_atoms == pytest.approx(e, rel=1e-12)
    prim = bcc_state(2.866, M_ABACUS, cubic=False)
    assert model.compute(prim)["energy"] == pytest.approx(e, rel=1e-12)


def test_tb2j_all_shells_and_antiferromagnet():
    """Every bond of the file (up to 17.4 Å): E_FM/atom = −Σ_{bonds} J / n_atoms exactly as
    in TB2J's own double-counted sum; the B2 antiferromagnet flips the odd shells."""
    bonds = read_tb2j_bonds(ABACUS)
    model = quiet(read_tb2j, ABACUS, max_distance=10.0)
    keep = bonds.distances <= 10.0
    state = bcc_state(2.866, M_ABACUS)
    e_fm = model.compute(state)["energy"] / 2
    assert e_fm == pytest.approx(-bonds.exchange[keep].sum() / 2, rel=1e-12)
    same_sublattice = bonds.i == bonds.j
    sign = np.where(same_sublattice, 1.0, -1.0)
    e_afm = model.compute(bcc_state(2.866, M_ABACUS, afm=True))["energy"] / 2
    assert e_afm == pytest.approx(-(sign * bonds.exchange)[keep].sum() / 2, rel=1e-12)
    assert e_afm - e_fm > 0.3  # ferromagnetic bcc Fe: the B2 antiferromagnet costs ≈ 0.33 eV/atom


def test_tb2j_siesta_primitive_cell():
    bonds = read_tb2j_bonds(SIESTA)
    assert len(bonds.labels) == 1 and bonds.moments[0] == pytest.approx(2.3197)
    model = read_tb2j(SIESTA, max_distance=2.9)
    cell = bonds.cell
    state = SpinLatticeState(bonds.positions, bonds.numbers, cell, [True] * 3, [[0, 0, 2.3197]])
    first_two = (bonds.distances < 2.9)
    hand = -bonds.exchange[first_two].sum()
    assert np.count_nonzero(first_two) == 14  # 8 + 6 neighbours of the single atom
    assert model.compute(state)["energy"] == pytest.approx(hand, rel=1e-12)


def test_uppasd_fixture_maptype_1():
    """Hand-written UppASD input (mRy): E/atom = −(8 J1 + 6 J2), same as the TB2J file."""
    model = read_uppasd(UPPASD, species="Fe")
    state = bcc_state(2.866, M_ABACUS, cubic=False)
    hand = -(8 * J_SHELLS_MEV[0] + 6 * J_SHELLS_MEV[1]) * MEV
    assert model.compute(state)["energy"] == pytest.approx(hand, rel=1e-9)
    tb2j = read_tb2j(ABACUS, max_distance=3.0)
    for (r1, j1), (r2, j2) in zip(list(model.coupling.shells().values())[0],
                                  list(tb2j.coupling.shells().values())[0]):
        assert r1 == pytest.approx(r2, abs=1e-6) and j1 == pytest.approx(j2, rel=1e-6)


@pytest.mark.parametrize("unit", ["mRy", "meV"])
def test_uppasd_round_trip_from_tb2j(tmp_path, unit):
    """TB2J → UppASD files (maptype 2, posfiletype D) → Heisenberg: same shells, same energy."""
    bonds = read_tb2j_bonds(ABACUS)
    inpsd, species = write_uppasd(bonds, tmp_path, unit=unit, max_distance=6.0)
    assert species == {1: "Fe"}
    back = read_uppasd(inpsd, species=species, unit=unit)
    ref = read_tb2j(ABACUS, max_distance=6.0)
    for (r1, j1), (r2, j2) in zip(list(back.coupling.shells().values())[0],
                                  list(ref.coupling.shells().values())[0]):
        assert r1 == pytest.approx(r2, rel=1e-9) and j1 == pytest.approx(j2, rel=1e-9)
    rng = np.random.default_rng(3)
    state = bcc_state(2.866, M_ABACUS, repeat=2)
    state = state.replace(moments=rng.normal(size=(16, 3)))
    assert back.compute(state)["energy"] == pytest.approx(ref.compute(state)["energy"], rel=1e-9)
    # reading the same numbers in the other unit scales J by the unit ratio
    other = "meV" if unit == "mRy" else "mRy"
    scaled = read_uppasd(inpsd, species=species, unit=other)
    ratio = {"mRy": MRY, "meV": MEV}
    assert scaled.compute(state)["energy"] == pytest.approx(
        ref.compute(state)["energy"] * ratio[other] / ratio[unit], rel=1e-9)


def test_reference_moments_override():
    bonds = read_tb2j_bonds(ABACUS)
    table = shell_table_from_bonds(bonds, max_distance=2.6, reference_moments={"Fe": 2.0})
    (r, j), = list(table.shells().values())[0]
    assert j == pytest.approx(2 * 18.68697e-3 / 4.0, rel=1e-5)


def test_inequivalent_bonds_in_one_shell_warn():
    with pytest.warns(UserWarning, match="7.446 Å differ"):
        read_tb2j(ABACUS, max_distance=7.5)


# ------------------------------------------------------------------------ malformed files ----
def _edit(tmp_path, source, transform, name="bad.exchange.out"):
    lines = Path(source).read_text().splitlines(keepends=True)
    path = tmp_path / name
    path.write_text("".join(transform(lines)))
    return path


def _line_of(lines, text):
    return next(k for k, line in enumerate(lines) if text in line)


TB2J_BREAKAGES = {
    # cut in the middle of a bond line
    "truncated mid-line": (lambda L: L[:_line_of(L, "(  0,   0,  -1) 17.9377") + 1][:-1]
                           + [L[_line_of(L, "(  0,   0,  -1) 17.9377")][:30]], r":\d+: malformed bond line"),
    "truncated after bond": (lambda L: L[:_line_of(L, "(  0,   0,  -1) 17.9377") + 1], "truncated after a bond"),
    "truncated in atoms": (lambda L: L[:_line_of(L, "Fe1             0.0000") + 1], "Atoms section truncated"),
    "truncated before exchange": (lambda L: L[:_line_of(L, "Exchange:")], "no exchange bonds"),
    "non-numeric J": (lambda L: [l.replace("17.9376   (", "17.9x76   (") for l in L], r":\d+: J_iso: non-numeric"),
    "non-numeric cell": (lambda L: [l.replace(" 2.467   0.000", " 2.467   abc") for l in L], r":1\d: cell row: non-numeric"),
    "unknown unit": (lambda L: [l.replace("J_iso(meV)", "J_iso(kcal/mol)") for l in L], "unknown energy unit 'kcal/mol'"),
    "unknown element": (lambda L: [l.replace("Fe1 ", "Xq1 ") for l in L], "'Xq1' is not an element"),
    "unknown atom in bond": (lambda L: [l.replace("   Fe1   Fe1   ( -1,   0,   0)", "   Fe1   Fe7   ( -1,   0,   0)") for l in L],
                             "'Fe7' is not in the Atoms section"),
    "wrong vector": (lambda L: [l.replace("(-2.467,  0.000,  0.000)", "(-2.467,  0.300,  0.000)") for l in L],
                     "does not match the cell"),
    "J_iso mismatch": (lambda L: [l.replace("J_iso: 17.9376", "J_iso: 19.9376") for l in L], "does not match its bond"),
    "empty file": (lambda L: [], "no 'Cell"),
}


@pytest.mark.parametrize("case", sorted(TB2J_BREAKAGES))
def test_malformed_tb2j(tmp_path, case):
    transform, match = TB2J_BREAKAGES[case]
    path = _edit(tmp_path, SIESTA, transform)
    with pytest.raises(FileFormatError, match=match) as info:
        read_tb2j(path)
    assert str(path) in str(info.value)


def _uppasd_copy(tmp_path):
    folder = tmp_path / "uppasd"
    shutil.copytree(UPPASD.parent, folder)
    return folder


UPPASD_BREAKAGES = {
    "jfile non-numeric": ("jfile", lambda t: t.replace("1.373466962", "1.37x466962", 1), r"jfile:2: J: non-numeric"),
    "jfile random alloy": ("jfile", lambda t: t.replace("1 1 -0.50 -0.50 -0.50", "1 1 1 1 -0.50 -0.50 -0.50", 1),
                           r"jfile:2: .*random-alloy"),
    "jfile truncated": ("jfile", lambda t: t[:t.index("0.729189605")], r"jfile:\d+: jfile line needs"),
    "jfile unknown type": ("jfile", lambda t: t.replace("1 1  0.00  0.00  1.00", "1 2  0.00  0.00  1.00"), "type 2 is not in the posfile"),
    "jfile no site at vector": ("jfile", lambda t: t.replace("1 1  0.00  0.00  1.00", "1 1  0.00  0.25  1.00"), "no site of type 1"),
    "posfile columns": ("posfile", lambda t: "1 1 0.0 0.0\n", r"posfile:1: posfile line needs"),
    "momfile missing": ("momfile", lambda t: "# nothing\n", "momfile: empty file"),
    "momfile wrong site": ("momfile", lambda t: t.replace("1 1 2.2949", "2 1 2.2949"), "site 2 is not in the posfile"),
    "inpsd without exchange": ("inpsd.dat", lambda t: t.replace("exchange    ./jfile", ""), "keyword 'exchange' is missing"),
}


@pytest.mark.parametrize("case", sorted(UPPASD_BREAKAGES))
def test_malformed_uppasd(tmp_path, case):
    name, transform, match = UPPASD_BREAKAGES[case]
    folder = _uppasd_copy(tmp_path)
    (folder / name).write_text(transform((folder / name).read_text()))
    with pytest.raises(FileFormatError, match=match):
        read_uppasd(folder / "inpsd.dat", species="Fe")


def test_uppasd_bad_arguments(tmp_path):
    folder = _uppasd_copy(tmp_path)
    with pytest.raises(InputError, match="unknown energy unit 'kJ'"):
        read_uppasd(folder / "inpsd.dat", species="Fe", unit="kJ")
    with pytest.raises(InputError, match="atom type 1 has no species"):
        read_uppasd(folder / "inpsd.dat", species={2: "Fe"})
    with pytest.raises(InputError, match="unknown species 'Qx'"):
        read_uppasd(folder / "inpsd.dat", species="Qx")
    with pytest.raises(InputError, match="alat must be a positive"):
        read_uppasd_bonds(folder / "jfile", folder / "posfile", folder / "momfile",
                          np.eye(3), -1.0, "Fe")


def test_heisenberg_from_reader_is_a_potential():
    model = read_tb2j(ABACUS, max_distance=3.0)
    assert isinstance(model, Heisenberg) and not model.spin_orbit
    assert model.cutoff == pytest.approx(2.866 + 0.1, abs=1e-3)


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fe_exchange_tb2j"


@pytest.mark.parametrize("name, n_bonds, species, j1_mev", [
    ("Abacus_Fe_no_SOC", 1370, "Fe", 18.6873),
    ("Siesta_bccFe", 240, "Fe", 17.9376),
    ("Siesta_hcpCo", 632, "Co", None),
    ("Wannier_FeO_QE_Wannier90", 498, "Fe", None),  # orbital-contribution blocks
    ("Siesta_BiFeO3", 52, "Fe", None),              # vector moments, Bi/Fe/O atoms
    ("Wannier_bccFe_QE_Wannier90", 644, "Fe", None),
])
def test_every_shared_tb2j_file_parses(name, n_bonds, species, j1_mev):
    path = SHARED / f"{name}.exchange.out"
    if not path.exists():
        pytest.skip("shared data folder not available")
    bonds = read_tb2j_bonds(path)
    assert len(bonds.i) == n_bonds
    assert {bonds.labels[k][:2] for k in np.unique(np.r_[bonds.i, bonds.j])} == {species}
    if j1_mev is not None:
        assert bonds.exchange[0] == pytest.approx(j1_mev * MEV)
    model = quiet(read_tb2j, path, max_distance=6.0)
    assert isinstance(model, Heisenberg) and model.cutoff <= 6.2


def test_feo_superexchange_is_antiferromagnetic():
    path = SHARED / "Wannier_FeO_QE_Wannier90.exchange.out"
    if not path.exists():
        pytest.skip("shared data folder not available")
    bonds = read_tb2j_bonds(path)
    fe = bonds.numbers == 26
    np.testing.assert_allclose(bonds.moments[fe], [3.6402, 3.6424])
    shells = list(read_tb2j(path, max_distance=4.5).coupling.shells().values())[0]
    (r1, j1), (r2, j2) = shells
    assert r2 == pytest.approx(4.334, abs=1e-3) and j2 < 0 and abs(j2) > 100 * abs(j1)


def test_incomplete_outer_shells_are_dropped_by_default():
    """The ABACUS file lists a box of cells: 72 of the 96 bonds at 10.234 Å. Without
    max_distance the reader keeps the complete shells only (and says so)."""
    with pytest.warns(UserWarning, match=r"72 of the 96 Fe-Fe bonds at 10.234 Å.*dropped"):
        model = read_tb2j(ABACUS, spread_warning=1.0)
    assert model.cutoff < 10.234
    reference = read_tb2j(ABACUS, max_distance=10.0, spread_warning=1.0)
    state = bcc_state(2.866, M_ABACUS, repeat=2)
    assert model.compute(state)["energy"] == pytest.approx(reference.compute(state)["energy"], rel=1e-13)
    with pytest.warns(UserWarning, match="incomplete"):
        read_tb2j(ABACUS, max_distance=12.0, spread_warning=1.0)
