"""Incremental local ΔE of single-layer mMACE models (potentials/mmace/local.py) against full
recomputation, float64. Tolerance 1e-10 eV absolute: the full-recomputation reference itself
carries round-off ≈ 1e-16 × Σ|E_i| ≈ 1e-14 eV here, so 1e-10 also means ≤ 1e-10 relative to
every |ΔE| ≥ 1 meV (and ≪ 1e-10 relative to |E|)."""

import numpy as np
import pytest
import torch
from ase.build import bulk

from spinlattice.drivers.montecarlo import MoveSet, colour_sites, start_chain, sweep
from spinlattice.potentials.mmace import MagneticMACE, MMACEPotential, local
from spinlattice.potentials.mmace.potential import local_energy_changes as subgraph_changes
from spinlattice.state import SpinLatticeState
from spinlattice.testing import full_energy_changes as full_changes

SMALL = dict(channels=4, r_max=2.6, n_bessel=4, n_mag_basis=4, radial_hidden=8,
             readout_hidden=4, seed=3)
TOL = 1e-10


def state_of(reps, two_species=True, seed=1, a=2.83):
    """bcc Fe supercell (every third atom Al if ``two_species``), displaced, random moments."""
    atoms = bulk("Fe", "bcc", a=a, cubic=True).repeat(reps)
    rng = np.random.default_rng(seed)
    numbers = atoms.numbers.copy()
    if two_species:
        numbers[::3] = 13
    return SpinLatticeState(atoms.positions + rng.normal(scale=0.05, size=(len(atoms), 3)),
                            numbers, atoms.cell[:], [True] * 3,
                            rng.normal(size=(len(atoms), 3)) * 1.2)


def model_of(spin_orbit, l_mag, layers=1, species=(26, 13), **kw):
    args = dict(SMALL, n_layers=layers, l_mag_max=l_mag, spin_orbit=spin_orbit,
                l_pos_max=2 if l_mag == 1 else 1)
    args.update(kw)
    return MagneticMACE(list(species), **args)


CASES = [(False, 1), (True, 1), (False, 3), (True, 3)]


@pytest.mark.parametrize("spin_orbit,l_mag", CASES)
@pytest.mark.parametrize("reps,two_species", [((2, 2, 2), True), ((1, 1, 1), False),
                                              ((1, 1, 1), True)])
def test_incremental_equals_full(spin_orbit, l_mag, reps, two_species):
    """Every move type (direction, flip, magnitude incl. 0 and beyond m_max) and repeated sites
    in one batch. The 2-atom cell (cube 2.83 Å < r_max = 2.6 Å × 2) has the same sender on
    several edges of one receiver and the site among its own senders (periodic images)."""
    species = (26, 13) if two_species else (26,)
    pot = MMACEPotential(model_of(spin_orbit, l_mag, species=species))
    state = state_of(reps, two_species)
    assert pot.model.T == 1 and local.supported(pot.model)
    rng = np.random.default_rng(7)
    n = state.n_atoms
    sites = np.concatenate([rng.choice(n, 6), [0, 0, 0, 1, 1]])
    m = state.moments[sites]
    new = np.concatenate([rng.normal(size=(6, 3)) * 1.5,  # uniform-ish
                          [-m[6], m[7] * 0.3, np.zeros(3), m[9] * 4.0, m[10] @ _rot()]])
    de = pot.local_energy_changes(state, sites, new)
    assert pot._inc is not None and pot._cache is None  # the incremental path ran
    ref = full_changes(pot, state, sites, new)
    np.testing.assert_allclose(de, ref, rtol=0, atol=TOL)
    if reps == (1, 1, 1):  # many images per receiver: also equal to the subgraph path
        with torch.no_grad():
            sub = subgraph_changes(pot.model, pot._base(state), sites, new).numpy()
        np.testing.assert_allclose(de, sub, rtol=0, atol=TOL)


def _rot():
    q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))
    return q


def _assert_base_fresh(pot, state):
    """The in-place updated base equals a fresh full pass (A, e) to round-off."""
    fresh = local.build_base(pot.model, pot._graph([state]))
    base = pot._inc[1]
    assert torch.equal(base["moments"], fresh["moments"])
    scale = fresh["A"].abs().max()
    assert (base["A"] - fresh["A"]).abs().max() <= 1e-13 * scale
    assert (base["e"] - fresh["e"]).abs().max() <= 1e-13 * max(1.0, fresh["e"].abs().max())


@pytest.mark.parametrize("spin_orbit,l_mag", [(False, 1), (True, 3)])
def test_base_updates_after_accepted_moves(spin_orbit, l_mag):
    """Accepted proposals (pending readouts reused), unrelated edits of neighbouring sites
    (overlapping receiver sets: recontracted), then ΔE again == full recomputation."""
    pot = MMACEPotential(model_of(spin_orbit, l_mag))
    state = state_of((2, 2, 2))
    rng = np.random.default_rng(3)
    sites = np.array([0, 5, 5, 11])
    new = rng.normal(size=(4, 3))
    pot.local_energy_changes(state, sites, new)
    state.moments[0] = new[0]  # accept the first proposal and the second at site 5
    state.moments[5] = new[1]
    de = pot.local_energy_changes(state, [3, 7], rng.normal(size=(2, 3)))
    _assert_base_fresh(pot, state)
    # edits not proposed before, at two sites sharing receivers
    state.moments[1] *= 0.5
    state.moments[2] = -state.moments[2]
    new2 = rng.normal(size=(3, 3))
    de = pot.local_energy_changes(state, [1, 2, 9], new2)
    _assert_base_fresh(pot, state)
    np.testing.assert_allclose(de, full_changes(pot, state, [1, 2, 9], new2), rtol=0, atol=TOL)
    # many changed sites at once → full pass instead
    state.moments[:] = rng.normal(size=state.moments.shape)
    de = pot.local_energy_changes(state, [4], new2[:1])
    np.testing.assert_allclose(de, full_changes(pot, state, [4], new2[:1]), rtol=0, atol=TOL)


def test_mc_sweeps_keep_energy_and_base_exact():
    """A few Metropolis sweeps through the driver (every move type): the running chain energy
    (a sum of incremental ΔE's) and the cached base stay equal to full recomputation."""
    pot = MMACEPotential(model_of(False, 3))
    state = state_of((2, 2, 2))
    rng = np.random.default_rng(11)
    moves = MoveSet(weights={"cone": 0.4, "uniform": 0.2, "flip": 0.2, "magnitude": 0.2},
                    fixed_length=False)
    chain = start_chain(pot, state, moves)
    colours = colour_sites(pot, state, rng)
    for _ in range(3):
        sweep(pot, state, chain, colours, 3000.0, rng)
    assert chain.counts[:, 1].sum() > 0  # some moves accepted
    current = state.replace(moments=chain.moments)
    assert abs(chain.energy - pot.compute(current)["energy"]) <= TOL
    new = np.array([[0.3, 0.1, -0.8]])
    de = pot.local_energy_changes(current, [5], new)  # brings the base up to date
    np.testing.assert_allclose(de, full_changes(pot, current, [5], new), rtol=0, atol=TOL)
    _assert_base_fresh(pot, current)


def test_refresh_and_invalidation():
    """The round-off refresh rebuilds the base; weights and positions changes rebuild it."""
    pot = MMACEPotential(model_of(False, 1))
    state = state_of((2, 2, 2))
    pot.local_energy_changes(state, [0], np.ones((1, 3)))
    first = pot._inc[1]
    first["n_updates"] = local.REFRESH * state.n_atoms
    state.moments[0] = [1.0, 1.0, 1.0]
    pot.local_energy_changes(state, [1], np.ones((1, 3)))
    assert pot._inc[1] is not first
    base = pot._inc[1]
    with torch.no_grad():
        pot.model.contractions[0].weights[1].mul_(1.5)
    new = np.array([[0.2, -1.0, 0.4]])
    de = pot.local_energy_changes(state, [2], new)
    assert pot._inc[1] is not base
    np.testing.assert_allclose(de, full_changes(pot, state, [2], new), rtol=0, atol=TOL)
    moved = state.replace(positions=state.positions + 0.01)
    de = pot.local_energy_changes(moved, [2], new)
    np.testing.assert_allclose(de, full_changes(pot, moved, [2], new), rtol=0, atol=TOL)


def test_two_layers_use_subgraph_path():
    """Several layers are not linear in the senders: the general path runs, still exact."""
    pot = MMACEPotential(model_of(False, 1, layers=2))
    state = state_of((2, 2, 2))
    new = np.random.default_rng(2).normal(size=(3, 3))
    de = pot.local_energy_changes(state, [0, 4, 4], new)
    assert pot._inc is None and pot._cache is not None
    np.testing.assert_allclose(de, full_changes(pot, state, [0, 4, 4], new), rtol=0, atol=TOL)
