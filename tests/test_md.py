"""Lattice MD with frozen moments (DESIGN §6 rung 5): NVE energy error ∝ dt², thermostats reach
their target temperature with canonical fluctuations, total momentum stays zero, units agree
with ASE, and bad input gives clear errors.

Systems: bcc Fe 2×2×2 (16 atoms) with Morse + a distance-dependent (Bethe–Slater) Heisenberg
term and random frozen moments, so the forces depend on the moments; and an "Einstein crystal"
(independent harmonic oscillators, numpy, microseconds per call) whose canonical averages are
known exactly: ⟨E_pot⟩ = ⟨K⟩ = (3N/2) k_B T.

Statistical tolerances: means are compared within 4 standard errors from the integrated
autocorrelation time (Sokal window; analysis.statistics.mean_and_error), a false-failure rate
of ~6e-5 per assertion for Gaussian errors; runs are seeded, so the tests are deterministic.
"""

import numpy as np
import pytest
from ase.build import bulk

from spinlattice.analysis.statistics import mean_and_error
from spinlattice.drivers import md as mdmod
from spinlattice.drivers.md import (Bussi, Langevin, MDState, StochasticCellRescaling,
                                    kinetic_energy, maxwell_boltzmann_momenta, run_md,
                                    start_md)
from spinlattice.errors import InputError
from spinlattice.potential import SumPotential
from spinlattice.potentials import BetheSlater, Heisenberg, Morse
from spinlattice.state import SpinLatticeState
from spinlattice.units import AMU_A2_FS2, K_B


def fe_potential():
    return SumPotential(Morse({"*": (0.4174, 1.3885, 2.845)}, cutoff=5.0, taper=1.0),
                        Heisenberg(BetheSlater({"*": (0.01, 0.5, 2.0)}, cutoff=4.0, taper=0.5)))


def fe_state(repeat=2, seed=0, masses=True):
    atoms = bulk("Fe", "bcc", a=2.87, cubic=True).repeat(repeat)
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(len(atoms), 3))
    m *= 2.2 / np.linalg.norm(m, axis=1)[:, None]
    state = SpinLatticeState.from_atoms(atoms, moments=m)
    return state if masses else state.replace(masses=None)


class Einstein:
    """E = ½ Σ_i k_i |r_i − r0_i|²: independent oscillators (no momentum conservation)."""

    cutoff = 0.0
    receptive_field = 0.0
    spin_orbit = False

    def __init__(self, r0, k):
        self.r0, self.k = np.asarray(r0, float), np.asarray(k, float)

    def compute(self, state, properties=("energy",)):
        d = state.positions - self.r0
        return {"energy": 0.5 * float(np.sum(self.k[:, None] * d * d)),
                "forces": -self.k[:, None] * d}


def einstein(n=64, seed=0):
    rng = np.random.default_rng(seed)
    r0 = np.arange(n)[:, None] * np.array([[3.0, 0.0, 0.0]])
    state = SpinLatticeState(positions=r0, numbers=[26] * n, cell=np.zeros((3, 3)), pbc=False,
                             moments=np.zeros((n, 3)))
    return Einstein(r0, rng.uniform(2.0, 8.0, n)), state  # periods 170-340 fs for Fe mass


# --- NVE -----------------------------------------------------------------------------------
def test_nve_energy_error_scales_as_dt_squared():
    """Velocity Verlet: the rms deviation of E_tot from its start over the same 400 fs is
    ∝ dt² (its shadow Hamiltonian differs from H by O(dt²)). Measured ratio 4.01 for 2 → 1 fs
    (4.05 for 4 → 2); the band [3.6, 4.4] allows the O(dt²) correction to the ratio and the
    slightly different chaotic trajectories; a wrong half-kick or a force/energy mismatch
    gives a ratio near 1 or an error that does not shrink."""
    pot = fe_potential()
    md0 = start_md(pot, fe_state(), 600.0, np.random.default_rng(1))
    assert np.abs(md0.forces).max() > 0.02  # the moments really produce forces
    rms = {}
    for dt in (2.0, 1.0):
        md, rec = run_md(pot, md0, dt, int(400 / dt))
        err = rec.conserved - rec.conserved[0]
        rms[dt] = np.sqrt(np.mean(err ** 2))
        assert np.abs(md.momenta.sum(axis=0)).max() < 1e-12
        assert md.time == pytest.approx(400.0)
    ratio = rms[2.0] / rms[1.0]
    assert 3.6 < ratio < 4.4, (rms, ratio)
    # and small in absolute terms: < 1e-3 of the kinetic energy (≈ 1 eV here) at 1 fs
    assert rms[1.0] < 1e-3 * md0.kinetic_energy


def test_nve_trajectory_matches_ase_velocity_verlet():
    """Same 30 steps as ASE's VelocityVerlet through the ASE calculator: checks the
    amu·Å²/fs² ↔ eV conversion, which energy conservation alone cannot (a wrong factor is just
    a different time step)."""
    from ase import units
    from ase.md.verlet import VelocityVerlet

    from spinlattice.calculator import SpinLatticeCalculator

    pot = fe_potential()
    md0 = start_md(pot, fe_state(), 600.0, np.random.default_rng(2))
    md, _ = run_md(pot, md0, 1.5, 30)
    atoms = md0.state.replace(momenta=None).to_atoms()
    atoms.set_momenta(md0.momenta / units.fs)  # amu·Å/fs → ASE's amu·Å/(ASE time)
    atoms.calc = SpinLatticeCalculator(pot)
    VelocityVerlet(atoms, timestep=1.5 * units.fs).run(30)
    # ASE's CODATA-2014 amu/e give 1 amu Å²/fs² = 103.6426957 eV, ours (2018) 103.6426966:
    # 8e-9 relative, so agreement to ~1e-7 (a wrong conversion would be off by O(1))
    np.testing.assert_allclose(atoms.get_positions(), md.state.positions, rtol=0, atol=1e-9)
    np.testing.assert_allclose(atoms.get_momenta() * units.fs, md.momenta, rtol=0,
                               atol=1e-7 * np.abs(md.momenta).max())
    assert np.abs(md.momenta).max() > 0.05  # it did move


# --- initial velocities --------------------------------------------------------------------
def test_maxwell_boltzmann_momenta():
    masses = np.array([55.845] * 8 + [26.98] * 8)
    rng = np.random.default_rng(5)
    draws = np.array([maxwell_boltzmann_momenta(masses, 300.0, rng) for _ in range(4000)])
    # zero total momentum in every draw
    assert np.abs(draws.sum(axis=1)).max() < 1e-12
    # ⟨K⟩ = (3N − 3) k_B T/2 = 0.5817 eV; the std of K is sqrt(N_f/2) k_B T → SE over 4000 draws
    # is 0.35 %; 4 SE
    kin = np.array([kinetic_energy(p, masses) for p in draws])
    expected = 0.5 * 45 * K_B * 300.0
    assert abs(kin.mean() - expected) < 4 * np.sqrt(45 / 2) * K_B * 300.0 / np.sqrt(4000)
    # per-component variance m k_B T (light and heavy atoms alike), in amu²Å²/fs²; with the
    # momentum constraint the variance of p_i is m_i kT (1 − m_i/M): ±5 % (SE ≈ 2.2 % per group)
    for sl in (slice(0, 8), slice(8, 16)):
        var = draws[:, sl, :].var(axis=(0, 2)).mean()
        m = masses[sl][0]
        assert var == pytest.approx(m * K_B * 300.0 / AMU_A2_FS2 * (1 - m / masses.sum()), rel=0.05)
    # exact rescaling and reproducibility from the seed
    p = maxwell_boltzmann_momenta(masses, 300.0, np.random.default_rng(9), exact=True)
    assert 2 * kinetic_energy(p, masses) / (45 * K_B) == pytest.approx(300.0, rel=1e-12)
    np.testing.assert_array_equal(
        p, maxwell_boltzmann_momenta(masses, 300.0, np.random.default_rng(9), exact=True))


# --- thermostats ---------------------------------------------------------------------------
def test_langevin_einstein_crystal_exact_averages():
    """BAOAB on independent oscillators (64 atoms, periods 170–340 fs, dt 2 fs, γ = 0.05/fs):
    ⟨K⟩ and ⟨E_pot⟩ both equal (3N/2) k_B T within 4 SE (SE ≈ 0.4 % here). BAOAB samples the
    harmonic positions exactly at any dt; the kinetic bias is O((ω dt)²) ≈ 0.1 %, below the
    tolerance."""
    pot, state = einstein()
    t = 400.0
    md = start_md(pot, state, t, np.random.default_rng(3), zero_momentum=False)
    md, rec = run_md(pot, md, 2.0, 8000, Langevin(t, 0.05), np.random.default_rng(11))
    expected = 1.5 * 64 * K_B * t
    for series in (rec.kinetic_energy[500:], rec.potential_energy[500:]):
        mean, err = mean_and_error(series)
        assert err < 0.01 * expected
        assert abs(mean - expected) < 4 * err, (mean, expected, err)


class _Free(Einstein):
    """No forces: the kinetic energy moves only through the thermostat."""

    def compute(self, state, properties=("energy",)):
        return {"energy": 0.0, "forces": np.zeros_like(state.positions)}


@pytest.mark.parametrize("thermostat", [Langevin(300.0, 0.2), Bussi(300.0, 4.0)],
                         ids=["langevin", "bussi"])
def test_thermostat_free_particles_exact_kinetic_distribution(thermostat):
    """64 free particles with zero total momentum (N_f = 189): ⟨T_kin⟩ = T and
    Var(K) = (N_f/2)(k_B T)² exactly for both thermostats at any dt (the O step and the CSVR
    update are exact). 6000 steps with correlation times of a few steps give SE ≈ 0.25 % on the
    mean, so the 4-SE band (≈ 1 %) resolves an N_f off by 3 (1.6 %), a 2 % wrong noise or an
    unprojected Langevin noise; the variance is checked to ±10 % (4 × its SE of ≈ 2.5 %)."""
    _, state = einstein(64)
    masses = np.linspace(20.0, 120.0, 64)
    state = state.replace(masses=masses)
    md = start_md(_Free(state.positions, np.zeros(64)), state, 300.0, np.random.default_rng(3))
    md, rec = run_md(_Free(state.positions, np.zeros(64)), md, 2.0, 6000, thermostat,
                     np.random.default_rng(4))
    assert md.ndof == 189 and np.abs(md.momenta.sum(axis=0)).max() < 1e-12
    temps = rec.temperature[100:]
    mean, err = mean_and_error(temps)
    assert err < 0.004 * 300.0
    assert abs(mean - 300.0) < 4 * err, (mean, err)
    kin = rec.kinetic_energy[100:]
    assert kin.var() == pytest.approx(189 / 2 * (K_B * 300.0) ** 2, rel=0.10)


@pytest.mark.parametrize("thermostat", [Langevin(500.0, 0.02), Bussi(500.0, 50.0)],
                         ids=["langevin", "bussi"])
def test_thermostat_reaches_target_temperature_fe(thermostat):
    """bcc Fe, 16 atoms, started cold (50 K), dt 2 fs, 2500 steps — the real use, forces from
    Morse + moment-dependent exchange: the mean kinetic temperature after 500 steps is 500 K
    within 4 SE (SE ≈ 2 %, so this resolves only ≈ 8 %: the sharp checks are the free-particle
    and Einstein tests), its relative spread is the canonical sqrt(2/N_f) = 0.211 within 20 %
    (a Berendsen-like rescaling gives far less), Σ p stays 0, and the effective energy
    H̃ = E + K − heat is conserved: rms deviation < 3 % of the canonical rms of E + K."""
    pot = fe_potential()
    md0 = start_md(pot, fe_state(), 50.0, np.random.default_rng(4))
    md, rec = run_md(pot, md0, 2.0, 2500, thermostat, np.random.default_rng(6))
    temps = rec.temperature[500:]
    mean, err = mean_and_error(temps)
    assert err < 0.04 * thermostat.temperature
    assert abs(mean - thermostat.temperature) < 4 * err, (mean, err)
    assert temps.std() / mean == pytest.approx(np.sqrt(2.0 / md.ndof), rel=0.2)
    assert np.abs(md.momenta.sum(axis=0)).max() < 1e-12
    total = (rec.potential_energy + rec.kinetic_energy)[500:]
    drift = rec.conserved[500:] - rec.conserved[500]
    assert np.sqrt(np.mean(drift ** 2)) < 0.03 * total.std()
    assert abs(md.heat) > 0 and rec.conserved.shape == rec.temperature.shape


def test_bussi_conserved_quantity_error_scales_as_dt_squared():
    """H̃ = E + K − heat of CSVR is conserved up to the Verlet error: over 300 fs its rms
    deviation drops ≈ 4× from dt 2 → 1 fs (band [3, 5.3]: the thermostat noise makes the two
    trajectories differ more than in NVE), while the heat exchanged is much larger."""
    pot = fe_potential()
    md0 = start_md(pot, fe_state(), 300.0, np.random.default_rng(1))
    rms, heat = {}, {}
    for dt in (2.0, 1.0):
        md, rec = run_md(pot, md0, dt, int(300 / dt), Bussi(900.0, 20.0), np.random.default_rng(8))
        rms[dt] = np.sqrt(np.mean((rec.conserved - rec.conserved[0]) ** 2))
        heat[dt] = md.heat
    assert 3.0 < rms[2.0] / rms[1.0] < 5.3, rms
    assert abs(heat[1.0]) > 100 * rms[1.0], (heat, rms)


def test_bussi_factor_statistics():
    """The CSVR kinetic-energy update leaves the canonical K-distribution (Gamma(N_f/2, kT))
    invariant: start from canonical K's, apply one update with c = 0.5, check mean and variance
    (±4 SE over 20000 samples)."""
    rng = np.random.default_rng(12)
    ndof, kt = 30, 0.05
    target = 0.5 * ndof * kt
    k0 = rng.gamma(ndof / 2, kt, 20000)
    k1 = np.array([mdmod.bussi_factor(k, target, ndof, 0.5, rng)[1] for k in k0])
    assert abs(k1.mean() - target) < 4 * np.sqrt(ndof / 2) * kt / np.sqrt(20000)
    assert k1.var() == pytest.approx(ndof / 2 * kt * kt, rel=4 * np.sqrt(2 / 20000) * 1.3)
    alpha, new = mdmod.bussi_factor(0.4, target, ndof, 0.5, np.random.default_rng(0))
    assert alpha ** 2 * 0.4 == pytest.approx(new, rel=1e-12)


def test_pressure_and_records():
    """With stress: P = −tr σ/3 + 2K/(3V), recorded every 5 steps."""
    pot = fe_potential()
    md0 = start_md(pot, fe_state(), 300.0, np.random.default_rng(1), stress=True)
    sigma = pot.compute(md0.state, ("stress",))["stress"]
    assert md0.pressure == pytest.approx(-np.trace(sigma) / 3
                                         + 2 * md0.kinetic_energy / (3 * md0.state.volume))
    md, rec = run_md(pot, md0, 1.0, 20, record_every=5)
    assert rec.step.tolist() == [0, 5, 10, 15, 20]
    assert np.all(np.isfinite(rec.pressure))
    md, rec = run_md(pot, fe_state(), 1.0, 2)  # no stress requested → NaN pressure
    assert np.all(np.isnan(rec.pressure)) and rec.kinetic_energy[0] == 0


# --- barostat -----------------------------------------------------------------------------
def _npt(pressure, n_steps, seed, every=5):
    pot = fe_potential()
    state = fe_state()
    state = state.replace(positions=state.positions * 1.014, cell=state.cell * 1.014)
    md0 = start_md(pot, state, 600.0, np.random.default_rng(seed), stress=True)
    baro = StochasticCellRescaling(pressure, 600.0, 100.0, 1.0, every)
    return run_md(pot, md0, 2.0, n_steps, Bussi(600.0, 50.0), np.random.default_rng(seed + 1),
                  barostat=baro)


def test_stochastic_cell_rescaling_reaches_target_pressure():
    """NPT (Bussi 600 K + SCR, P₀ = 0.05 eV/Å³ ≈ 8 GPa, τ_p 100 fs, barostat every 5 steps) on
    bcc Fe 16 atoms, 2500 steps of 2 fs: ⟨P_int⟩ = P₀ within 4 SE (SE ≈ 0.0025 eV/Å³; the exact
    NPT identity ⟨P_int⟩ = P₀ holds for any N); the cell is scaled isotropically; Σ p = 0; the
    effective energy E + K + P₀V − heat stays within 0.05 eV (rms), while the baths exchange
    ≈ 1 eV — dropping the trapezoid (f₀ + f₁)/2 in the work, or not scaling the momenta, gives
    rms deviations of 0.3 and 0.02 eV even at 1 fs."""
    md, rec = _npt(0.05, 2500, 3)
    mean, err = mean_and_error(rec.pressure[500:])
    assert err < 0.005
    assert abs(mean - 0.05) < 4 * err, (mean, err)
    cell0 = fe_state().cell
    factor = md.state.cell[0, 0] / cell0[0, 0]
    np.testing.assert_allclose(md.state.cell, factor * cell0, rtol=0, atol=1e-12)
    assert rec.volume.std() > 1.0  # it really fluctuates
    assert np.abs(md.momenta.sum(axis=0)).max() < 1e-12
    drift = rec.conserved - rec.conserved[0]
    assert np.sqrt(np.mean(drift ** 2)) < 0.05 and md.pv == pytest.approx(0.05 * md.state.volume)


@pytest.mark.slow
def test_stochastic_cell_rescaling_volume_fluctuations():
    """Var(V) = k_B T V κ_T with κ_T = −(1/V) d⟨V⟩/dP₀ measured from ⟨V⟩ at P₀ ± 0.01 eV/Å³
    (three 20000-step NPT runs, ≈ 3 min). The fluctuation estimate has SE ≈ 10 % and the
    finite-difference κ ≈ 8 %, so ±30 % (≈ 2.3 combined SE); a Berendsen barostat gives a
    variance several times too small."""
    volumes = {}
    for p0 in (0.04, 0.05, 0.06):
        _, rec = _npt(p0, 20000, 7)
        volumes[p0] = rec.volume[2000:]
    v = volumes[0.05]
    kappa = -(volumes[0.06].mean() - volumes[0.04].mean()) / 0.02 / v.mean()
    assert v.var() == pytest.approx(K_B * 600.0 * v.mean() * kappa, rel=0.3)


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("dt", [0.0, -1.0, float("nan"), float("inf"), "1"])
def test_bad_time_step(dt):
    with pytest.raises(InputError, match="time step dt"):
        run_md(fe_potential(), fe_state(), dt, 3)


def test_missing_masses_use_ase_defaults():
    md = start_md(fe_potential(), fe_state(masses=False), 300.0, np.random.default_rng(0))
    np.testing.assert_allclose(md.masses, 55.845, rtol=1e-4)


def test_bad_inputs_are_clear():
    pot, state = fe_potential(), fe_state()
    with pytest.raises(InputError, match="friction"):
        Langevin(300.0, 0.0)
    with pytest.raises(InputError, match="tau"):
        Bussi(300.0, float("nan"))
    with pytest.raises(InputError, match="temperature"):
        Bussi(-5.0, 10.0)
    with pytest.raises(InputError, match="Generator"):
        run_md(pot, state.replace(momenta=np.zeros((16, 3))), 1.0, 2, Langevin(300.0, 0.1))
    with pytest.raises(InputError, match="Generator"):
        start_md(pot, state, 300.0)
    with pytest.raises(InputError, match="unknown thermostat"):
        run_md(pot, state, 1.0, 2, thermostat="nose-hoover", rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="n_steps"):
        run_md(pot, state, 1.0, -1)
    with pytest.raises(InputError, match="NaN"):
        state.replace(positions=np.full((16, 3), np.nan))
    with pytest.raises(InputError, match="periodic"):
        start_md(*einstein(), stress=True)
    with pytest.raises(InputError, match="tau"):
        StochasticCellRescaling(0.0, 300.0, 0.0)
    with pytest.raises(InputError, match="every"):
        StochasticCellRescaling(0.0, 300.0, 100.0, every=0)
    pot_e, st_e = einstein()
    with pytest.raises(InputError, match="periodic"):
        run_md(pot_e, st_e, 1.0, 2, Bussi(300.0, 10.0), np.random.default_rng(0),
               barostat=StochasticCellRescaling(0.0, 300.0, 100.0))


class _Exploding(Einstein):
    def compute(self, state, properties=("energy",)):
        out = super().compute(state, properties)
        if np.abs(state.positions - self.r0).max() > 0.5:
            out["forces"] = out["forces"] * np.nan
        return out


def test_blow_up_is_reported():
    _, state = einstein(4)
    pot = _Exploding(state.positions, np.ones(4))
    md = start_md(pot, state.replace(momenta=np.full((4, 3), 20.0)), zero_momentum=False)
    assert isinstance(md, MDState)
    with pytest.raises(FloatingPointError, match="non-finite.*smaller dt"):
        run_md(pot, md, 1.0, 10)
