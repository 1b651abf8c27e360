"""extxyz reading and writing of moments, magnetic forces and labels.

Round trips are asserted bit for bit (``np.array_equal``): the writer uses ``repr`` floats, so any
loss of precision is a bug. Values read from the fixtures are compared with numbers copied by hand
from the files (exact, since both are the same decimal text parsed by ``float``).
"""

from pathlib import Path

import ase.io
import numpy as np
import pytest

from spinlattice.errors import FileFormatError
from spinlattice.io import LabelledFrame, read_extxyz, stress_to_3x3, write_extxyz
from spinlattice.state import SpinLatticeState

DATA = Path(__file__).parent / "data"
FE16 = DATA / "fe16_spin.extxyz"
FEAL = DATA / "feal_2cfg_with_magnetic_forces.extxyz"
FEAL_CFG = DATA / "feal_2cfg_with_magnetic_forces.cfg"
NPJ = Path(__file__).resolve().parents[2] / "shared" / "data" / "fe_npj2021" / "fe_npj2021.extxyz.gz"

LABELS = ("energy", "forces", "stress", "magnetic_forces", "config_type")
STATE_FIELDS = ("positions", "numbers", "cell", "pbc", "moments", "momenta", "masses")


def assert_same_frames(a, b):
    """Every array and label identical (bit for bit), info equal."""
    assert len(a) == len(b)
    for fa, fb in zip(a, b):
        for name in STATE_FIELDS:
            x, y = getattr(fa.state, name), getattr(fb.state, name)
            assert (x is None) == (y is None), name
            if x is not None and name == "momenta":  # stored in ASE units: ≤ 1 ulp from p/fs·fs
                assert x.shape == y.shape and np.allclose(x, y, rtol=4e-16, atol=0), name
            elif x is not None:
                assert x.shape == y.shape and np.array_equal(x, y), name
        for name in LABELS:
            x, y = getattr(fa, name), getattr(fb, name)
            assert (x is None) == (y is None), name
            if x is not None:
                assert np.array_equal(x, y), name
        assert fa.info.keys() == fb.info.keys()
        for key in fa.info:
            assert np.array_equal(fa.info[key], fb.info[key]) if not isinstance(fa.info[key], str) \
                else fa.info[key] == fb.info[key], key
        assert fa.arrays.keys() == fb.arrays.keys()
        for key in fa.arrays:
            assert np.array_equal(fa.arrays[key], fb.arrays[key]), key


# --- fixtures from the data sets ---------------------------------------------------------------
def test_fe16_fixture_values():
    frames = read_extxyz(FE16)
    assert len(frames) == 2
    f = frames[0]
    assert f.n_atoms == 16 and set(f.state.numbers) == {26}
    assert f.energy == -54546.234016
    assert np.array_equal(f.state.moments[0], [0.05563921, 0.08026123, 2.25839282])
    assert np.array_equal(f.magnetic_forces[0], [-0.00853441, -0.01003950, -0.11980129])
    assert np.array_equal(f.forces[0], [-0.11068553, 1.00072739, 0.28834491])
    assert np.array_equal(f.state.cell[1], [0.0230803587, 4.8682059806, 0.0])
    assert f.stress.shape == (3, 3) and f.stress[0, 1] == 0.002053268252568961
    assert f.state.pbc.all()
    # the non-label entries are kept: the virial (3x3) and provenance
    assert f.info["virial"].shape == (3, 3) and f.info["source_file"].startswith("dpdata:")
    # sign convention of the fixture: stress = −virial / V (ASE sign), to rounding of the file
    np.testing.assert_allclose(f.stress, -f.info["virial"] / f.state.volume, rtol=1e-9, atol=0)
    # non-collinear: the moments are not all parallel
    m = f.state.moments
    assert np.ptp(m[:, 0]) > 0.1


def _parse_cfg(path):
    """Minimal MLIP .cfg reader: per-frame (magmom, en_der_m, plus_stress (6, Voigt), cell)."""
    frames, lines = [], Path(path).read_text().splitlines()
    for k, line in enumerate(lines):
        if line.strip() == "Size":
            n = int(lines[k + 1])
            cell = np.array([lines[k + 3 + a].split() for a in range(3)], float)
            rows = np.array([lines[k + 7 + a].split() for a in range(n)], float)
            s = next(q for q in range(k, len(lines)) if lines[q].strip().startswith("PlusStress"))
            frames.append((rows[:, 8:11], rows[:, 11:14], np.array(lines[s + 1].split(), float), cell))
    return frames


def test_feal_fixture_signs_against_mlip_cfg():
    """The extxyz conversion of the Fe–Al sample: h = −∂E/∂m = −en_der_m, σ = −PlusStress/V."""
    frames = read_extxyz(FEAL)
    cfg = _parse_cfg(FEAL_CFG)
    assert len(frames) == len(cfg) == 2
    for f, (magmom, en_der_m, plus_stress, cell) in zip(frames, cfg):
        assert np.array_equal(f.state.cell, cell)
        assert np.array_equal(f.state.moments, magmom)
        assert np.array_equal(f.magnetic_forces, -en_der_m)
        np.testing.assert_allclose(f.stress, stress_to_3x3(-plus_stress) / f.state.volume,
                                   rtol=1e-12, atol=0)
        assert set(f.state.numbers) == {13, 26}


@pytest.mark.parametrize("path", [FE16, FEAL])
def test_fixture_round_trip_exact(path, tmp_path):
    frames = read_extxyz(path)
    out = tmp_path / "out.extxyz"
    write_extxyz(out, frames)
    assert_same_frames(frames, read_extxyz(out))


@pytest.mark.skipif(not NPJ.exists(), reason="shared data set fe_npj2021 not present")
def test_reads_first_frames_of_fe_npj2021():
    frames = read_extxyz(NPJ, index=":4")
    assert len(frames) == 4
    f = frames[0]
    assert f.config_type == "BCC-HCP-transition"
    assert f.energy == -15.75141667
    assert np.array_equal(f.state.moments[0], [1.05, 1.048, 1.046])
    assert f.magnetic_forces is None and f.forces.shape == (2, 3) and f.stress.shape == (3, 3)


# --- synthetic round trips --------------------------------------------------------------------
def _random_frame(rng, n, pbc=(True, True, True), labels=True):
    cell = np.diag(rng.uniform(4, 6, 3)) + rng.normal(scale=0.3, size=(3, 3))
    state = SpinLatticeState(
        positions=rng.random((n, 3)) @ cell, numbers=rng.choice([13, 26, 27], n), cell=cell,
        pbc=pbc, moments=rng.normal(size=(n, 3)) * 2,
        momenta=rng.normal(size=(n, 3)), masses=rng.uniform(1, 100, n),
    )
    if not labels:
        return LabelledFrame(state=state)
    stress = rng.normal(size=(3, 3)) * 1e-3
    return LabelledFrame(
        state=state, energy=float(rng.normal() * 1e4), forces=rng.normal(size=(n, 3)),
        stress=stress + stress.T, magnetic_forces=rng.normal(size=(n, 3)) * 1e-2,
        config_type="random md", info={"temperature": 300.5, "step": 7, "tag": "a b\"c",
                                       "flags": np.array([1.5, -2.25e-300])},
    )


@pytest.mark.parametrize("name", ["frames.extxyz", "frames.extxyz.gz"])
def test_random_frames_round_trip_exact(rng, tmp_path, name):
    frames = [_random_frame(rng, 7), _random_frame(rng, 1, pbc=(True, False, True)),
              _random_frame(rng, 5, labels=False)]
    frames[1].energy = None  # labels are optional per frame
    frames[1].stress = None
    path = tmp_path / name
    write_extxyz(path, frames)
    back = read_extxyz(path)
    assert_same_frames(frames, back)
    assert back[2].energy is None and back[2].magnetic_forces is None
    # append adds frames; index selects them
    write_extxyz(path, frames[0], append=True)
    assert len(read_extxyz(path)) == 4
    assert_same_frames([frames[0]], read_extxyz(path, index=-1))
    assert_same_frames(frames[1:3], read_extxyz(path, index="1:3"))


def test_non_periodic_zero_cell_round_trip(tmp_path):
    state = SpinLatticeState(positions=[[0, 0, 0], [0, 0, 2.2]], numbers=[26, 26],
                             cell=np.zeros((3, 3)), pbc=False, moments=[[0, 0, 2.2], [0, 0, -2.2]])
    write_extxyz(tmp_path / "m.xyz", state)
    (f,) = read_extxyz(tmp_path / "m.xyz")
    assert not f.state.pbc.any() and np.array_equal(f.state.cell, np.zeros((3, 3)))
    assert np.array_equal(f.state.moments, state.moments)


def test_custom_keys_round_trip(rng, tmp_path):
    frame = _random_frame(rng, 4)
    keys = dict(moment_key="spin", magnetic_forces_key="hmag", energy_key="Etot",
                forces_key="F", stress_key="S")
    write_extxyz(tmp_path / "c.extxyz", [frame], **keys)
    text = (tmp_path / "c.extxyz").read_text()
    assert "spin:R:3" in text and "hmag:R:3" in text and "Etot=" in text and "REF_" not in text
    assert_same_frames([frame], read_extxyz(tmp_path / "c.extxyz", **keys))
    # read with the default keys: moments are missing, which is an error naming the key
    with pytest.raises(FileFormatError, match=r"moments are missing.*'REF_magmom'.*moment_key=None"):
        read_extxyz(tmp_path / "c.extxyz")


def test_ase_reads_written_file(rng, tmp_path):
    frame = _random_frame(rng, 6)
    write_extxyz(tmp_path / "a.extxyz", frame)
    atoms = ase.io.read(tmp_path / "a.extxyz")
    assert np.array_equal(atoms.positions, frame.state.positions)
    assert np.array_equal(atoms.cell.array, frame.state.cell)
    assert np.array_equal(atoms.arrays["REF_magmom"], frame.state.moments)
    assert np.array_equal(atoms.arrays["REF_magforces"], frame.magnetic_forces)
    assert atoms.info["REF_energy"] == frame.energy


# --- ASE standard names, collinear moments, Voigt stress -----------------------------------------
STANDARD = """2
Lattice="3.0 0.0 0.0 0.0 3.0 0.0 0.0 0.0 3.0" Properties=species:S:1:pos:R:3:forces:R:3:magmoms:R:1 energy=-8.25 stress="1 6 5 6 2 4 5 4 3" pbc="T T T"
Fe 0.0 0.0 0.0 0.1 0.2 0.3 2.2
Fe 1.5 1.5 1.5 -0.1 -0.2 -0.3 -2.1
"""


def test_ase_standard_names_from_single_point_calculator(tmp_path):
    """ASE moves energy/forces/stress/magmoms into a SinglePointCalculator; keys still work."""
    path = tmp_path / "std.extxyz"
    path.write_text(STANDARD)
    assert ase.io.read(path).calc is not None  # the situation being tested
    (f,) = read_extxyz(path, moment_key="magmoms", energy_key="energy", forces_key="forces",
                       stress_key="stress")
    assert f.energy == -8.25
    assert np.array_equal(f.forces, [[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]])
    assert np.array_equal(f.stress, [[1, 6, 5], [6, 2, 4], [5, 4, 3]])
    # collinear (N,) moments lie along z
    assert np.array_equal(f.state.moments, [[0, 0, 2.2], [0, 0, -2.1]])
    # with default keys nothing is lost: ASE's results land in info / arrays
    (g,) = read_extxyz(path, moment_key="magmoms")
    assert g.energy is None and g.info["energy"] == -8.25
    assert np.array_equal(g.arrays["forces"], f.forces)
    # and they survive a write/read cycle
    write_extxyz(tmp_path / "again.extxyz", g)
    (h,) = read_extxyz(tmp_path / "again.extxyz")
    assert h.info["energy"] == -8.25 and np.array_equal(h.arrays["forces"], f.forces)


def test_voigt_stress_and_collinear_magnetic_forces(tmp_path):
    text = """1
Lattice="2.0 0.0 0.0 0.0 2.0 0.0 0.0 0.0 2.0" Properties=species:S:1:pos:R:3:REF_magmom:R:1:REF_magforces:R:1 REF_stress="1.0 2.0 3.0 4.0 5.0 6.0" pbc="T T T"
Fe 0.0 0.0 0.0 2.0 -0.5
"""
    path = tmp_path / "v.extxyz"
    path.write_text(text)
    (f,) = read_extxyz(path)
    # Voigt order xx yy zz yz xz xy
    assert np.array_equal(f.stress, [[1, 6, 5], [6, 2, 4], [5, 4, 3]])
    assert np.array_equal(f.magnetic_forces, [[0, 0, -0.5]])
    assert np.array_equal(f.state.moments, [[0, 0, 2.0]])


def test_stress_to_3x3_forms():
    full = np.array([[1.0, 6, 5], [6, 2, 4], [5, 4, 3]])
    assert np.array_equal(stress_to_3x3(full), full)
    assert np.array_equal(stress_to_3x3(full.ravel()), full)
    assert np.array_equal(stress_to_3x3([1, 2, 3, 4, 5, 6]), full)


def test_zero_moments_when_moment_key_is_none(tmp_path):
    path = tmp_path / "nm.extxyz"
    path.write_text(STANDARD)
    (f,) = read_extxyz(path, moment_key=None)
    assert np.array_equal(f.state.moments, np.zeros((2, 3)))


def test_default_keys_optional_explicit_keys_required(tmp_path):
    """A frame without magnetic forces: fine with the default key, an error when named."""
    frames = read_extxyz(FE16)
    frames[1].magnetic_forces = None
    path = tmp_path / "mixed.extxyz"
    write_extxyz(path, frames)
    back = read_extxyz(path)
    assert back[0].magnetic_forces is not None and back[1].magnetic_forces is None
    with pytest.raises(FileFormatError, match=r"frame 1: key 'REF_magforces' \(magnetic forces\) "
                                              r"not found.*REF_magmom"):
        read_extxyz(path, magnetic_forces_key="REF_magforces")
    # None skips a label altogether
    assert read_extxyz(path, energy_key=None)[0].energy is None


def test_empty_file_gives_no_frames(tmp_path):
    (tmp_path / "empty.extxyz").write_text("")
    assert read_extxyz(tmp_path / "empty.extxyz") == []
