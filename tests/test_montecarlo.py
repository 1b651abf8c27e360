"""Metropolis moment MC against exact single-spin statistics (DESIGN §6 rung 3).

Tolerances: each estimate is compared with the exact value within 4 standard errors, the error
bars from the integrated autocorrelation time of per-sweep averages (a false failure rate of
~6e-5 per assertion for Gaussian errors). Seeds are fixed, so the tests are deterministic.
"""

import numpy as np
import pytest
from scipy import integrate

from spinlattice.analysis.statistics import mean_and_error
from spinlattice.drivers.montecarlo import MoveSet, run_chain
from spinlattice.potential import SumPotential
from spinlattice.potentials import Landau, UniaxialAnisotropy, Zeeman
from spinlattice.state import SpinLatticeState
from spinlattice.units import K_B, MU_B

N_SPINS = 64


def free_spins(moment=2.0, n=N_SPINS):
    """n non-interacting moments along z (on-site terms only, no neighbours)."""
    positions = np.arange(n)[:, None] * np.array([[3.0, 0, 0]])
    return SpinLatticeState(positions=positions, numbers=[26] * n, cell=np.zeros((3, 3)),
                            pbc=False, moments=np.tile([0.0, 0.0, moment], (n, 1)))


def langevin(x):
    return 1 / np.tanh(x) - 1 / x


@pytest.mark.parametrize("weights, numba_sweep", [
    ({"uniform": 1.0}, True), ({"cone": 1.0}, True), ({"cone": 1.0}, False),
    ({"cone": 0.5, "uniform": 0.3, "flip": 0.2}, True),
    ({"cone": 0.5, "uniform": 0.3, "flip": 0.2}, False)])
def test_langevin_single_spin_in_field(weights, numba_sweep):
    m0, temperature, x = 2.0, 10.0, 2.0
    field = x * K_B * temperature / (MU_B * m0)  # tesla, so that μ_B m B / k_B T = x
    state = free_spins(m0)
    chain, samples = run_chain(Zeeman([0, 0, field]), state, temperature, 1500,
                               np.random.default_rng(7), moves=MoveSet(weights=weights),
                               n_equilibration=100, use_spin_model=numba_sweep)
    cos_theta = samples.magnetisation[:, 2] / (N_SPINS * m0)
    mean, err = mean_and_error(cos_theta)
    assert abs(mean - langevin(x)) < 4 * err, (mean, err, langevin(x))
    assert err < 0.01
    # the running energy equals a fresh evaluation
    final = Zeeman([0, 0, field]).compute(state.replace(moments=chain.moments))["energy"]
    assert chain.energy == pytest.approx(final, abs=1e-10)
    assert np.allclose(np.linalg.norm(chain.moments, axis=1), m0, atol=1e-12)


def test_uniaxial_anisotropy_histogram():
    m0, temperature, K = 2.0, 50.0, 2e-3  # a = βK m² ≈ 1.86
    a = K * m0**2 / (K_B * temperature)
    cos_values = []
    run_chain(UniaxialAnisotropy({"Fe": [K, 0.0]}), free_spins(m0), temperature, 1200,
              np.random.default_rng(11), moves=MoveSet(weights={"uniform": 1.0}),
              n_equilibration=50, on_sample=lambda c: cos_values.append(c.moments[:, 2] / m0))
    # P(c) ∝ exp(a c²) on c = cos θ ∈ [−1, 1] (dΩ ∝ dc)
    weight = lambda u: np.exp(a * u * u)
    z = integrate.quad(weight, -1, 1)[0]
    edges = np.linspace(-1, 1, 11)
    expected = np.array([integrate.quad(weight, lo, hi)[0] / z
                         for lo, hi in zip(edges[:-1], edges[1:])])
    per_sweep = np.array([np.histogram(v, edges)[0] / v.size for v in cos_values])
    for b in range(10):
        mean, err = mean_and_error(per_sweep[:, b])
        assert abs(mean - expected[b]) < 4 * err, (b, mean, expected[b], err)


@pytest.mark.parametrize("numba_sweep", [True, False])
def test_landau_magnitude_distribution_includes_jacobian(numba_sweep):
    # E = A m² + B m⁴ with its minimum at m² = −A/2B = 4 μB²; P(m) dm ∝ m² exp(−E/kT) dm
    A, B, temperature = -0.04, 0.005, 300.0
    beta = 1 / (K_B * temperature)
    sizes = []
    run_chain(Landau({"Fe": [A, B, 0.0]}), free_spins(2.0), temperature, 1400,
              np.random.default_rng(5), n_equilibration=100,
              moves=MoveSet(weights={"magnitude": 1.0, "uniform": 1.0}, fixed_length=False),
              use_spin_model=numba_sweep, on_sample=lambda c: sizes.append(np.linalg.norm(c.moments, axis=1)))
    sizes = np.array(sizes)

    def average(k, jacobian=2):
        w = lambda m: m**jacobian * np.exp(-beta * (A * m**2 + B * m**4))
        return integrate.quad(lambda m: m**k * w(m), 0, 10)[0] / integrate.quad(w, 0, 10)[0]

    for k in (1, 2):
        mean, err = mean_and_error((sizes**k).mean(axis=1))
        assert abs(mean - average(k)) < 4 * err, (k, mean, err, average(k))
    # the test can tell the d³m measure from a plain dm one (no Jacobian)
    mean, err = mean_and_error(sizes.mean(axis=1))
    assert abs(average(1, jacobian=0) - mean) > 20 * err


def _heisenberg_chain_state(rng):
    from ase.build import bulk
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(3)
    m = rng.normal(size=(len(atoms), 3))
    return SpinLatticeState.from_atoms(atoms, moments=2.2 * m / np.linalg.norm(m, axis=1)[:, None])


def _exchange():
    from spinlattice.potentials import Heisenberg, ShellTable
    return SumPotential(Heisenberg(ShellTable({("Fe", "Fe"): [(2.45, 4e-3), (2.83, 2e-3)]})),
                        Zeeman([0, 0, 5.0]))


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    state = _heisenberg_chain_state(np.random.default_rng(1))
    pot = _exchange()
    moves = lambda: MoveSet(weights={"cone": 0.8, "uniform": 0.2})
    full_chain, full = run_chain(pot, state, 300.0, 30, np.random.default_rng(42), moves=moves(),
                                 n_equilibration=10)
    path = tmp_path / "chain.npz"
    run_chain(pot, state, 300.0, 12, np.random.default_rng(42), moves=moves(), n_equilibration=10,
              checkpoint=path, checkpoint_every=4)  # "interrupted" after 22 of 40 sweeps
    chain, resumed = run_chain(pot, state, 300.0, 30, np.random.default_rng(999), moves=moves(),
                               n_equilibration=10, checkpoint=path, checkpoint_every=4)
    np.testing.assert_array_equal(resumed.energy, full.energy)
    np.testing.assert_array_equal(resumed.magnetisation, full.magnetisation)
    np.testing.assert_array_equal(chain.moments, full_chain.moments)
    # the running energy has not drifted from a full evaluation
    exact = pot.compute(state.replace(moments=chain.moments))["energy"]
    assert chain.energy == pytest.approx(exact, abs=1e-9)


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    from spinlattice.errors import FileFormatError
    path = tmp_path / "chain.npz"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(FileFormatError, match="not a readable Monte Carlo checkpoint"):
        run_chain(_exchange(), _heisenberg_chain_state(np.random.default_rng(1)), 300.0, 2,
                  np.random.default_rng(0), checkpoint=path)


def test_colours_are_independent_sets():
    from spinlattice.drivers.montecarlo import colour_sites
    from spinlattice.neighbors import state_neighbor_list
    from spinlattice.potential import coupling_range
    state = _heisenberg_chain_state(np.random.default_rng(2))
    pot = _exchange()
    colours = colour_sites(pot, state, np.random.default_rng(0))
    assert sorted(np.concatenate(colours).tolist()) == list(range(state.n_atoms))
    nl = state_neighbor_list(state, coupling_range(pot))
    label = np.empty(state.n_atoms, dtype=int)
    for c, sites in enumerate(colours):
        label[sites] = c
    coupled = nl.i != nl.j
    assert np.all(label[nl.i[coupled]] != label[nl.j[coupled]])


def test_bad_moves():
    from spinlattice.errors import InputError
    with pytest.raises(InputError, match="unknown MC move"):
        MoveSet(weights={"teleport": 1.0})
    with pytest.raises(InputError, match="fixed_length=False"):
        MoveSet(weights={"magnitude": 1.0})


def test_spin_model_matches_the_potential():
    """The LocalSpinModel of Heisenberg + Landau + Zeeman reproduces energies and local ΔE."""
    from spinlattice.drivers import kernels
    from spinlattice.spinmodel import local_spin_model
    rng = np.random.default_rng(4)
    state = _heisenberg_chain_state(rng)
    pot = SumPotential(_exchange(), Landau({"Fe": [-0.05, 0.01, 1e-4]}))
    model = local_spin_model(pot, state)
    e0 = pot.compute(state)["energy"]
    moved = state.replace(moments=rng.normal(size=state.moments.shape))
    assert model.energy(moved.moments) - model.energy(state.moments) == pytest.approx(
        pot.compute(moved)["energy"] - e0, abs=1e-12)
    sites = rng.integers(state.n_atoms, size=20)
    new = rng.normal(size=(20, 3)) * 2
    mine = kernels.spin_model_energy_changes(model.first, model.neighbours, model.exchange,
                                             model.landau, model.field, state.moments, sites, new)
    np.testing.assert_allclose(mine, pot.local_energy_changes(state, sites, new), atol=1e-12)
    # a term without a spin-model form switches the numba sweep off
    assert local_spin_model(SumPotential(pot, UniaxialAnisotropy({"Fe": [1e-3, 0]})), state) is None


@pytest.mark.parametrize("numba_sweep", [True, False])
def test_frozen_sites_never_move(numba_sweep):
    state = _heisenberg_chain_state(np.random.default_rng(8))
    moments = state.moments.copy()
    moments[::3] = 0.0  # "non-magnetic" sites: fixed-length MC would refuse them unless frozen
    state = state.replace(moments=moments)
    frozen = np.zeros(state.n_atoms, dtype=bool)
    frozen[::3] = True
    frozen[1] = True
    chain, _ = run_chain(_exchange(), state, 500.0, 20, np.random.default_rng(0), frozen=frozen,
                         use_spin_model=numba_sweep)
    np.testing.assert_array_equal(chain.moments[frozen], state.moments[frozen])
    assert np.all(np.any(chain.moments[~frozen] != state.moments[~frozen], axis=1))
    from spinlattice.errors import InputError
    with pytest.raises(InputError, match="non-zero moments on every moving site"):
        run_chain(_exchange(), state, 500.0, 2, np.random.default_rng(0))


def test_overrelaxation_keeps_energy_and_shortens_correlations():
    from spinlattice.analysis.statistics import autocorrelation_time
    from spinlattice.errors import InputError
    from spinlattice.potentials import Heisenberg, ShellTable
    # simple cubic, nearest-neighbour J = 10 meV, |m| = 1: T_C = 167.5 K; sample just above it
    size, a = 6, 2.5
    g = np.arange(size)
    positions = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T * a
    state = SpinLatticeState(positions=positions, numbers=[26] * len(positions), pbc=True,
                             cell=np.eye(3) * a * size, moments=np.tile([0, 0, 1.0], (216, 1)))
    pot = SumPotential(Heisenberg(ShellTable({("Fe", "Fe"): [(a, 0.01)]})), Zeeman([0, 0, 1.0]))
    taus = {}
    for n_or in (0, 2):
        chain, samples = run_chain(pot, state, 172.0, 3000, np.random.default_rng(1),
                                   moves=MoveSet(weights={"cone": 1.0}, overrelaxation=n_or),
                                   n_equilibration=300)
        exact = pot.compute(state.replace(moments=chain.moments))["energy"]
        assert chain.energy == pytest.approx(exact, abs=1e-9)  # reflections cost no energy
        np.testing.assert_allclose(chain.magnetisation, chain.moments.sum(axis=0), atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(chain.moments, axis=1), 1.0, atol=1e-12)
        taus[n_or] = autocorrelation_time(np.linalg.norm(samples.magnetisation, axis=1))
    assert taus[2] < 0.5 * taus[0], taus
    with pytest.raises(InputError, match="over-relaxation needs"):
        run_chain(pot, state, 400.0, 1, np.random.default_rng(1), use_spin_model=False,
                  moves=MoveSet(overrelaxation=1))


def test_in_kernel_generator_is_uniform():
    """xoshiro256** doubles: mean 1/2 and variance 1/12 within 5σ, no lag-1 correlation."""
    import numba as nb
    from spinlattice.drivers import kernels

    @nb.njit
    def draw(n):
        s0, s1, s2, s3 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
        u = np.empty(n)
        for k in range(n):
            s0, s1, s2, s3, u[k] = kernels._xoshiro(s0, s1, s2, s3)
        return u

    n = 400_000
    u = draw(n)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(n)


@pytest.mark.parametrize("move, angle", [("cone", 0.7), ("cone", 2.5), ("uniform", np.pi)])
def test_numba_sweep_proposals_are_uniform_on_the_cap(move, angle):
    """The whole-sweep kernel's direction proposals (Marsaglia cap points carried onto m̂ by a
    reflection, no local frame): on a model with no energy every proposal is accepted, so one
    sweep over many sites gives one proposal per site. |m'| = |m|; cos θ = m̂·m̂' uniform on
    [cos a, 1] and the azimuth about m̂ (in an independent frame) uniform on (−π, π], by
    Kolmogorov–Smirnov (seeded, p > 1e-3), for moments of every orientation, poles included."""
    from scipy import stats

    from spinlattice.drivers import kernels

    rng = np.random.default_rng(5)
    n = 100_000
    m = rng.normal(size=(n, 3))
    m[:6] = [[0, 0, 1], [0, 0, -1], [1e-12, 0, -1], [0, 1e-12, 1], [1, 0, 0], [0, -1, 0]]
    m *= rng.uniform(0.5, 3.0, size=(n, 1)) / np.linalg.norm(m, axis=1, keepdims=True)
    new = m.copy()
    counts = np.zeros((4, 2), dtype=np.int64)
    probabilities = MoveSet(weights={move: 1.0}).probabilities()
    steps = MoveSet(weights={move: 1.0}, cone_angle=angle).steps()
    seed = rng.integers(0, 2**64, size=4, dtype=np.uint64) | np.uint64(1)
    total = kernels.spin_model_sweep(np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                                     np.zeros(0), np.zeros((n, 3)), np.zeros((n, 3)), new,
                                     np.arange(n, dtype=np.int64), np.cumsum(probabilities),
                                     steps, np.full(n, np.inf), seed, 1.0, np.zeros(3), counts)
    code = kernels.MOVE_NAMES.index(move)
    assert total == 0.0 and counts[code, 0] == counts[code, 1] == n
    size = np.linalg.norm(m, axis=1)
    np.testing.assert_allclose(np.linalg.norm(new, axis=1), size, rtol=1e-14)
    u, v = m / size[:, None], new / size[:, None]
    cos_t = np.einsum("ij,ij->i", u, v)
    assert cos_t.min() >= np.cos(angle) - 1e-12
    assert stats.kstest(cos_t, stats.uniform(np.cos(angle), 1 - np.cos(angle)).cdf).pvalue > 1e-3
    helper = np.where(np.abs(u[:, :1]) < 0.6, [[1.0, 0, 0]], [[0, 1.0, 0]])
    e1 = np.cross(helper, u)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(u, e1)
    phi = np.arctan2(np.einsum("ij,ij->i", v, e2), np.einsum("ij,ij->i", v, e1))
    assert stats.kstest(phi, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    # the azimuth is independent of cos θ: no correlation of cos θ with cos φ or sin φ
    for series in (np.cos(phi), np.sin(phi)):
        assert abs(np.corrcoef(cos_t, series)[0, 1]) < 5 / np.sqrt(n)
