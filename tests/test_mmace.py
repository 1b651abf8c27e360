"""Tests of the mMACE backend (potentials/mmace): physics battery, local ΔE, magnitude range,
checkpoints, representability. float64 throughout unless stated; tolerances are justified next to
each assertion."""

import io

import numpy as np
import pytest
import torch
from ase.build import bulk

from spinlattice.errors import FileFormatError, InputError
from spinlattice.potentials.mmace import (MagneticMACE, MMACEPotential, load_model, read_metadata,
                                         save_model)
from spinlattice.state import SpinLatticeState
from spinlattice.testing import check_potential

SMALL = dict(channels=4, r_max=2.6, n_bessel=4, n_mag_basis=4, radial_hidden=8,
             readout_hidden=4, seed=3)


def fe_al_state(reps, seed=1, noise=0.05):
    """bcc Fe (a = 2.83 Å) supercell with every third atom Al, displaced, random moments."""
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(reps)
    rng = np.random.default_rng(seed)
    pos = atoms.positions + rng.normal(scale=noise, size=atoms.positions.shape)
    numbers = atoms.numbers.copy()
    numbers[::3] = 13
    return SpinLatticeState(pos, numbers, atoms.cell[:], [True] * 3,
                            rng.normal(size=(len(atoms), 3)) * 1.2)


def small_model(spin_orbit, l_mag, layers, **kw):
    args = dict(SMALL, n_layers=layers, l_mag_max=l_mag, spin_orbit=spin_orbit,
                l_pos_max=2 if l_mag == 1 else 1)
    args.update(kw)
    return MagneticMACE([26, 13], **args)


CASES = [(False, 1, 1), (False, 3, 1), (False, 1, 2), (True, 1, 1), (True, 3, 1), (True, 1, 2)]
FAST = {(False, 1, 1), (True, 1, 1)}  # the others take > 30 s on 2 busy cores: marked slow


@pytest.mark.parametrize("spin_orbit,l_mag,layers", [
    c if c in FAST else pytest.param(*c, marks=pytest.mark.slow) for c in CASES])
def test_battery(spin_orbit, l_mag, layers):
    """The shipped battery: FD ≤ 1e-6 relative (central differences, h = 1e-4: O(h²) ≈ 1e-8),
    symmetries / locality / local ΔE ≤ 1e-10 absolute (float64 round-off ≈ 1e-15 × |E| ≈ 1e-13)."""
    pot = MMACEPotential(small_model(spin_orbit, l_mag, layers))
    state = fe_al_state((2, 2, 2) if layers == 1 else (4, 2, 2))
    report = check_potential(pot, state, rng=np.random.default_rng(0))
    report.assert_ok(fd_tol=1e-6, sym_tol=1e-10)
    assert np.isfinite(report.errors["locality"])
    if spin_orbit:  # SOC must detectably break independent spin rotations
        assert report.errors["spin_rotation"] > 1e-6
    else:
        assert report.errors["spin_rotation"] <= 1e-10


@pytest.mark.parametrize("spin_orbit,l_mag,layers", CASES)
def test_symmetries_quick(spin_orbit, l_mag, layers):
    """Cheap version of the battery's symmetry rungs for every case (runs by default):
    joint rotation, inversion, time reversal, spin rotation (non-SOC), ≤ 1e-10 eV."""
    pot = MMACEPotential(small_model(spin_orbit, l_mag, layers))
    state = fe_al_state((2, 2, 2))
    q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))  # proper rotation
    e = pot.compute(state)["energy"]
    joint = state.replace(positions=state.positions @ q.T, cell=state.cell @ q.T,
                          moments=state.moments @ q.T)
    inv = state.replace(positions=-state.positions, cell=-state.cell)
    spin = state.replace(moments=state.moments @ q.T)
    tr = state.replace(moments=-state.moments)
    for other in (joint, inv, tr):
        assert abs(pot.compute(other)["energy"] - e) <= 1e-10
    e_spin = pot.compute(spin)["energy"]
    assert (abs(e_spin - e) > 1e-6) if spin_orbit else (abs(e_spin - e) <= 1e-10)


def test_time_reversal_and_spin_rotation_direct():
    """E(R, −m) = E(R, m) for both variants to round-off; non-SOC E(R, Qm) = E(R, m)."""
    state = fe_al_state((2, 2, 2))
    q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))
    for so in (False, True):
        pot = MMACEPotential(small_model(so, 1, 1))
        e = pot.compute(state)["energy"]
        e_tr = pot.compute(state.replace(moments=-state.moments))["energy"]
        e_rot = pot.compute(state.replace(moments=state.moments @ q.T))["energy"]
        assert abs(e_tr - e) <= 1e-12 * max(1.0, abs(e))
        if so:
            assert abs(e_rot - e) > 1e-6
        else:
            assert abs(e_rot - e) <= 1e-12 * max(1.0, abs(e))


@pytest.mark.parametrize("layers", [1, 2])
def test_local_energy_changes_many_proposals(layers):
    """Batched ΔE of 12 proposals (repeated sites included) == full recomputation to 1e-10."""
    pot = MMACEPotential(small_model(False, 1, layers))
    state = fe_al_state((2, 2, 2))
    rng = np.random.default_rng(7)
    sites = np.concatenate([rng.choice(state.n_atoms, 10), [0, 0]])
    new = rng.normal(size=(len(sites), 3)) * 1.5
    de = pot.local_energy_changes(state, sites, new)
    e0 = pot.compute(state)["energy"]
    for k, (s, m) in enumerate(zip(sites, new)):
        moments = state.moments.copy()
        moments[s] = m
        full = pot.compute(state.replace(moments=moments))["energy"] - e0
        assert abs(de[k] - full) <= 1e-10
    # the base pass is cached but must not go stale when the state changes
    other = state.replace(moments=state.moments * 0.9)
    de2 = pot.local_energy_changes(other, sites[:1], new[:1])
    moments = other.moments.copy()
    moments[sites[0]] = new[0]
    full = pot.compute(other.replace(moments=moments))["energy"] - pot.compute(other)["energy"]
    assert abs(de2[0] - full) <= 1e-10
    # ... nor when the model's parameters change in place (training, one-body fit)
    pot.model.set_one_body(26, coefficients=[0.3, 0.0, 0.0, 0.0])
    with torch.no_grad():
        pot.model.w_out[0].mul_(2.0)
    de3 = pot.local_energy_changes(other, sites[:1], new[:1])
    full = pot.compute(other.replace(moments=moments))["energy"] - pot.compute(other)["energy"]
    assert abs(de3[0] - full) <= 1e-10 and abs(de3[0] - de2[0]) > 1e-8


def test_batch_equals_single_and_float32():
    """compute_batch of two structures == separate calls (1e-12); float32 within 1e-4 relative."""
    model = small_model(True, 1, 1)
    pot = MMACEPotential(model)
    s1, s2 = fe_al_state((2, 2, 2), seed=1), fe_al_state((2, 2, 3), seed=2)
    props = ("energy", "forces", "stress", "magnetic_forces")
    batch = pot.compute_batch([s1, s2], props)
    for st, res in zip((s1, s2), batch):
        single = pot.compute(st, props)
        for name in props:
            np.testing.assert_allclose(res[name], single[name], rtol=0, atol=1e-12)
    m32 = small_model(True, 1, 1, dtype=torch.float32)
    r32 = MMACEPotential(m32).compute(s1, props)
    r64 = batch[0]
    assert abs(r32["energy"] - r64["energy"]) <= 1e-4 * max(1.0, abs(r64["energy"]))
    scale = np.abs(r64["forces"]).max()
    assert np.abs(r32["forces"] - r64["forces"]).max() <= 1e-3 * scale


def test_beyond_m_max_is_finite_and_confined():
    """Moments far beyond m_max: energy and magnetic forces finite, the wall pushes |m| back,
    and the magnitude basis stays bounded (no polynomial blow-up)."""
    model = small_model(False, 1, 1, m_max=2.5)
    pot = MMACEPotential(model)
    state = fe_al_state((2, 2, 2))
    energies = []
    for scale in (1.0, 2.0, 10.0, 100.0):
        mom = state.moments / np.linalg.norm(state.moments, axis=1, keepdims=True) * 2.5 * scale
        res = pot.compute(state.replace(moments=mom), ("energy", "magnetic_forces"))
        assert np.isfinite(res["energy"]) and np.all(np.isfinite(res["magnetic_forces"]))
        energies.append(res["energy"])
        if scale >= 10:  # the wall dominates: the longitudinal force points inwards
            radial = np.sum(res["magnetic_forces"] * mom, axis=1)
            assert np.all(radial < 0)
    assert energies[3] > energies[2] > energies[1]
    from spinlattice.potentials.mmace.basis import chebyshev_magnitude_basis
    m = torch.tensor([[0.0, 0.0, 1e4]], dtype=torch.float64)
    t = chebyshev_magnitude_basis(m, torch.tensor([2.5], dtype=torch.float64), 8)
    assert t.abs().max() < 20.0  # |T_8(−1.1)| ≈ 17.4 bounds every T_n on the saturated range


def test_one_body_zero_at_zero_moment():
    """E0_z(|m|) with E0_z(0) = 0: only the constant E0_z remains at m = 0."""
    model = small_model(False, 1, 1)
    model.set_one_body(26, coefficients=np.linspace(0.1, 0.4, 4), e0=-3.5)
    z = torch.tensor([model.species_index[26]] * 2)
    m = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]], dtype=torch.float64)
    e = model.one_body(m, z)
    assert abs(e[0].item() + 3.5) <= 1e-14
    assert abs(e[1].item() + 3.5) > 1e-3
    with pytest.raises(ValueError):
        model.set_one_body(26, coefficients=np.ones(3))


def test_bad_input():
    pot = MMACEPotential(small_model(False, 1, 1))
    state = fe_al_state((2, 2, 2))
    with pytest.raises(InputError, match="not among the model's species"):
        pot.compute(state.replace(numbers=np.full(state.n_atoms, 28)))
    with pytest.raises(InputError):
        pot.local_energy_changes(state, [0], np.zeros((2, 3)))
    with pytest.raises(InputError):
        pot.local_energy_changes(state, [state.n_atoms], np.zeros((1, 3)))
    with pytest.raises(InputError):
        pot.local_energy_changes(state, [0], np.full((1, 3), np.nan))
    with pytest.raises(ValueError):
        MagneticMACE([26], correlation=4)


def test_checkpoint_roundtrip_and_errors(tmp_path):
    model = small_model(True, 1, 1)
    model.set_one_body(13, coefficients=[0.1, -0.2, 0.0, 0.05], e0=-1.0)
    path = tmp_path / "m.pt"
    save_model(model, path)
    payload = torch.load(path, weights_only=True)
    assert payload["version"] == 1 and payload["species"] == [26, 13]
    loaded = load_model(path)
    assert read_metadata(path) == {}
    save_model(model, tmp_path / "meta.pt", metadata={"name": "x", "errors": {"energy": 1.5}})
    assert read_metadata(tmp_path / "meta.pt") == {"name": "x", "errors": {"energy": 1.5}}
    state = fe_al_state((2, 2, 2))
    a = MMACEPotential(model).compute(state, ("energy", "magnetic_forces"))
    b = MMACEPotential(loaded).compute(state, ("energy", "magnetic_forces"))
    assert a["energy"] == b["energy"]
    np.testing.assert_array_equal(a["magnetic_forces"], b["magnetic_forces"])
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(FileFormatError):
        load_model(bad)
    payload["version"] = 99
    torch.save(payload, tmp_path / "v99.pt")
    with pytest.raises(FileFormatError, match="version"):
        load_model(tmp_path / "v99.pt")
    payload["version"] = 1
    payload["config"]["channels"] = 5  # weights no longer fit
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(FileFormatError):
        load_model(tmp_path / "mismatch.pt")


# ---------------------------------------------------------------------- representability
def chain_states(n_conf, seed, n_atoms=4, d=2.5, magnitude=2.0):
    """Periodic chains along x (spacing d Å), random moment directions of fixed length."""
    rng = np.random.default_rng(seed)
    cell = np.diag([n_atoms * d, 20.0, 20.0])
    pos = np.stack([np.arange(n_atoms) * d, np.full(n_atoms, 10.0), np.full(n_atoms, 10.0)], 1)
    out = []
    for _ in range(n_conf):
        m = rng.normal(size=(n_atoms, 3))
        m *= magnitude / np.linalg.norm(m, axis=1, keepdims=True)
        out.append(SpinLatticeState(pos, np.full(n_atoms, 26), cell, [True, False, False], m))
    return out


def linear_fit(model, states, targets):
    """Least-squares fit of E = c0 N + Σ_{i,k,p} c_kp I_ikp (linear-readout, one-layer model);
    returns the relative residual ||E_fit − E|| / ||E||."""
    pot = MMACEPotential(model)
    feats = []
    with torch.no_grad():
        for st in states:
            g = pot._graph([st])
            inv = model.invariant_features(g).sum(0).reshape(-1)  # (K·P,)
            feats.append(np.concatenate([[st.n_atoms], inv.numpy()]))
    X, y = np.array(feats), np.asarray(targets)
    scale = np.abs(X).max(0) + 1e-300
    coef, *_ = np.linalg.lstsq(X / scale, y, rcond=1e-12)
    return np.linalg.norm(X / scale @ coef - y) / np.linalg.norm(y)


REP = dict(channels=6, r_max=3.0, n_bessel=4, n_mag_basis=4, radial_hidden=0, readout_hidden=0,
           l_pos_max=2, l_mag_max=1, seed=11)


@pytest.mark.parametrize("spin_orbit", [False, True])
def test_fits_heisenberg_chain(spin_orbit):
    """E = J Σ_i m_i·m_{i+1} (J = −0.01 eV/μB²) lies in the span of the ν ≤ 2 invariants:
    the least-squares residual is at round-off level, far below the 1e-6 requirement."""
    model = MagneticMACE([26], spin_orbit=spin_orbit, **REP)
    states = chain_states(120, seed=1)
    e = [-0.01 * np.sum(s.moments * np.roll(s.moments, -1, axis=0)) for s in states]
    assert linear_fit(model, states, e) <= 1e-6


def single_ion(states, K=0.05):
    return [K * np.sum(s.moments[:, 0] ** 2) for s in states]


def test_anisotropy_soc_fits_non_soc_cannot():
    """K Σ_i (m_i·x̂)² (x̂ = chain axis): SOC fits it to ≤ 1e-6; the non-SOC model cannot,
    because its features are invariant under a global spin rotation while the target is not."""
    states = chain_states(120, seed=2)
    target = single_ion(states)
    soc = MagneticMACE([26], spin_orbit=True, **REP)
    assert linear_fit(soc, states, target) <= 1e-6
    nsoc = MagneticMACE([26], spin_orbit=False, **REP)
    assert linear_fit(nsoc, states, target) > 0.1
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    pot = MMACEPotential(nsoc)
    st = states[0]
    rotated = st.replace(moments=st.moments @ q.T)
    with torch.no_grad():
        f0 = nsoc.invariant_features(pot._graph([st]))
        f1 = nsoc.invariant_features(pot._graph([rotated]))
    assert torch.abs(f0 - f1).max() <= 1e-10 * torch.abs(f0).max()
    assert abs(single_ion([rotated])[0] - single_ion([st])[0]) > 1e-3


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    state = fe_al_state((2, 2, 2))
    cpu = small_model(True, 1, 1)
    gpu = small_model(True, 1, 1, device="cuda")
    a = MMACEPotential(cpu).compute(state, ("energy", "forces", "magnetic_forces"))
    b = MMACEPotential(gpu).compute(state, ("energy", "forces", "magnetic_forces"))
    assert abs(a["energy"] - b["energy"]) <= 1e-10 * max(1, abs(a["energy"]))
    np.testing.assert_allclose(a["forces"], b["forces"], atol=1e-10)


def test_ase_calculator_unchanged():
    """The foundation's ASE calculator drives the mMACE potential as any other Potential."""
    from spinlattice.calculator import SpinLatticeCalculator

    pot = MMACEPotential(small_model(False, 1, 1))
    state = fe_al_state((2, 2, 2))
    atoms = state.to_atoms()
    atoms.calc = SpinLatticeCalculator(pot)
    ref = pot.compute(state, ("energy", "forces", "magnetic_forces"))
    assert abs(atoms.get_potential_energy() - ref["energy"]) <= 1e-12
    np.testing.assert_allclose(atoms.get_forces(), ref["forces"], atol=1e-12)
    np.testing.assert_allclose(atoms.calc.get_property("magnetic_forces", atoms),
                               ref["magnetic_forces"], atol=1e-12)
