"""Hidden polar-vector features (K x 0e + K x 1o, ``vector_channels``) of mMACE.

Random-weight float64 models with two layers: the whole battery (symmetries ≤ 1e-10 eV, central
differences ≤ 1e-6 relative, locality, batched ΔE), the hidden vectors themselves rotate as
vectors (joint rotation: v → D¹(Q) v = Q v in e3nn's (x, y, z) basis; inversion: v → −v; time reversal and, for
non-SOC, spin rotations: v unchanged) to round-off (≈ 1e-15 × |v|, asserted at 1e-12), and the
vector messages change the energy of a distorted structure (so they are not dead code).
"""

import numpy as np
import pytest
import torch
from e3nn import o3

from spinlattice.potentials.mmace import MagneticMACE, MMACEPotential, load_model, save_model
from spinlattice.potentials.mmace.graph import build_graph
from spinlattice.testing import check_potential, full_energy_changes

from test_mmace import SMALL, fe_al_state


def vector_model(spin_orbit, layers=2, **kw):
    args = dict(SMALL, n_layers=layers, l_mag_max=1, l_pos_max=2, spin_orbit=spin_orbit,
                vector_channels=SMALL["channels"], dtype=torch.float64)
    args.update(kw)
    return MagneticMACE([26, 13], **args)


def _rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


@pytest.mark.slow
@pytest.mark.parametrize("spin_orbit", [False, True])
def test_vector_battery(spin_orbit):
    pot = MMACEPotential(vector_model(spin_orbit))
    report = check_potential(pot, fe_al_state((4, 2, 2)), rng=np.random.default_rng(0))
    report.assert_ok(fd_tol=1e-6, sym_tol=1e-10)
    if spin_orbit:
        assert report.errors["spin_rotation"] > 1e-6
    else:
        assert report.errors["spin_rotation"] <= 1e-10


@pytest.mark.parametrize("spin_orbit", [False, True])
def test_derivatives_match_central_differences(spin_orbit):
    """Forces and magnetic forces (one autograd pass) against central differences, h = 1e-5:
    truncation h^2 x (third derivative) ~ 1e-10, round-off 1e-16 |E| / h ~ 1e-11; asserted at 1e-7."""
    pot = MMACEPotential(vector_model(spin_orbit))
    st = fe_al_state((2, 2, 2), noise=0.3)
    out = pot.compute(st, ("energy", "forces", "magnetic_forces"))
    h = 1e-5
    for atom, axis in ((0, 0), (5, 2), (11, 1)):
        for key, field in (("forces", "positions"), ("magnetic_forces", "moments")):
            plus, minus = getattr(st, field).copy(), getattr(st, field).copy()
            plus[atom, axis] += h
            minus[atom, axis] -= h
            fd = -(pot.compute(st.replace(**{field: plus}))["energy"]
                   - pot.compute(st.replace(**{field: minus}))["energy"]) / (2 * h)
            assert abs(out[key][atom, axis] - fd) <= 1e-7, (key, atom, axis)


def _hidden_vectors(model, state):
    """v^{(1)} (N, 3, K) after the first layer, e3nn's l = 1 component order."""
    g = build_graph([state], model.species_index, model.r_max, model.dtype, model.device)
    with torch.no_grad():
        _, hs, _ = model.site_energies(g, return_layers=True)
    return hs[0][:, model.K:].view(state.n_atoms, 3, model.K).numpy()


@pytest.mark.parametrize("spin_orbit", [False, True])
def test_hidden_vectors_are_vectors(spin_orbit):
    model = vector_model(spin_orbit)
    st = fe_al_state((2, 2, 2), noise=0.3)
    q = _rotation(5)
    v = _hidden_vectors(model, st)
    assert np.abs(v).max() > 1e-3  # nonzero in a distorted structure
    # e3nn's real l = 1 basis is (x, y, z) here, so D¹(Q) = Q (checked in float32 by e3nn)
    d1 = q
    assert np.allclose(o3.Irrep(1, -1).D_from_matrix(torch.tensor(q)).numpy(), q, atol=1e-5)
    joint = st.replace(positions=st.positions @ q.T, cell=st.cell @ q.T,
                       moments=st.moments @ q.T)
    tol = 1e-12 * np.abs(v).max()
    assert np.abs(_hidden_vectors(model, joint) - np.einsum("ab,nbk->nak", d1, v)).max() <= tol
    inv = st.replace(positions=-st.positions, cell=-st.cell)
    assert np.abs(_hidden_vectors(model, inv) + v).max() <= tol
    tr = st.replace(moments=-st.moments)
    assert np.abs(_hidden_vectors(model, tr) - v).max() <= tol
    spin = _hidden_vectors(model, st.replace(moments=st.moments @ q.T))
    if spin_orbit:
        assert np.abs(spin - v).max() > 1e-6
    else:
        assert np.abs(spin - v).max() <= tol


@pytest.mark.parametrize("spin_orbit", [False, True])
def test_symmetries_three_layers_and_vector_messages_matter(spin_orbit):
    """Three layers (vectors in and out of the middle layer): joint rotation, inversion, time
    reversal ≤ 1e-10 eV; zeroing the vector-message weights changes E by > 1e-6 eV."""
    pot = MMACEPotential(vector_model(spin_orbit, layers=3, r_max=3.0))
    st = fe_al_state((2, 2, 2), noise=0.3)
    q = _rotation(6)
    e = pot.compute(st)["energy"]
    for other in (st.replace(positions=st.positions @ q.T, cell=st.cell @ q.T,
                             moments=st.moments @ q.T),
                  st.replace(positions=-st.positions, cell=-st.cell),
                  st.replace(moments=-st.moments)):
        assert abs(pot.compute(other)["energy"] - e) <= 1e-10
    with torch.no_grad():
        for w in pot.model.w_vblock:
            w.zero_()
    assert abs(pot.compute(st)["energy"] - e) > 1e-6


def test_local_energy_changes_and_checkpoint(tmp_path):
    """Batched ΔE == full recomputation (≤ 1e-10 eV) through the multi-layer subgraph path;
    save/load gives the same energy (the config records vector_channels)."""
    pot = MMACEPotential(vector_model(False))
    st = fe_al_state((2, 2, 2), noise=0.3)
    rng = np.random.default_rng(3)
    sites = rng.choice(st.n_atoms, 4)
    new = rng.normal(size=(4, 3)) * 1.5
    de = pot.local_energy_changes(st, sites, new)
    assert np.abs(de - full_energy_changes(pot, st, sites, new)).max() <= 1e-10
    e0 = pot.compute(st)["energy"]
    save_model(pot.model, tmp_path / "v.pt")
    again = load_model(tmp_path / "v.pt")
    assert again.config["vector_channels"] == SMALL["channels"]
    assert MMACEPotential(again).compute(st)["energy"] == pytest.approx(e0, rel=1e-13, abs=1e-13)


def test_bad_vector_channels():
    with pytest.raises(ValueError, match="vector_channels"):
        vector_model(False, layers=1)
    with pytest.raises(ValueError, match="vector_channels"):
        vector_model(False, vector_channels=3)
