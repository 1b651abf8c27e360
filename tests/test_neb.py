"""Solid-state NEB with relaxed moments (drivers/neb.py, magpath.py, bain.py; issue 7).

Tolerances:
* ASE comparison, 1e-10 eV/Å: the same arithmetic on the same forces (measured 0 exactly).
* generalised forces vs central differences of H(x) with step 1e-5: truncation h² E''' / 6 with
  E''' ≲ 10 eV/Å³ gives ≲ 1e-9; 1e-6 leaves room for rounding (ε E / h ≈ 1e-10).
* Müller–Brown climbing image: converged to |F| ≤ 1e-3 with the smallest |curvature| at the
  saddle 490, so |x − x*| ≲ 1e-3/490 = 2e-6 (measured 5e-10); the issue asks for 1e-4.
* Bain path at fixed volume: the two-atom bct cell at fixed volume has one degree of freedom
  (c/a; shears and the body-centre position are fixed by symmetry), so the band and the scan are
  the same path: equal to rounding at the images' c/a (1e-9 asserted), and within the cubic-spline
  error of a 15-point scan between (measured 0.03 meV/atom, 0.1 asserted); the climbing image
  sits on the scan's maximum (c/a to 5e-3, E to 0.01 meV/atom).
* Bain path with free cell: the scan minimises the volume at each c/a, a band image only
  perpendicular to its tangent, so E_NEB(c/a) ≥ E_scan(c/a) (scan taken at the images' c/a, so
  no interpolation error) and equal at the saddle, which is stationary in both (measured 3e-9
  eV/atom).
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk
from ase.mep import NEB
from scipy.optimize import root

from spinlattice import InputError, SpinLatticeState
from spinlattice.calculator import SpinLatticeCalculator
from spinlattice.drivers.bain import (SQRT2, bain_neb, bct_state, ca_scan, compare_with_scan,
                                      start_moments)
from spinlattice.drivers.magpath import detect_switches, magnetic_descriptors, resolve_switch
from spinlattice.drivers.neb import BandSpace, check_path, interpolate, neb, neb_forces
from spinlattice.drivers.relax import relax
from spinlattice.potentials.fe_standin import bain_standin_fe
from spinlattice.properties import ENERGY, FORCES, MAGNETIC_FORCES, STRESS


@pytest.fixture(scope="module")
def fe():
    return bain_standin_fe()


def vacancy_band(rng, n=6):
    """A 15-atom bcc Fe cell with a vacancy and a neighbour hopping into it, random
    non-collinear moments, intermediate images displaced at random (0.05 Å)."""
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(2)
    del atoms[0]
    atoms.arrays.pop("initial_magmoms", None)
    start = atoms.positions.copy()
    end = start.copy()
    end[0] = [0.0, 0.0, 0.0]
    moments = rng.normal(size=(15, 3))
    moments *= 2.2 / np.linalg.norm(moments, axis=1, keepdims=True)
    images = []
    for t in np.linspace(0, 1, n):
        a = atoms.copy()
        a.positions = (1 - t) * start + t * end
        if 0 < t < 1:
            a.positions += 0.05 * rng.standard_normal(a.positions.shape)
        a.set_initial_magnetic_moments(moments)
        images.append(a)
    return images


# --- ordinary NEB equals ASE -----------------------------------------------------------------

@pytest.mark.parametrize("climb", [False, True])
def test_fixed_cell_projected_forces_equal_ase_improved_tangent(fe, climb):
    images = vacancy_band(np.random.default_rng(7))
    ours = neb_forces(fe, [SpinLatticeState.from_atoms(a) for a in images], k=0.3, climb=climb,
                      cell_mode="fixed", moments="frozen").neb_forces
    band = [a.copy() for a in images]
    for a in band:
        a.calc = SpinLatticeCalculator(fe)
    theirs = NEB(band, k=0.3, climb=climb, method="improvedtangent").get_forces()
    assert np.abs(ours.reshape(-1, 3)).max() > 0.1  # not a trivially zero comparison
    np.testing.assert_allclose(ours.reshape(-1, 3), theirs, rtol=0, atol=1e-10)
    # the comparison is sensitive: ASE's default tangent gives different forces
    band2 = [a.copy() for a in images]
    for a in band2:
        a.calc = SpinLatticeCalculator(fe)
    other = NEB(band2, k=0.3, climb=climb, method="aseneb").get_forces()
    assert np.abs(other - theirs).max() > 1e-3


def test_generalised_forces_are_exact_gradients(fe):
    """f̃ = −∂H/∂x for the variable-cell coordinates with moment rows, H = E + pV."""
    rng = np.random.default_rng(3)
    ref = bct_state(1.1, 11.5, start_moments("FM"))
    state = ref.replace(cell=ref.cell @ (np.eye(3) + 0.03 * rng.standard_normal((3, 3))),
                        positions=ref.positions + 0.05 * rng.standard_normal((2, 3)))
    state = state.replace(positions=np.linalg.solve(ref.cell.T, ref.positions.T).T @ state.cell
                          + 0.05 * rng.standard_normal((2, 3)))
    state = state.replace(moments=state.moments + 0.3 * rng.standard_normal((2, 3)))
    space = BandSpace.for_images([ref], "variable", moment_weight=0.5)
    pressure = 0.01
    x0 = space.to_x(state)

    def enthalpy(x):
        s = space.to_state(x, state)
        return fe.compute(s, (ENERGY,))[ENERGY] + pressure * s.volume

    s0 = space.to_state(x0, state)
    np.testing.assert_allclose(s0.positions, state.positions, atol=1e-12)
    np.testing.assert_allclose(s0.cell, state.cell, atol=1e-12)
    np.testing.assert_allclose(s0.moments, state.moments, atol=1e-12)
    out = fe.compute(s0, (ENERGY, FORCES, STRESS, MAGNETIC_FORCES))
    f = space.forces(x0, out[FORCES], out[STRESS], s0.volume, pressure, out[MAGNETIC_FORCES])
    assert f.shape == (2 + 3 + 2, 3)
    h = 1e-5
    numeric = np.zeros_like(x0)
    for idx in np.ndindex(*x0.shape):
        dx = np.zeros_like(x0)
        dx[idx] = h
        numeric[idx] = -(enthalpy(x0 + dx) - enthalpy(x0 - dx)) / (2 * h)
    assert np.abs(f).max() > 0.05
    np.testing.assert_allclose(f, numeric, rtol=0, atol=1e-6)


# --- climbing image on an analytic surface -------------------------------------------------------

MB_A = np.array([-200.0, -100.0, -170.0, 15.0])
MB_a = np.array([-1.0, -1.0, -6.5, 0.7])
MB_b = np.array([0.0, 0.0, 11.0, 0.6])
MB_c = np.array([-10.0, -10.0, -6.5, 0.7])
MB_X = np.array([1.0, 0.0, -0.5, -1.0])
MB_Y = np.array([0.0, 0.5, 1.5, 1.0])


def mueller_brown(x, y):
    """E and gradient of the Müller–Brown surface (Theor. Chim. Acta 53, 75 (1979))."""
    dx, dy = x - MB_X, y - MB_Y
    e = MB_A * np.exp(MB_a * dx * dx + MB_b * dx * dy + MB_c * dy * dy)
    return e.sum(), np.array([(e * (2 * MB_a * dx + MB_b * dy)).sum(),
                              (e * (MB_b * dx + 2 * MB_c * dy)).sum()])


class MuellerBrown:
    """One atom moving in the (x, y) plane on the Müller–Brown surface (energy units "eV")."""

    cutoff = receptive_field = 1.0
    spin_orbit = False

    def compute(self, state, properties=("energy",)):
        e, g = mueller_brown(*state.positions[0, :2])
        return {ENERGY: e, FORCES: np.array([[-g[0], -g[1], 0.0]]),
                MAGNETIC_FORCES: np.zeros((1, 3))}


def point(p):
    return SpinLatticeState(positions=[[p[0], p[1], 0.0]], numbers=[1], cell=np.zeros((3, 3)),
                            pbc=False, moments=[[0.0, 0.0, 0.0]])


def test_climbing_image_converges_to_mueller_brown_saddle():
    saddle = root(lambda p: mueller_brown(*p)[1], [-0.82, 0.62], tol=1e-14).x
    a, b = np.array([-0.55822363, 1.44172584]), np.array([-0.05001082, 0.4666941])
    images = [point(a + t * (b - a)) for t in np.linspace(0, 1, 7)]
    kw = dict(k=10.0, fmax=1e-3, cell_mode="fixed", moments="frozen", max_steps=3000,
              max_step=0.05, climb_fmax=1.0, dt=0.02, dt_max=0.06)
    res = neb(MuellerBrown(), images, climb=True, **kw)
    assert res.converged, res.summary()
    found = res.images[res.climb_index].positions[0, :2]
    assert np.linalg.norm(found - saddle) < 1e-4
    assert res.energies[res.climb_index] == pytest.approx(-40.66484, abs=1e-5)  # literature
    plain = neb(MuellerBrown(), images, climb=False, **kw)  # control: no image on the saddle
    top = plain.images[int(np.argmax(plain.energies))].positions[0, :2]
    assert np.linalg.norm(top - saddle) > 1e-2


# --- Bain path ------------------------------------------------------------------------------------

def test_bain_fixed_volume_neb_matches_scan_and_relaxes_moments(fe):
    volume = 11.4
    res, ca, vol = bain_neb(fe, start="FM", volume=volume, n_images=7, k=0.1, fmax=1e-4,
                            max_steps=1000)
    assert res.converged, res.summary()
    np.testing.assert_allclose(vol, volume, rtol=1e-10)  # the fixed-volume retraction
    assert ca[0] == pytest.approx(1.0) and ca[-1] == pytest.approx(SQRT2)
    # at the images' own c/a the scan states are the images (one degree of freedom): equal
    exact = compare_with_scan(res, ca, ca_scan(fe, ca, start="FM", volume=volume))
    assert exact["valid"] and len(exact["index"]) == 7
    assert exact["max_abs_difference"] < 1e-9  # eV/atom (measured 1e-15)
    scan = ca_scan(fe, np.linspace(1.0, SQRT2, 15), start="FM", volume=volume)
    cmp = compare_with_scan(res, ca, scan)
    assert cmp["max_abs_difference"] < 1e-4  # eV/atom: spline error of 15 points (measured 3e-5)
    assert cmp["neb_maximum"]["c_over_a"] == pytest.approx(cmp["scan_maximum"]["c_over_a"], abs=5e-3)
    assert cmp["neb_maximum"]["energy"] == pytest.approx(cmp["scan_maximum"]["energy"], abs=1e-5)
    # moments: relaxed at every image (collinear along z): |h_z| ≤ hmax = 1e-8 up to the final step
    for state in res.images:
        h = fe.compute(state, (MAGNETIC_FORCES,))[MAGNETIC_FORCES]
        assert np.abs(h[:, 2]).max() < 1e-6
    assert res.descriptors["label"] == ["FM"] * 7
    assert not any(s["magnetic"] for s in res.switches)
    assert np.all(res.moments[:, :, 2] > 2.0)


def test_bain_free_cell_neb_lies_on_or_above_the_relaxed_scan(fe):
    res, ca, vol = bain_neb(fe, start="FM", n_images=7, k=0.1, fmax=1e-4, max_steps=1000)
    assert res.converged, res.summary()
    scan = ca_scan(fe, ca, start="FM")  # at the images' own c/a: no interpolation error
    cmp = compare_with_scan(res, ca, {"FM": scan})
    assert cmp["valid"] and len(cmp["index"]) == 7
    d = cmp["difference"]
    # E_NEB ≥ E_scan up to the volume minimisation (xatol 1e-7 in scale → ~1e-9 eV/atom);
    # measured max 0.45 meV/atom, and 3e-9 eV/atom at the climbing image
    assert d.min() > -1e-7 and d.max() < 1e-3
    assert abs(d[res.climb_index]) < 1e-6
    # moments as band coordinates instead of relaxed: the same saddle (h = 0 there); measured
    # 2e-9 eV/atom and 8e-5 μB (the CI is converged to fmax, |Δx| ~ fmax / curvature)
    joint, cj, _ = bain_neb(fe, start="FM", n_images=7, k=0.1, fmax=1e-4, max_steps=1000,
                            moments="coordinates", moment_weight=1.0)
    assert joint.converged, joint.summary()
    assert joint.barrier / 2 == pytest.approx(res.barrier / 2, abs=1e-7)
    np.testing.assert_allclose(joint.moments[joint.climb_index], res.moments[res.climb_index],
                               atol=1e-3)
    assert cj[joint.climb_index] == pytest.approx(ca[res.climb_index], abs=1e-4)
    assert vol[-1] > vol[0] + 0.5  # the fcc end point relaxed to its own volume


def test_switch_detected_on_fm_bcc_to_afm_fcc_path(fe):
    """Initial band FM bcc → AFM fcc (no optimisation): the relaxed moments change branch between
    two neighbouring images, and exactly that pair is reported."""
    res, ca, _ = bain_neb(fe, start=("FM", "AFM"), n_images=9, max_steps=0)
    labels = res.descriptors["label"]
    assert labels[0] == "FM" and labels[-1] == "AFM"
    change = [k for k in range(8) if labels[k] != labels[k + 1]]
    magnetic = [s for s in res.switches if s["magnetic"]]
    assert len(change) == 1 and len(magnetic) == 1
    sw = magnetic[0]
    assert tuple(sw["between"]) == (change[0], change[0] + 1)
    assert sw["reversed_sites"] == [1] and sw["net_jump"] > 2.0
    same, _, _ = bain_neb(fe, start="FM", n_images=9, max_steps=0)
    assert not any(s["magnetic"] for s in same.switches)
    # both branches along the segment between the two images: they start at the images' own
    # energies (same relaxation) and cross inside
    a, b = (res.images[k] for k in sw["between"])
    prof = resolve_switch(fe, a, b, n_points=11, mode="variable", collinear=True,
                          axis=(0, 0, 1), tol=1e-8)
    assert prof["energies"][0, 0] == pytest.approx(res.energies[sw["between"][0]], abs=1e-8)
    assert prof["energies"][1, -1] == pytest.approx(res.energies[sw["between"][1]], abs=1e-8)
    assert 0 < prof["crossing_t"] < 1
    assert min(res.energies[list(sw["between"])]) < prof["crossing_energy"]


def test_detect_switches_thresholds():
    n = 6
    size = np.array([2.0, 1.95, 1.9, 1.3, 1.25, 1.2])  # one jump of 0.6 μB between 2 and 3
    moments = np.zeros((n, 2, 3))
    moments[:, :, 2] = size[:, None]
    e = np.linspace(0, 0.1, n)
    s = np.linspace(0, 1, n)
    g = np.full(n, 0.1)  # consistent slopes: no cusp
    desc = magnetic_descriptors(moments)
    out = detect_switches(e, s, g, moments, desc, moment_jump=0.25)
    assert [tuple(x["between"]) for x in out] == [(2, 3)]
    assert "site |m| jump" in out[0]["kinds"] and "energy cusp" not in out[0]["kinds"]
    kinked = e.copy()
    kinked[3:] += 0.05  # a step in E with unchanged slopes: cusp between 2 and 3 only
    out = detect_switches(kinked, s, g, np.repeat(moments[:1], n, axis=0),
                          magnetic_descriptors(np.repeat(moments[:1], n, axis=0)), cusp_tol=1e-3)
    assert [tuple(x["between"]) for x in out] == [(2, 3)] and out[0]["kinds"] == ["energy cusp"]
    assert not out[0]["magnetic"]
    afm = moments.copy()
    afm[:, 1, 2] *= -1
    d = magnetic_descriptors(afm)
    assert d["label"] == ["AFM"] * n
    np.testing.assert_allclose(d["staggered"], size)
    np.testing.assert_allclose(d["net"], 0.0, atol=1e-15)


def test_variable_cell_vacancy_hop_converges_symmetric(fe):
    """Atoms and cell together: a vacancy hop in 15-atom bcc Fe (moments relaxed, collinear).
    The path is symmetric, so the converged profile must be too; the cell must actually move."""
    atoms = bulk("Fe", "bcc", a=2.804, cubic=True).repeat(2)
    atoms.arrays.pop("initial_magmoms", None)
    full = SpinLatticeState.from_atoms(atoms, moments=np.tile([0.0, 0.0, 2.24], (16, 1)))
    a = full.replace(positions=full.positions[1:], numbers=full.numbers[1:],
                     moments=full.moments[1:], masses=None)
    j = int(np.argmin(np.linalg.norm(a.positions - 1.402, axis=1)))  # the (½,½,½)a neighbour
    pos = a.positions.copy()
    pos[j] = 0.0
    b = a.replace(positions=pos)
    kw = dict(moments="variable", fmax=1e-4, smax=1e-6, hmax=1e-7, max_steps=2000)
    ends = [relax(fe, s, **kw).state for s in (a, b)]
    res = neb(fe, interpolate(*ends, 5), k=0.2, fmax=2e-3, collinear=True, axis=(0, 0, 1),
              hmax=1e-7, max_steps=1000)
    assert res.converged, res.summary()
    e = res.relative
    np.testing.assert_allclose(e, e[::-1], atol=2e-3)  # eV; fmax 2e-3 eV/Å × ~0.5 Å
    assert res.climb_index == 2 and 0.5 < res.barrier < 2.0  # measured 1.21 eV (7 images)
    vols = np.array([s.volume for s in res.images])
    assert abs(vols[2] - vols[0]) > 0.1  # Å³: the saddle's cell relaxed (measured −0.85)


# --- interpolation and bad input ----------------------------------------------------------------

def test_interpolation_is_linear_in_cell_and_scaled_positions():
    a = bct_state(1.0, 11.5, start_moments("FM"))
    b = bct_state(SQRT2, 12.5, start_moments("AFM"))
    b = b.replace(positions=b.positions + np.array([[0, 0, 0], [0.1, 0, 0]]))
    images = interpolate(a, b, 5)
    assert len(images) == 5
    np.testing.assert_array_equal(images[0].positions, a.positions)
    np.testing.assert_array_equal(images[-1].cell, b.cell)
    np.testing.assert_allclose(images[2].cell, 0.5 * (a.cell + b.cell))
    frac = [np.linalg.solve(im.cell.T, im.positions.T).T for im in images]
    np.testing.assert_allclose(frac[2], 0.5 * (frac[0] + frac[4]), atol=1e-14)
    np.testing.assert_allclose(images[1].moments, 0.75 * a.moments + 0.25 * b.moments)


def test_bad_input_is_a_clear_error(fe):
    images = [bct_state(c, 11.5, start_moments("FM")) for c in np.linspace(1.0, SQRT2, 5)]
    other = images[2].replace(numbers=[26, 27])
    with pytest.raises(InputError, match="species"):
        neb(fe, images[:2] + [other] + images[3:])
    three = SpinLatticeState(positions=np.zeros((3, 3)) + [[0, 0, 0], [1, 1, 1], [2, 0, 1]],
                             numbers=[26] * 3, cell=images[2].cell, pbc=True, moments=np.zeros(3))
    with pytest.raises(InputError, match="3 atoms, image 0 has 2"):
        neb(fe, images[:2] + [three] + images[3:])
    with pytest.raises(InputError, match="not monotonic"):
        neb(fe, [images[0], images[3], images[2], images[4]])
    with pytest.raises(InputError, match="coincide"):
        neb(fe, [images[0], images[2], images[2], images[4]])
    with pytest.raises(InputError, match="at least 3 images"):
        neb(fe, images[::4])
    with pytest.raises(InputError, match="one cell"):
        neb(fe, images, cell_mode="fixed")
    with pytest.raises(InputError, match="k must be"):
        neb(fe, images, k=-1.0)
    with pytest.raises(InputError, match="strictly monotonic"):
        ca_scan(fe, [1.0, 1.2, 1.1, 1.4])
    with pytest.raises(InputError, match="magnetic start"):
        bain_neb(fe, start="ferri")
    space = BandSpace.for_images(images, "variable")
    xs = np.array([space.to_x(s) for s in images])
    assert np.all(np.diff(check_path(space, xs)) > 0)


# --- command line ---------------------------------------------------------------------------------

def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "spinlattice", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_cli_quick_run_writes_results_and_plot(tmp_path):
    out = run_cli("neb", "--quick-test", "--output", "run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "STAND-IN" in out.stdout and "PBE: 83.5" in out.stdout
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    for key in ("fcc_minus_bcc_meV", "barrier_meV", "runs", "bcc_ground_state",
                "reference_fcc_minus_bcc_meV"):
        assert key in results
    run = results["runs"]["FM"]
    assert len(run["neb"]["c_over_a"]) == 5 and len(run["neb"]["moments"]) == 5
    assert run["neb"]["converged"]
    assert (tmp_path / "run" / "bain.png").stat().st_size > 10_000


def test_cli_bad_config_is_a_clear_error(tmp_path):
    (tmp_path / "c.json").write_text('{"startz": ["FM"]}')
    out = run_cli("neb", "c.json", cwd=tmp_path)
    assert out.returncode == 2 and "unknown configuration keys ['startz']" in out.stderr
    (tmp_path / "d.json").write_text('{"starts": ["FM->XX"]}')
    out = run_cli("neb", "d.json", cwd=tmp_path)
    assert out.returncode == 2 and "starts must be" in out.stderr


@pytest.mark.slow
def test_cli_default_bain_run(tmp_path):
    """The full default workflow (FM, AFM, NM, FM->AFM; 9 images; 21-point scans), ~1 min."""
    out = run_cli("neb", "--output", "run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    assert r["bcc_ground_state"] == "FM" and r["fcc_lowest_state"] == "AFM"
    for start, run in r["runs"].items():
        assert run["neb"]["converged"], start
        c = run["comparison"]
        assert min(c["difference_meV"]) > -0.02 and max(c["difference_meV"]) < 1.5, start
        assert c["neb_maximum"]["energy"] == pytest.approx(c["scan_maximum"]["energy"], abs=2e-5)
    switches = [s for s in r["runs"]["FM->AFM"]["neb"]["switches"] if s["magnetic"]]
    assert len(switches) == 1 and switches[0]["labels"] == ["FM", "AFM"]
