"""Moment minimisation (drivers/minimise.py): analytic minima, invariants, step bounds, bad input.

Models are the analytic terms of spinlattice.potentials on small cells, so every expected number
is a closed-form expression. Tolerances follow from the residual tolerance: near a minimum the
energy error is ~ residual²/stiffness and the angle error ~ residual/stiffness.
"""

import numpy as np
import pytest
from ase.build import bulk
from scipy.optimize import brentq

from spinlattice import InputError, MomentRangeError, SpinLatticeState, SumPotential
from spinlattice.drivers.minimise import minimise_moments
from spinlattice.potentials import Heisenberg, Landau, ShellTable, UniaxialAnisotropy, Zeeman
from spinlattice.sphere import angle_between, uniform_on_sphere
from spinlattice.units import MU_B

A_FE = 2.87
D1 = A_FE * np.sqrt(3) / 2  # bcc nearest-neighbour distance


def bcc_state(rng, length=2.2, repeat=2):
    atoms = bulk("Fe", "bcc", a=A_FE, cubic=True).repeat(repeat)
    moments = uniform_on_sphere(rng, len(atoms)) * length
    return SpinLatticeState.from_atoms(atoms, moments=moments)


def bcc_sublattice(state):
    """0 for cube corners, 1 for body centres (fractional coordinates of the 2x2x2 cell)."""
    frac = state.positions / A_FE
    return (np.round(frac[:, 0] * 2).astype(int) % 2)


def heisenberg(j):
    return Heisenberg(ShellTable({("Fe", "Fe"): [(D1, j)]}))


def single_site(moment):
    return SpinLatticeState(positions=[[0.0, 0.0, 0.0]], numbers=[26], cell=np.eye(3) * 10,
                            pbc=False, moments=[moment])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ferromagnet_reaches_analytic_minimum(seed):
    rng = np.random.default_rng(seed)
    j, length = 0.01, 2.2
    state = bcc_state(rng, length)
    res = minimise_moments(heisenberg(j), state, mode="fixed", tol=1e-9)
    assert res.converged and res.residual <= 1e-9
    # E = −J L² × (4 bonds per atom) for all moments parallel
    expected = -j * length**2 * 4 * state.n_atoms
    # energy error ~ τ²/(8 J L²) ≈ 1e-17 eV: 1e-10 relative is far above it
    assert res.energy == pytest.approx(expected, rel=1e-10)
    m = res.state.moments
    assert np.max(np.degrees(angle_between(m, m[0]))) < 1e-5
    assert np.max(np.abs(np.linalg.norm(m, axis=1) - length)) < 1e-12


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_two_sublattice_antiferromagnet_reaches_analytic_minimum(seed):
    rng = np.random.default_rng(seed)
    j, length = -0.01, 2.2
    state = bcc_state(rng, length)
    res = minimise_moments(heisenberg(j), state, mode="fixed", tol=1e-9)
    assert res.converged
    # every bond antiparallel: E = −|J| L² × 4 bonds per atom
    assert res.energy == pytest.approx(-abs(j) * length**2 * 4 * state.n_atoms, rel=1e-10)
    m = res.state.moments
    sub = bcc_sublattice(state)
    ref = m[0]
    sign = np.where(sub == sub[0], 1.0, -1.0)
    # every moment parallel to ±m_0 with the sublattice sign: staggered order
    assert np.max(np.degrees(angle_between(sign[:, None] * m, ref))) < 1e-5
    staggered = np.linalg.norm((sign[:, None] * m).mean(axis=0))
    assert staggered == pytest.approx(length, rel=1e-10)
    # canting angles ≲ τ/(8|J|L²) ≈ 3e-9 rad → net moment ≲ N L × 3e-9 ≈ 1e-7 μB
    assert np.linalg.norm(m.sum(axis=0)) < 1e-6


def test_variable_length_antiferromagnet_with_landau():
    """Variable length: |m|² = (4|J| − A)/(2B) from ∂/∂L² of A L² + B L⁴ − 4|J| L² per atom."""
    rng = np.random.default_rng(7)
    j, a, b = -0.01, -0.1, 0.01
    pot = SumPotential(heisenberg(j), Landau({"Fe": (a, b, 0.0)}))
    state = bcc_state(rng, 1.0)
    res = minimise_moments(pot, state, mode="variable", tol=1e-9)
    assert res.converged
    length2 = (4 * abs(j) - a) / (2 * b)
    np.testing.assert_allclose(np.linalg.norm(res.state.moments, axis=1), np.sqrt(length2),
                               rtol=1e-8)
    assert res.energy == pytest.approx(state.n_atoms * -(4 * abs(j) - a) ** 2 / (4 * b), rel=1e-12)


def stoner_wohlfarth_angle(k, length, field, psi):
    """Equilibrium polar angle θ of E(θ) = −K L² cos²θ − μ_B L B cos(θ − ψ) on the branch
    between the easy axis (0) and the field (ψ < π/2): K L² sin 2θ + μ_B L B sin(θ − ψ) = 0."""
    return brentq(lambda t: k * length**2 * np.sin(2 * t) + MU_B * length * field * np.sin(t - psi),
                  0.0, psi)


@pytest.mark.parametrize("use_zeeman_term", [False, True])
def test_stoner_wohlfarth_angle(use_zeeman_term):
    k, length, psi = 1e-4, 2.0, np.radians(60.0)
    b_field = 0.5 * 2 * k * length / MU_B  # reduced field h = μ_B B /(2 K L) = 0.5 (< switching)
    direction = np.array([np.sin(psi), 0.0, np.cos(psi)])
    aniso = UniaxialAnisotropy({"Fe": (k, 0.0)}, axis=(0, 0, 1))
    start = single_site(length * np.array([0.3, 0.4, 0.866]) / np.linalg.norm([0.3, 0.4, 0.866]))
    if use_zeeman_term:
        res = minimise_moments(SumPotential(aniso, Zeeman(b_field * direction)), start,
                               mode="fixed", tol=1e-12)
    else:
        res = minimise_moments(aniso, start, mode="fixed", field=b_field * direction, tol=1e-12)
    assert res.converged
    m = res.state.moments[0]
    theta = np.arccos(m[2] / np.linalg.norm(m))
    expected = stoner_wohlfarth_angle(k, length, b_field, psi)
    # torque 1e-12 eV over a stiffness ≳ K L² = 4e-4 eV → angle error ≲ 3e-9 rad
    assert theta == pytest.approx(expected, abs=1e-7)
    assert abs(m[1]) < 1e-7  # stays in the plane of axis and field
    assert 5 < np.degrees(expected) < 55  # a genuine compromise angle, not a trivial one


def test_fixed_length_preserves_moment_lengths():
    rng = np.random.default_rng(11)
    state = bcc_state(rng)
    lengths = rng.uniform(0.5, 3.0, state.n_atoms)
    state = state.replace(moments=state.moments / np.linalg.norm(state.moments, axis=1)[:, None]
                          * lengths[:, None])
    pot = SumPotential(heisenberg(-0.01), UniaxialAnisotropy({"Fe": (2e-3, 0.0)}, axis=(1, 1, 0)),
                       Landau({"Fe": (-0.1, 0.01, 0.0)}))
    res = minimise_moments(pot, state, mode="fixed", field=(0.0, 3.0, 1.0), tol=1e-8)
    assert res.converged
    assert np.max(np.abs(np.linalg.norm(res.state.moments, axis=1) - lengths)) < 1e-12


def test_variable_length_finds_landau_minimum():
    a, b = -0.12, 0.015
    rng = np.random.default_rng(5)
    start = single_site(0.3 * uniform_on_sphere(rng, 1)[0])
    res = minimise_moments(Landau({"Fe": (a, b, 0.0)}), start, mode="variable", tol=1e-12)
    assert res.converged
    m2 = float(np.sum(res.state.moments[0] ** 2))
    # |h| = |2A + 4B m²| |m| ≤ 1e-12 → |m² + A/2B| ≤ 1e-12 / (4B|m|) ≈ 1e-11
    assert m2 == pytest.approx(-a / (2 * b), abs=1e-10)
    assert res.energy == pytest.approx(-a * a / (4 * b), rel=1e-12)


def test_step_count_reported_and_bounded():
    rng = np.random.default_rng(21)
    state = bcc_state(rng)
    res = minimise_moments(heisenberg(-0.01), state, mode="fixed", tol=1e-8)
    assert res.converged
    # measured ≈ 20–30 L-BFGS steps for 16 spins; plain gradient descent needs hundreds
    assert 1 <= res.steps <= 100
    assert res.evaluations >= res.steps + 1
    assert len(res.energies) == res.steps + 1
    assert np.all(np.diff(res.energies) <= 1e-12)  # Armijo: never uphill
    seen = []
    capped = minimise_moments(heisenberg(-0.01), state, mode="fixed", tol=1e-8, max_steps=3,
                              callback=lambda k, m, e: seen.append((k, m.shape, e)))
    assert [s[0] for s in seen] == [1, 2, 3] and seen[0][1] == (16, 3)
    assert seen[-1][2] == capped.energy
    assert capped.steps == 3 and not capped.converged
    assert "max_steps" in capped.message and "NOT converged" in capped.summary()


def test_mask_freezes_sites_and_sets_the_direction():
    rng = np.random.default_rng(2)
    state = bcc_state(rng)
    mask = np.ones(state.n_atoms, dtype=bool)
    mask[0] = False
    moments = state.moments.copy()
    moments[0] = [2.2, 0.0, 0.0]
    state = state.replace(moments=moments)
    res = minimise_moments(heisenberg(0.01), state, mode="fixed", mask=mask, tol=1e-9)
    assert res.converged
    np.testing.assert_array_equal(res.state.moments[0], [2.2, 0.0, 0.0])
    assert np.max(np.degrees(angle_between(res.state.moments, [1.0, 0.0, 0.0]))) < 1e-5


def test_collinear_mode_keeps_moments_on_the_axis():
    rng = np.random.default_rng(9)
    pot = SumPotential(heisenberg(-0.01), Landau({"Fe": (-0.1, 0.01, 0.0)}))
    state = bcc_state(rng, 1.0)
    axis = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    res = minimise_moments(pot, state, mode="variable", collinear=True, axis=axis, tol=1e-9)
    assert res.converged
    m = res.state.moments
    assert np.max(np.linalg.norm(np.cross(m, axis), axis=1)) < 1e-12
    # every site sits at a stationary signed length along the axis: h·n = 0
    h_along = np.abs(pot.compute(res.state, ("magnetic_forces",))["magnetic_forces"] @ axis)
    assert np.max(h_along) < 1e-9


class _Bounded:
    """Wraps a potential, declares max_moment and records the largest |m| it was asked about."""

    def __init__(self, pot, limit):
        self.pot, self.max_moment = pot, {26: limit}
        self.cutoff, self.receptive_field, self.spin_orbit = pot.cutoff, pot.receptive_field, False
        self.largest = 0.0

    def compute(self, state, properties=("energy",)):
        self.largest = max(self.largest, float(np.max(np.linalg.norm(state.moments, axis=1))))
        return self.pot.compute(state, properties)


def test_variable_length_stays_inside_the_valid_range():
    # Landau minimum at |m| = sqrt(−A/2B) = 3 lies outside the valid range 2.5: the minimiser
    # must stop against the wall without ever evaluating beyond it
    pot = _Bounded(Landau({"Fe": (-0.18, 0.01, 0.0)}), 2.5)
    res = minimise_moments(pot, single_site([0.3, 0.2, 0.1]), mode="variable", tol=1e-8,
                           max_steps=2000)
    assert pot.largest < 2.5
    assert res.converged
    assert np.linalg.norm(res.state.moments[0]) == pytest.approx(2.5, rel=1e-5)
    with pytest.raises(MomentRangeError, match="above the potential's limit"):
        minimise_moments(pot, single_site([0.0, 0.0, 2.6]), mode="variable")


def test_bad_input_gives_clear_errors():
    rng = np.random.default_rng(0)
    state = bcc_state(rng)
    pot = heisenberg(0.01)
    with pytest.raises(InputError, match=r"mask must have shape \(16,\)"):
        minimise_moments(pot, state, mask=np.ones(5, dtype=bool))
    with pytest.raises(InputError, match="mask must hold booleans"):
        minimise_moments(pot, state, mask=np.full(16, 2))
    zero = state.moments.copy()
    zero[3] = 0.0
    with pytest.raises(InputError, match=r"non-zero moments on free sites; atoms \[3\]"):
        minimise_moments(pot, state.replace(moments=zero), mode="fixed")
    mask = np.ones(16, dtype=bool)
    mask[3] = False
    assert minimise_moments(pot, state.replace(moments=zero), mode="fixed", mask=mask,
                            max_steps=2).steps == 2  # a masked zero moment is fine
    with pytest.raises(InputError, match="collinear=True needs mode='variable'"):
        minimise_moments(pot, state, mode="fixed", collinear=True)
    with pytest.raises(InputError, match="mode must be one of"):
        minimise_moments(pot, state, mode="sphere")
    with pytest.raises(InputError, match="tol must be positive"):
        minimise_moments(pot, state, tol=0.0)
    with pytest.raises(InputError, match="field must be 3 finite numbers"):
        minimise_moments(pot, state, field=(1.0, 2.0))
    with pytest.raises(InputError, match="max_steps"):
        minimise_moments(pot, state, max_steps=-1)
    with pytest.raises(InputError, match="axis must be a non-zero 3-vector"):
        minimise_moments(pot, state, mode="variable", collinear=True, axis=(0, 0, 0))


@pytest.mark.parametrize("parametrisation", ["polar", "cartesian"])
def test_variable_parametrisations_agree_and_grow_a_zero_moment(parametrisation):
    """From m = 0 in a field: h = μ_B B ≠ 0, so the moment must grow along B to the root of
    2A m + 4B m³ = μ_B |B| (A > 0 here: no spontaneous moment, only the induced one)."""
    a, b, field = 0.05, 0.01, np.array([0.0, 300.0, 400.0])
    res = minimise_moments(Landau({"Fe": (a, b, 0.0)}), single_site([0.0, 0.0, 0.0]),
                           mode="variable", field=field, tol=1e-12,
                           parametrisation=parametrisation)
    assert res.converged
    size = brentq(lambda m: 2 * a * m + 4 * b * m**3 - MU_B * 500.0, 0.0, 1.0)
    m = res.state.moments[0]
    assert np.linalg.norm(m) == pytest.approx(size, rel=1e-9)
    assert np.degrees(angle_between(m, field)) < 1e-6
    rng = np.random.default_rng(8)
    pot = SumPotential(heisenberg(-0.01), Landau({"Fe": (-0.1, 0.01, 0.0)}),
                       UniaxialAnisotropy({"Fe": (1e-3, 0.0)}))
    state = bcc_state(rng, 1.0)
    e = [minimise_moments(pot, state, mode="variable", tol=1e-9, parametrisation=p).energy
         for p in ("polar", "cartesian")]
    assert e[0] == pytest.approx(e[1], abs=1e-12)
    with pytest.raises(InputError, match="parametrisation must be"):
        minimise_moments(pot, state, mode="variable", parametrisation="spherical")
