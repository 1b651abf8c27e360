"""Bad input gives a clear error of the right type, whose message names the problem.

Each case asserts the exception class and a message pattern (``match``), so a silent acceptance,
a wrong exception type or an unhelpful message all fail.
"""

import numpy as np
import pytest
from ase import Atoms

from spinlattice.calculator import SpinLatticeCalculator
from spinlattice.errors import FileFormatError, InputError, OverlappingAtomsError
from spinlattice.io import LabelledFrame, read_extxyz, stress_to_3x3, write_extxyz
from spinlattice.neighbors import neighbor_list
from spinlattice.properties import check_properties
from spinlattice.state import SpinLatticeState

CELL = np.eye(3) * 4.0
POS = np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 2.0], [0.0, 2.0, 2.0]])
MOM = np.array([[0.0, 0.0, 2.2], [0.0, 0.0, -2.2], [1.0, 0.0, 0.0]])


def state(**changes):
    kw = dict(positions=POS, numbers=[26, 26, 13], cell=CELL, pbc=True, moments=MOM)
    kw.update(changes)
    return SpinLatticeState(**kw)


class _Zero:
    """Minimal Potential: builds a neighbour list (so overlap checks run) and returns zeros."""

    cutoff = receptive_field = 3.0
    spin_orbit = False

    def compute(self, s, properties=("energy",)):
        neighbor_list(s.positions, s.cell, s.pbc, self.cutoff)
        return {"energy": 0.0, "forces": np.zeros((s.n_atoms, 3))}


# --- the state ----------------------------------------------------------------------------------
def test_nan_positions():
    pos = POS.copy()
    pos[1, 2] = np.nan
    with pytest.raises(InputError, match=r"positions contains NaN or inf \(first at index \(1, 2\)\)"):
        state(positions=pos)


def test_moments_with_two_components():
    with pytest.raises(InputError, match=r"moments must have shape \(3, 3\), got \(3, 2\)"):
        state(moments=MOM[:, :2])


@pytest.mark.parametrize("moments, got", [(MOM[:2], r"\(2, 3\)"), (np.ones(2), r"\(2,\)")])
def test_moments_of_wrong_length(moments, got):
    with pytest.raises(InputError, match=r"moments must have shape \(3, 3\), got " + got):
        state(moments=moments)


def test_missing_moments():
    with pytest.raises(InputError, match="moments are missing"):
        state(moments=None)


def test_atoms_without_initial_magmoms():
    atoms = Atoms("Fe2", positions=POS[:2], cell=CELL, pbc=True)
    with pytest.raises(InputError, match=r"atoms carry no magnetic moments.*set_initial_magnetic"):
        SpinLatticeState.from_atoms(atoms)


def test_nan_moments():
    mom = MOM.copy()
    mom[2, 0] = np.nan
    with pytest.raises(InputError, match=r"moments contains NaN or inf \(first at index \(2, 0\)\)"):
        state(moments=mom)


def test_wrong_cell_shape():
    with pytest.raises(InputError, match=r"cell must have shape \(3, 3\), got \(2, 3\)"):
        state(cell=np.eye(3)[:2])


def test_singular_periodic_cell():
    with pytest.raises(InputError, match="cell is singular but pbc is set"):
        state(cell=np.diag([4.0, 4.0, 0.0]))


@pytest.mark.parametrize("bad", [0, 200])
def test_numbers_outside_periodic_table(bad):
    with pytest.raises(InputError, match=rf"numbers must be atomic numbers 1\.\.118, got \[.*{bad}"):
        state(numbers=[26, bad, 26])


def test_negative_masses():
    with pytest.raises(InputError, match="masses must be positive"):
        state(masses=[55.8, -1.0, 27.0])


# --- neighbours and the calculator ----------------------------------------------------------------
def test_overlapping_atoms_in_neighbor_list():
    pos = POS.copy()
    pos[2] = pos[1] + [0.3, 0.0, 0.0]
    with pytest.raises(OverlappingAtomsError, match=r"atoms [12] and [12] .*0\.300 Å apart, closer than 0\.5 Å"):
        neighbor_list(pos, CELL, True, 3.0)


def test_overlapping_periodic_image_through_calculator():
    # atom 1 sits 0.2 Å from the periodic image of atom 0 (x = 4.0 ≡ 0.0)
    atoms = Atoms("Fe2", positions=[[0.0, 0.0, 0.0], [3.8, 0.0, 0.0]], cell=CELL, pbc=True)
    atoms.set_initial_magnetic_moments([2.0, 2.0])
    with pytest.raises(OverlappingAtomsError, match=r"0\.200 Å apart, closer than 0\.5 Å"):
        SpinLatticeCalculator(_Zero()).get_potential_energy(atoms)


def test_calculator_atoms_without_moments():
    atoms = Atoms("Fe2", positions=POS[:2], cell=CELL, pbc=True)
    with pytest.raises(InputError, match="atoms carry no magnetic moments"):
        SpinLatticeCalculator(_Zero()).get_forces(atoms)


def test_calculator_moments_of_wrong_shape():
    atoms = Atoms("Fe2", positions=POS[:2], cell=CELL, pbc=True)
    atoms.arrays["initial_magmoms"] = np.ones((2, 2))  # bypasses ASE's own setter checks
    with pytest.raises(InputError, match=r"moments must have shape \(2, 3\), got \(2, 2\)"):
        SpinLatticeCalculator(_Zero()).get_potential_energy(atoms)


def test_unknown_property_name():
    with pytest.raises(ValueError, match=r"unknown property 'magnetisation'; known properties are energy"):
        check_properties(["energy", "magnetisation"])


# --- extxyz ---------------------------------------------------------------------------------------
GOOD = """2
Lattice="4.0 0.0 0.0 0.0 4.0 0.0 0.0 0.0 4.0" Properties=species:S:1:pos:R:3:REF_magmom:R:3 REF_energy=-1.5 {extra} pbc="T T T"
Fe 0.0 0.0 0.0 0.0 0.0 2.2
Fe 2.0 2.0 2.0 0.0 0.0 {mz}
"""


def _write(tmp_path, extra="", mz="-2.2", text=None):
    path = tmp_path / "f.extxyz"
    path.write_text(GOOD.format(extra=extra, mz=mz) if text is None else text)
    return path


def test_extxyz_unknown_key(tmp_path):
    path = _write(tmp_path)
    with pytest.raises(FileFormatError,
                       match=r"frame 0: key 'DFT_energy' \(energy\) not found.*info keys \['REF_energy'\]"):
        read_extxyz(path, energy_key="DFT_energy")


def test_extxyz_missing_moment_key(tmp_path):
    path = _write(tmp_path)
    with pytest.raises(FileFormatError, match=r"moments are missing: key 'magmom' not found.*moment_key=None"):
        read_extxyz(path, moment_key="magmom")


def test_extxyz_garbage_text(tmp_path):
    path = _write(tmp_path, text="this is not\nan extxyz file at all\n")
    with pytest.raises(FileFormatError, match=r"f\.extxyz could not be read as extended XYZ"):
        read_extxyz(path)


def test_extxyz_truncated_frame(tmp_path):
    text = GOOD.format(extra="", mz="-2.2").splitlines()
    path = _write(tmp_path, text="\n".join(text[:3]) + "\n")  # header says 2 atoms, file has 1
    with pytest.raises(FileFormatError, match=r"could not be read as extended XYZ.*1 atoms, expected 2"):
        read_extxyz(path)


def test_extxyz_stress_with_wrong_component_count(tmp_path):
    path = _write(tmp_path, extra='REF_stress="1.0 2.0 3.0 4.0"')
    with pytest.raises(FileFormatError, match=r"frame 0: stress 'REF_stress' must have 9 components .*"
                                              r"or 6 \(Voigt.*got 4"):
        read_extxyz(path)


def test_extxyz_nan_moment_names_the_frame(tmp_path):
    path = _write(tmp_path, mz="nan")
    with pytest.raises(FileFormatError, match=r"frame 0: moments contains NaN or inf \(first at index \(1, 2\)\)"):
        read_extxyz(path)


def test_extxyz_non_numeric_energy(tmp_path):
    path = _write(tmp_path, extra="REF_energy=abc")
    with pytest.raises(FileFormatError, match=r"energy 'REF_energy' must be a single number, got 'abc'"):
        read_extxyz(path)


def test_stress_wrong_component_count_direct():
    with pytest.raises(InputError, match=r"stress must have 9 components.*got 5"):
        stress_to_3x3(np.ones(5))


def test_labelled_frame_forces_of_wrong_shape():
    with pytest.raises(InputError, match=r"forces must have shape \(3, 3\), got \(2, 3\)"):
        LabelledFrame(state=state(), forces=np.zeros((2, 3)))


@pytest.mark.parametrize("key", ["pos", "my key", "1abc"])
def test_write_with_unusable_key(tmp_path, key):
    with pytest.raises(InputError, match=rf"energy_key '{key}' is not a usable extxyz key"):
        write_extxyz(tmp_path / "w.extxyz", LabelledFrame(state=state(), energy=1.0), energy_key=key)


def test_write_with_clashing_keys(tmp_path):
    with pytest.raises(InputError, match="label keys must be distinct"):
        write_extxyz(tmp_path / "w.extxyz", state(), forces_key="F", magnetic_forces_key="F")


def test_write_value_with_line_break(tmp_path):
    frame = LabelledFrame(state=state(), config_type="bcc\nhcp")
    with pytest.raises(InputError, match="extxyz values cannot contain line breaks"):
        write_extxyz(tmp_path / "w.extxyz", frame)
