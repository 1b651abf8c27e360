"""The fast mMACE paths (hand-written contraction backward, blocked folded evaluation, cached
folded weights, no checkpoint recomputation) reproduce the pre-optimisation model exactly.

``tests/data/mmace_reference.json`` holds fingerprints recorded with the code of commit 7876969
(before the fast paths): energy, Σ w_i E_i, Σ w·F, Σ w·h (fixed random weights w), the virial,
and a training loss (E² + |F|² + |h|² + |virial|², ``create_graph=True``) with its parameter
gradients projected on fixed random vectors — for random-weight models (seeded) on a displaced
16-atom FeAl cell, with small chunks so that several chunks per layer are exercised.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from spinlattice.potentials.mmace import MagneticMACE
from spinlattice.potentials.mmace.contraction import (SymmetricContraction, VectorContraction,
                                                      rotate_to_coupled)
from spinlattice.potentials.mmace.folded import folded_backward, folded_forward, folded_weights
from spinlattice.potentials.mmace.graph import build_graph

from test_mmace import fe_al_state

REFERENCE = json.loads((Path(__file__).parent / "data" / "mmace_reference.json").read_text())
CASES = {"nonsoc_l1": (False, 1, 1), "soc_l1": (True, 1, 1), "nonsoc_l3": (False, 3, 1),
         "nonsoc_l1_2layers": (False, 1, 2), "soc_l1_2layers": (True, 1, 2),
         "paper_nonsoc": (False, 1, 1), "paper_soc": (True, 1, 1)}
SLOW = {"nonsoc_l3", "soc_l1_2layers", "paper_nonsoc", "paper_soc"}


def reference_model(name):
    so, lm, layers = CASES[name]
    args = dict(channels=4, r_max=2.6, n_bessel=4, n_mag_basis=4, radial_hidden=8,
                readout_hidden=4, seed=3, n_layers=layers, l_mag_max=lm, spin_orbit=so,
                l_pos_max=2 if lm == 1 else 1, chunk_size=7)
    if name.startswith("paper"):
        args.update(channels=64, r_max=5.0, n_bessel=8, n_mag_basis=8, radial_hidden=64,
                    readout_hidden=16, l_pos_max=3, chunk_size=5)
    return MagneticMACE([26, 13], **args)


def fingerprint(model):
    """The quantities stored in the reference file (see the module docstring)."""
    st = fe_al_state((2, 2, 2))
    g = build_graph([st], model.species_index, model.r_max, model.dtype, model.device)
    res = model.energy_and_derivatives(g, True, True, True)
    rng = np.random.default_rng(7)
    n = st.n_atoms
    wf, wm, we = rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), rng.normal(size=n)
    out = dict(energy=res["energy"].item(),
               energies=float(res["energies"].detach().numpy() @ we),
               forces=float((res["forces"].numpy() * wf).sum()),
               mforces=float((res["magnetic_forces"].numpy() * wm).sum()),
               virial=res["virial"].numpy().ravel().tolist())
    res = model.energy_and_derivatives(g, True, True, True, create_graph=True)
    loss = ((res["energy"] ** 2).sum() + (res["forces"] ** 2).sum()
            + (res["magnetic_forces"] ** 2).sum() + (res["virial"] ** 2).sum())
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    out["loss"] = loss.item()
    out["grad"] = [0.0 if gr is None else
                   float((gr.numpy() * np.random.default_rng(100 + i).normal(size=gr.shape)).sum())
                   for i, gr in enumerate(grads)]
    return out


@pytest.mark.parametrize("name", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c
                                  for c in CASES])
def test_matches_pre_optimisation_reference(name):
    """Forces etc. (fast path) to 1e-12 relative of the largest entry of each quantity (float64
    round-off of a different summation order ≈ 1e-15); training loss gradients (autograd path,
    double backward) to 1e-10."""
    torch.manual_seed(0)
    got, ref = fingerprint(reference_model(name)), REFERENCE[name]
    for key, tol in (("energy", 1e-12), ("energies", 1e-12), ("forces", 1e-12),
                     ("mforces", 1e-12), ("virial", 1e-12), ("loss", 1e-10), ("grad", 1e-10)):
        a, b = np.atleast_1d(got[key]), np.atleast_1d(ref[key])
        assert np.max(np.abs(a - b)) <= tol * max(np.max(np.abs(b)), 1e-300), (key, a, b)


@pytest.mark.parametrize("spin_orbit", [False, True])
def test_state_dict_format_unchanged(spin_orbit):
    """Parameter and buffer names, shapes and dtypes (the checkpoint format) are those of the
    pre-optimisation code (hashes recorded at commit 7876969); fast-path tables are not saved."""
    m = MagneticMACE([26, 13], channels=4, r_max=2.6, n_bessel=4, n_mag_basis=4, radial_hidden=8,
                     readout_hidden=4, seed=3, l_pos_max=2, spin_orbit=spin_orbit, n_layers=2)
    s = ";".join(f"{k}:{tuple(v.shape)}:{v.dtype}" for k, v in m.state_dict().items())
    expected = {False: (61, "fd36178122a7b8f9"), True: (63, "03cdb615c4407902")}[spin_orbit]
    assert (len(m.state_dict()), hashlib.sha256(s.encode()).hexdigest()[:16]) == expected


@pytest.mark.parametrize("kind, spin_orbit", [("scalar", False), ("scalar", True),
                                               ("vector", False)])
def test_fast_contraction_equals_autograd_path(kind, spin_orbit):
    """FoldedContraction (blocked forward, hand-written backward) vs the autograd evaluation of
    the same polynomial: B (or the vectors V) and ∂(g·B)/∂A to 1e-12 relative, blocks
    straddling species runs."""
    cls, R = (SymmetricContraction, 1) if kind == "scalar" else (VectorContraction, 3)
    c = cls(3, 1, 3, spin_orbit, 5, 2, torch.Generator().manual_seed(1), torch.float64)
    assert c.folded
    A = torch.randn(64, 5, 37, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    g = torch.randn(37, 5, R, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    g = g[..., 0] if R == 1 else g
    runs = [(0, 0, 11), (1, 11, 37)]
    out = {}
    for fast in (False, True):
        c.train_weights = not fast
        Ag = A.clone().requires_grad_()
        B = c(Ag, runs)
        dA, = torch.autograd.grad(B, Ag, g)
        out[fast] = (B.detach(), dA)
    c.train_weights = True
    for x, y in zip(out[True], out[False]):
        assert torch.max(torch.abs(x - y)) <= 1e-12 * torch.max(torch.abs(y))
    # the same with several blocks per run (block size 4)
    W, WT = folded_weights(c, R)
    At = rotate_to_coupled(c, A)
    B4, T4 = folded_forward(At, runs, W, c.xa, c.xb, c.xc, 4, keep_t=True)
    assert torch.max(torch.abs(B4 - out[False][0])) <= 1e-12 * torch.max(torch.abs(B4))
    dA4 = folded_backward(At, T4, g, runs, WT, c.xa, c.xb, c.xc, 4)
    if spin_orbit:
        dA4 = (c.rot @ dA4.reshape(64, -1)).view_as(dA4)
    assert torch.max(torch.abs(dA4 - out[False][1])) <= 1e-12 * torch.max(torch.abs(dA4))


def test_soc_vector_contraction_stays_sparse():
    """The SOC vector polynomial's folded tables would exceed MAX_FOLDED: sparse path."""
    c = VectorContraction(3, 1, 3, True, 2, 1, torch.Generator().manual_seed(1), torch.float64)
    assert not c.folded and not c.use_fast_path()


def test_folded_weight_cache_follows_in_place_updates():
    """An optimiser step (in-place) invalidates the cached folded weights."""
    c = SymmetricContraction(2, 1, 3, False, 3, 2, torch.Generator().manual_seed(1),
                             torch.float64)
    A = torch.randn(36, 3, 6, dtype=torch.float64)
    with torch.no_grad():
        b0 = c(A, [(0, 0, 6)])
        c.weights[2].mul_(2.0)
        b1 = c(A, [(0, 0, 6)])
        c.train_weights = True
    with torch.enable_grad():
        ref = c(A, [(0, 0, 6)]).detach()
    assert torch.max(torch.abs(b1 - ref)) <= 1e-12 * torch.max(torch.abs(ref))
    assert torch.max(torch.abs(b1 - b0)) > 1e-6


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_numba_kernels_equal_torch_blocked_path(monkeypatch, dtype, tol):
    """The CPU numba contraction (CSR folded weights, potentials/mmace/kernels.py) and the
    blocked torch evaluation (the CUDA path) give the same energies, forces, virial and
    magnetic forces for a two-layer model with hidden vectors (scalar and vector folded
    contractions both exercised); tolerance relative to the largest component (float32:
    summation order over ≈ 500 pair products differs)."""
    from spinlattice.potentials.mmace import folded

    model = MagneticMACE([26, 13], channels=6, vector_channels=6, n_layers=2, r_max=3.0,
                         n_bessel=4, n_mag_basis=4, radial_hidden=8, readout_hidden=4,
                         l_pos_max=2, seed=5, chunk_size=9, dtype=dtype)
    assert all(c.folded for c in (*model.contractions, *model.vcontractions))
    st = fe_al_state((2, 2, 2))
    g = build_graph([st], model.species_index, model.r_max, model.dtype, model.device)
    out = {}
    for use in (False, True):
        monkeypatch.setattr(folded, "USE_KERNELS", use)
        res = model.energy_and_derivatives(g, True, True, True)
        with torch.no_grad():
            e_only = model.site_energies(g)
        out[use] = [res["energies"], e_only, res["forces"], res["virial"],
                    res["magnetic_forces"]]
    for x, y in zip(out[True], out[False]):
        assert torch.max(torch.abs(x - y)) <= tol * torch.max(torch.abs(y))
