"""Joint relaxation of positions, cell and moments (drivers/relax.py) on an analytic bcc-Fe model.

Model (per atom, ferromagnetic bcc, lattice constant a, moment length L):
    E(a, L) = 4 φ(r₁) + 3 φ(a) − 4 J(r₁) L² + A L² + B L⁴,   r₁ = √3 a/2
with a Morse φ (Girifalco–Weizer depth and width, r₀ = 2.62 Å so that a ≈ 2.89 Å) reaching the
second shell only, and J(r) = J₀(1 − r/r_c)³ acting on the first shell only (r₁ < r_c < a).
The stationary point: L² = (4J(r₁) − A)/(2B) and dE/da = −p dV/da with V = a³/2 per atom,
solved by a 1-D root find (brentq to 1e-14) — the "analytic" lattice constant.
"""

import numpy as np
import pytest
from ase.build import bulk
from scipy.optimize import brentq

from spinlattice import InputError, SpinLatticeState, SumPotential
from spinlattice.drivers.relax import JointOptimizable, relax
from spinlattice.potentials import CubicDecay, Heisenberg, Landau, Morse
from spinlattice.units import GPA

D0, ALPHA, R0 = 0.4174, 1.3885, 2.62
J0, RC = 1.0, 2.75
A, B = -0.05, 0.01
K = np.sqrt(3) / 2


def fe_model():
    return SumPotential(Morse({("Fe", "Fe"): (D0, ALPHA, R0)}, cutoff=3.5, taper=0.3),
                        Heisenberg(CubicDecay({("Fe", "Fe"): (J0, RC)})),
                        Landau({"Fe": (A, B, 0.0)}))


def dphi(r):
    x = np.exp(-ALPHA * (r - R0))
    return -2 * ALPHA * D0 * (x * x - x)


def length2(r):
    return (4 * J0 * (1 - r / RC) ** 3 - A) / (2 * B)


def analytic_lattice_constant(pressure=0.0):
    def de_da(a):  # envelope theorem: L is at its optimum, so only explicit a-dependence counts
        dj = -3 * J0 * (1 - K * a / RC) ** 2 / RC
        return 4 * K * dphi(K * a) + 3 * dphi(a) - 4 * K * dj * length2(K * a) + pressure * 1.5 * a**2
    return brentq(de_da, 2.6, 3.1, xtol=1e-14)


def start_state(rng, a):
    atoms = bulk("Fe", "bcc", a=a, cubic=True).repeat(2)
    moments = np.array([0.0, 0.0, 2.0]) + 0.3 * rng.standard_normal((16, 3))
    state = SpinLatticeState.from_atoms(atoms, moments=moments)
    return state.replace(positions=state.positions + 0.03 * rng.standard_normal((16, 3)))


def test_model_is_nearest_neighbour_as_assumed():
    a0 = analytic_lattice_constant()
    assert K * a0 < RC < a0 < 3.5 - 0.3  # J on shell 1 only; Morse switch beyond shell 2
    assert a0 * np.sqrt(2) > 3.5  # third shell outside the Morse cutoff


@pytest.mark.parametrize("moments", ["variable", "fixed"])
def test_joint_relaxation_reaches_analytic_lattice_constant(moments):
    rng = np.random.default_rng(3)
    a0 = analytic_lattice_constant()
    state = start_state(rng, 1.02 * a0)
    if moments == "fixed":  # fixed length: start at the analytic L, so the same a0 applies
        state = state.replace(moments=state.moments / np.linalg.norm(state.moments, axis=1)[:, None]
                              * np.sqrt(length2(K * a0)))
    res = relax(fe_model(), state, moments=moments, fmax=1e-5, smax=1e-7, hmax=1e-6,
                max_steps=300)
    assert res.converged, res.summary()
    assert res.steps <= 100  # measured ≈ 35 (variable)
    cell = res.state.cell
    # stress tolerance 1e-7 eV/Å³ over a bulk modulus ~0.1–1 eV/Å³ → strain ≲ 1e-6 → 3e-6 Å
    np.testing.assert_allclose(np.linalg.norm(cell, axis=1), 2 * a0, atol=2e-5)
    np.testing.assert_allclose(cell - np.diag(np.diag(cell)), 0.0, atol=2e-5)
    lengths = np.linalg.norm(res.state.moments, axis=1)
    np.testing.assert_allclose(lengths, np.sqrt(length2(K * a0)), rtol=1e-5)
    m = res.state.moments
    # ferromagnetic: the exchange field on one tilted spin is 8 J(r₁) L ≈ 9e-3 eV/μB per rad,
    # so hmax = 1e-6 eV/μB allows tilts up to ~1e-4 rad
    assert np.max(np.linalg.norm(np.cross(m, m[0]), axis=1)) / lengths[0] ** 2 < 5e-4
    # rattled atoms are back on the bcc lattice: every NN distance equals √3 a0/2
    from spinlattice.neighbors import state_neighbor_list
    nl = state_neighbor_list(res.state, 2.7)
    np.testing.assert_allclose(nl.distances, K * a0, atol=1e-5)


def test_relaxation_under_pressure():
    p = 5 * GPA
    a_p = analytic_lattice_constant(p)
    assert a_p < analytic_lattice_constant() - 1e-3  # the test can tell the two apart
    res = relax(fe_model(), start_state(np.random.default_rng(4), 1.01 * a_p), pressure=p,
                fmax=1e-5, smax=1e-7, hmax=1e-6, max_steps=300)
    assert res.converged
    np.testing.assert_allclose(np.linalg.norm(res.state.cell, axis=1), 2 * a_p, atol=2e-5)
    assert res.enthalpy == pytest.approx(res.energy + p * res.state.volume, rel=1e-14)


def test_ase_optimizer_through_the_optimizable_protocol():
    from ase.optimize import FIRE
    a0 = analytic_lattice_constant()
    res = relax(fe_model(), start_state(np.random.default_rng(5), 1.01 * a0), optimizer=FIRE,
                fmax=1e-4, smax=1e-6, hmax=1e-5, max_steps=3000)
    assert res.converged, res.summary()
    np.testing.assert_allclose(np.linalg.norm(res.state.cell, axis=1), 2 * a0, atol=1e-4)


def test_relax_bad_input():
    state = start_state(np.random.default_rng(0), 2.9)
    with pytest.raises(InputError, match="moments must be 'variable', 'fixed' or None"):
        relax(fe_model(), state, moments="free")
    with pytest.raises(InputError, match="nothing to relax"):
        relax(fe_model(), state, relax_positions=False, relax_cell=False, moments=None)
    with pytest.raises(InputError, match="optimizer must be 'lbfgs'"):
        relax(fe_model(), state, optimizer="bfgs")
    with pytest.raises(InputError, match="periodic in all three"):
        JointOptimizable(fe_model(), state.replace(pbc=np.array([True, True, False])))
    with pytest.raises(InputError, match="mask must have shape"):
        relax(fe_model(), state, mask=[True, False])
    with pytest.raises(InputError, match="smax must be positive"):
        relax(fe_model(), state, smax=0)
