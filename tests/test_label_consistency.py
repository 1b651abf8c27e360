"""The stress/energy label check (potentials/training/labels.py) on labels of known quality.

EMT copper gives labels whose stress is exactly (1/V) ∂E/∂ε; the check must find them
consistent, recover a stress offset put into them, and see a flipped sign convention.
"""

import dataclasses
import re

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from spinlattice.io import LabelledFrame
from spinlattice.errors import InputError
from spinlattice.potentials.training.data import shift_energies
from spinlattice.potentials.training.labels import (
    stress_energy_consistency, strain_pairs, twin_energy_offset)
from spinlattice.state import SpinLatticeState
from spinlattice.units import GPA


def strained_frames(n=12, amplitude=0.004, seed=0, moments=None, rattle=0.0, shift=0.0):
    """fcc Cu (4-atom cubic cell, atoms displaced by ``rattle`` Å once) under ``n`` random
    symmetric strains |ε_ij| ≤ amplitude, with fractional coordinates moved by up to ``shift``
    per frame, labelled by EMT: energy (eV), forces (eV/Å) and stress (eV/Å³, ASE sign)."""
    rng = np.random.default_rng(seed)
    base = bulk("Cu", "fcc", a=3.61, cubic=True)
    base.positions += rng.uniform(-rattle, rattle, base.positions.shape)
    frames = []
    for k in range(n):
        eps = rng.uniform(-amplitude, amplitude, (3, 3))
        atoms = base.copy()
        atoms.set_scaled_positions(base.get_scaled_positions()
                                   + rng.uniform(-shift, shift, (4, 3)))
        atoms.set_cell(base.cell @ (np.eye(3) + 0.5 * (eps + eps.T)), scale_atoms=True)
        atoms.calc = EMT()
        m = np.zeros((4, 3)) if moments is None else moments(k)
        frames.append(LabelledFrame(
            state=SpinLatticeState.from_atoms(atoms, moments=m),
            energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
            stress=atoms.get_stress(voigt=False)))
    return frames


def with_stress(frames, fn):
    return [LabelledFrame(state=f.state, energy=f.energy, forces=f.forces, stress=fn(f.stress))
            for f in frames]


def test_exact_derivative_labels_are_consistent():
    c = stress_energy_consistency(strained_frames())
    assert c["n_pairs"] == c["n_same_branch"] == 66  # every pair of 12 frames: ‖F − 1‖ < 0.02
    # the trapezoid error is ~ C ‖F − 1‖³ V (0.004 meV/atom at 1 % strain in EMT Cu, scaling
    # as the cube; measured here 0.8 % of the energy changes); a 0.1 GPa stress offset or 1 %
    # energy noise would exceed the bounds
    assert c["rms_energy_change"] > 0.5
    assert c["rms_residual"] < 0.02 * c["rms_energy_change"]
    assert abs(c["stress_offset"]) < 0.05


def test_small_internal_displacements_are_covered_by_the_force_work():
    frames = strained_frames(rattle=0.1, shift=2e-4)  # forces ~0.5 eV/Å, shifts ≤ 0.0015 Å
    c = stress_energy_consistency(frames)
    assert c["n_same_branch"] == 66
    assert c["rms_residual"] < 0.02 * c["rms_energy_change"]
    no_forces = [LabelledFrame(state=f.state, energy=f.energy, stress=f.stress) for f in frames]
    assert stress_energy_consistency(no_forces)["rms_residual"] > 0.1 * c["rms_energy_change"]


def test_an_isotropic_stress_offset_is_recovered():
    frames = with_stress(strained_frames(), lambda s: s + 1.0 * GPA * np.eye(3))
    c = stress_energy_consistency(frames)
    assert c["stress_offset"] == pytest.approx(1.0, abs=0.05)
    assert c["stress_offset_error"] < 0.05
    assert c["rms_residual"] > 0.3  # 1 GPa · V tr(ε): 0.07 meV/atom per 1 % volume change
    assert c["rms_residual_after_offset"] < 0.05 * c["rms_residual"]


def test_a_flipped_sign_convention_is_seen():
    c = stress_energy_consistency(with_stress(strained_frames(), lambda s: -s))
    # the work changes sign: residual = 2 × energy change
    assert c["rms_residual"] == pytest.approx(2.0 * c["rms_energy_change"], rel=0.02)
    assert c["stress_offset"] < -1.0


def test_pairs_across_a_magnetic_branch_are_left_out_of_the_fit():
    jump = lambda k: np.tile([0.0, 0.0, 2.0 if k >= 6 else 0.5], (4, 1))  # noqa: E731
    c = stress_energy_consistency(strained_frames(moments=jump))
    assert c["n_pairs"] == 66 and c["n_same_branch"] == 15 + 15  # within {0..5} and {6..11}


def test_frames_with_different_internal_coordinates_are_not_paired():
    frames = strained_frames(n=2)
    moved = frames[1].state.replace(positions=frames[1].state.positions + [0.05, 0.0, 0.0]
                                    * np.array([[1], [0], [0], [0]]))
    frames[1] = LabelledFrame(state=moved, energy=frames[1].energy, stress=frames[1].stress)
    p = strain_pairs(frames)
    assert p["pairs"].shape == (0, 2)
    assert np.isnan(stress_energy_consistency(frames)["rms_residual"])


def test_check_data_reports_an_energy_offset_between_config_types(tmp_path, capsys):
    from spinlattice.cli.main import main
    from spinlattice.io import write_extxyz

    frames = strained_frames(n=6)
    a = [LabelledFrame(state=f.state, energy=f.energy, stress=f.stress, config_type="A")
         for f in frames]
    # the same structures recomputed "with other settings": +5 meV/atom on every energy
    b = [LabelledFrame(state=f.state, energy=f.energy + 4 * 0.005, stress=f.stress,
                       config_type="B") for f in frames[:3]]
    write_extxyz(tmp_path / "d.extxyz", a + b)
    assert main(["check-data", str(tmp_path / "d.extxyz"), "--max-strain", "0.03"]) == 0
    out = capsys.readouterr().out
    assert "stress vs energy labels, A: 15 strain pairs" in out
    mean = re.search(r"energy offset B − A: ([-+.\d]+) ± [.\d]+ meV/atom over 18 pairs", out)
    assert mean and float(mean.group(1)) == pytest.approx(5.0, abs=0.02)  # trapezoid error


def test_twin_energy_offset_is_measured_and_harmonised_away():
    """Two "sets of DFT settings": B holds 3 of A's 6 structures, 5 meV/atom higher. The twin
    offset is 5 meV/atom to within the trapezoid error of eq. (1) (≤ 0.02 meV/atom at these
    ≤ 3 % strains, as above); shifting B by minus it leaves no offset and A untouched."""
    frames = strained_frames(n=6)
    a = [dataclasses.replace(f, config_type="A") for f in frames]
    b = [dataclasses.replace(f, energy=f.energy + 4 * 0.005, config_type="B") for f in frames[:3]]
    delta, spread, n = twin_energy_offset(a + b, "B", "A", max_strain=0.03)
    assert n == 18  # each B frame with each of the 6 A frames
    assert delta == pytest.approx(0.005, abs=2e-5) and spread < 2e-5
    assert twin_energy_offset(a + b, "A", "B", max_strain=0.03)[0] == pytest.approx(-delta)
    harmonised = shift_energies(a + b, {"B": -delta})
    assert [f.energy for f in harmonised[:6]] == [f.energy for f in a]
    assert abs(twin_energy_offset(harmonised, "B", "A", max_strain=0.03)[0]) < 2e-5
    with pytest.raises(InputError, match="no frames of group 'C'"):
        twin_energy_offset(a + b, "C", "A")
    moved = [dataclasses.replace(f, state=f.state.replace(positions=f.state.positions * 1.02))
             for f in b]  # atoms moved 2 % within the same cell: not twins of A's frames
    with pytest.raises(InputError, match="share no structure"):
        twin_energy_offset(a + moved, "B", "A")
    with pytest.raises(InputError, match="finite"):
        shift_energies(a, {"A": float("nan")})
