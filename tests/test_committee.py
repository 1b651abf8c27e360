"""CommitteePotential: the mean of K potentials and their spread (spinlattice.potential)."""

import numpy as np
import pytest
from ase.build import bulk

from spinlattice import CommitteePotential, SpinLatticeState
from spinlattice.potentials import CubicDecay, Heisenberg, Morse
from spinlattice.potentials.training.loss import spread_ranking
from spinlattice.testing.checks import full_energy_changes

ALL = ("energy", "energies", "forces", "stress", "magnetic_forces")


def _state(seed=3):
    atoms = bulk("Fe", "bcc", a=2.866, cubic=True).repeat(2)
    rng = np.random.default_rng(seed)
    atoms.positions += 0.05 * rng.normal(size=atoms.positions.shape)
    return SpinLatticeState.from_atoms(atoms, moments=2.2 * rng.normal(size=(16, 3)))


def _heisenberg(j0, r_c=3.6):
    return Heisenberg(CubicDecay({"*": (j0, r_c)}))


def test_committee_of_exchange_models_is_the_model_of_the_mean_coupling():
    """E is linear in J₀, so the committee of J₀ = 0.01 and 0.03 eV is the J₀ = 0.02 model in
    every property (round-off: 1e-12 relative), and its spread is the sample standard
    deviation of two values, |p₁ − p₂|/√2."""
    state = _state()
    a, b, mean = _heisenberg(0.01), _heisenberg(0.03), _heisenberg(0.02)
    committee = CommitteePotential(a, b)
    got, want = committee.compute(state, ALL), mean.compute(state, ALL)
    for name in ALL:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-14, err_msg=name)
    assert isinstance(got["energy"], float)
    ra, rb = a.compute(state, ALL), b.compute(state, ALL)
    spread = committee.spread(state, ALL)
    both = committee.compute_with_spread(state, ALL)
    assert both[0]["energy"] == got["energy"] and both[1]["energy"] == spread["energy"]
    for name in ALL:
        np.testing.assert_allclose(spread[name], np.abs(ra[name] - rb[name]) / np.sqrt(2),
                                   rtol=1e-12, atol=1e-14, err_msg=name)
    assert spread["energy"] == pytest.approx(abs(want["energy"]) / np.sqrt(2), rel=1e-12)


def test_committee_local_energy_changes_are_the_mean_and_exact():
    """Monte Carlo through a committee: ΔE_k of each single-site proposal is the mean of the
    members' ΔE_k and equals the difference of two full committee energies."""
    state = _state(5)
    committee = CommitteePotential(_heisenberg(0.01), _heisenberg(0.04, r_c=4.2))
    rng = np.random.default_rng(0)
    sites, new = np.array([0, 7, 11]), 2.2 * rng.normal(size=(3, 3))
    de = committee.local_energy_changes(state, sites, new)
    full = full_energy_changes(committee, state, sites, new)
    assert de == pytest.approx(full, rel=1e-10, abs=1e-13)
    members = [m.local_energy_changes(state, sites, new) for m in committee.members]
    np.testing.assert_allclose(de, np.mean(members, axis=0), rtol=1e-14)


def test_committee_attributes_and_bad_members():
    """Attributes combine as for a sum (largest cutoff); a committee of one has zero spread;
    no members, or a member that is not a potential, are clear errors."""
    morse = Morse({("Fe", "Fe"): (0.4, 1.4, 2.5)}, cutoff=3.5, taper=0.3)
    committee = CommitteePotential([_heisenberg(0.01, r_c=4.2), morse])
    assert committee.cutoff == pytest.approx(4.2)
    assert committee.spin_orbit is False
    one = CommitteePotential(morse)
    state = _state()
    assert one.spread(state, ("energy", "forces"))["energy"] == 0.0
    assert not one.spread(state, ("forces",))["forces"].any()
    with pytest.raises(ValueError, match="at least one member"):
        CommitteePotential()
    with pytest.raises(TypeError, match="Potential protocol"):
        CommitteePotential(morse, "not a potential")
    with pytest.raises(ValueError, match="unknown property"):
        committee.spread(state, ("charges",))


def test_spread_ranking_of_a_perfect_and_a_useless_spread():
    """Ten frames with errors 1..10 meV/atom. A spread that orders them exactly: Spearman 1; the
    two largest carry (81 + 100)/385 of the squared error; the rest has RMSE √(204/8). A spread
    in the reverse order: Spearman −1, and the top two carry (1 + 4)/385."""
    err = np.arange(1, 11) * 1e-3
    errors = dict(ref_energy=np.zeros(10), pred_energy=err, spread_energy=err.copy())
    r = spread_ranking(errors, top_fractions=(0.2,))
    assert r["spearman"] == pytest.approx(1.0)
    assert r["top"][0]["n_frames"] == 2
    assert r["top"][0]["share_of_squared_error"] == pytest.approx(181 / 385, rel=1e-12)
    assert r["top"][0]["rmse_of_rest"] == pytest.approx(np.sqrt(204 / 8), rel=1e-12)
    errors["spread_energy"] = err[::-1].copy()
    r = spread_ranking(errors, top_fractions=(0.2,))
    assert r["spearman"] == pytest.approx(-1.0)
    assert r["top"][0]["share_of_squared_error"] == pytest.approx(5 / 385, rel=1e-12)
