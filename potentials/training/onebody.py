"""E0s and the one-body magnetic energy E0_z(|m|) by regularised linear least squares.

The mMACE site energy carries a per-element one-body term (``MagneticMACE.one_body``)

    E1(z, m) = E0_z + Σ_{q=1..n} c_{zq} (T_q(x) − 1),   x = 1 − 2 ũ(|m|²/m_max,z²),

which vanishes at m = 0 apart from E0_z (Ho et al., arXiv 2604.08143, §2.3: a Landau-like
longitudinal energy, fitted once and frozen). It is linear in θ = (E0_z, c_zq), so with
n_fz atoms of element z in frame f and Φ_fzq = Σ_{i∈f, z_i=z} (T_q(x_i) − 1):

    minimise  Σ_f w_f (E_f/N_f − Σ_z [n_fz E0_z + Φ_fz · c_z]/N_f)²
              + λ_s Σ_z ∫_0^{m_max} (d²E1_z/d|m|²)² d|m| · m_max³          (smoothness)
              + λ_r Σ_z |c_z|²                                              (ridge)

(residuals per atom, eV; the data term is a *sum* over frames; the curvature integral is a
Riemann sum on ``n_grid`` points, scaled by m_max³ so that it is an energy² like the data term
and λ_s is dimensionless. The bias grows with λ_s × the curve's own curvature: on a synthetic
Landau curve a m² + b m⁴ (a = −1 eV/μB², b = 0.2 eV/μB⁴, 300 frames) λ_s = 1e-9 / 1e-7 / 1e-5
gives a largest curve error of 0.2 / 7 / 68 meV; the default is 1e-6.)
E0_z is not penalised. The stacked system is solved by ``numpy.linalg.lstsq``. Without the
magnetic part (``magnetic=False``) only the E0s are fitted (the usual MACE E0 least squares).
The network is then trained on what remains; the buffers are never touched by the optimiser.
"""

from __future__ import annotations

import numpy as np


def magnitude_features(moments, m_max, n):
    """(n_atoms,3) μB, scalar or (n_atoms,) m_max → (n_atoms, n) T_q(x) − 1, q = 1..n.

    Uses the model's own basis (:func:`spinlattice.potentials.mmace.basis.chebyshev_magnitude_basis`,
    float64) so the fitted coefficients mean exactly what the model computes.
    """
    import torch

    from spinlattice.potentials.mmace.basis import chebyshev_magnitude_basis

    m = torch.as_tensor(np.asarray(moments, dtype=np.float64).reshape(-1, 3))
    mm = torch.as_tensor(np.broadcast_to(np.asarray(m_max, dtype=np.float64), (m.shape[0],)).copy())
    T = chebyshev_magnitude_basis(m, mm, n).numpy()
    return T[:, 1:] - 1.0


def curvature_rows(m_max, n, n_grid=200):
    """(n_grid−2, n) rows whose squares sum to ∫ (d²f/d|m|²)² d|m| · m_max³ for f = Σ c_q (T_q − 1).

    Second derivatives by central differences on a uniform grid of |m| ∈ [0, m_max].
    """
    grid = np.linspace(0.0, m_max, n_grid)
    h = grid[1] - grid[0]
    vals = magnitude_features(np.stack([np.zeros_like(grid), np.zeros_like(grid), grid], 1), m_max, n)
    d2 = (vals[2:] - 2.0 * vals[1:-1] + vals[:-2]) / h**2
    return d2 * np.sqrt(h * m_max**3)


def design_matrix(frames, species, m_max, n_mag, magnetic=True):
    """Rows per frame with an energy: (F, Z·(1+n_mag)) per-atom-normalised, targets (F,) eV/atom,
    and the frame indices used. Column order: E0 of each species, then c of each species."""
    Z = len(species)
    col = {z: k for k, z in enumerate(species)}
    rows, target, used = [], [], []
    for k, f in enumerate(frames):
        if f.energy is None:
            continue
        n_at = f.n_atoms
        row = np.zeros(Z * (1 + n_mag))
        numbers = f.state.numbers
        for z in np.unique(numbers):
            sel = numbers == z
            j = col[int(z)]
            row[j] = sel.sum()
            if magnetic and n_mag:
                phi = magnitude_features(f.state.moments[sel], m_max[int(z)], n_mag).sum(0)
                row[Z + j * n_mag: Z + (j + 1) * n_mag] = phi
        rows.append(row / n_at)
        target.append(f.energy / n_at)
        used.append(k)
    if not rows:
        raise ValueError("no frame has an energy label: cannot fit E0s")
    return np.array(rows), np.array(target), np.array(used)


def fit_one_body(frames, species, m_max, n_mag, magnetic=True, smoothness=1e-6, ridge=1e-8,
                 n_grid=200, weights=None):
    """Fit E0_z and c_zq (see module docstring).

    species : sequence of atomic numbers (model order); m_max : {Z: μB}; n_mag : Chebyshev
    order of the model (``n_mag_basis``); weights : optional (n_frames,) per-frame weights.
    Returns {"e0": {Z: eV}, "coefficients": {Z: (n_mag,) eV}, "rmse_per_atom": eV,
    "n_frames": int}.
    """
    species = [int(z) for z in species]
    Z = len(species)
    A, b, used = design_matrix(frames, species, m_max, n_mag, magnetic)
    if weights is not None:
        w = np.sqrt(np.asarray(weights, dtype=np.float64)[used])
        A, b = A * w[:, None], b * w
    blocks = [A]
    targets = [b]
    ncol = A.shape[1]
    if magnetic and n_mag:
        for j, z in enumerate(species):
            D = curvature_rows(float(m_max[z]), n_mag, n_grid)
            rows = np.zeros((D.shape[0], ncol))
            rows[:, Z + j * n_mag: Z + (j + 1) * n_mag] = np.sqrt(smoothness) * D
            blocks.append(rows)
            rows = np.zeros((n_mag, ncol))
            rows[:, Z + j * n_mag: Z + (j + 1) * n_mag] = np.sqrt(ridge) * np.eye(n_mag)
            blocks.append(rows)
            targets.append(np.zeros(D.shape[0] + n_mag))
        M, y = np.vstack(blocks), np.concatenate(targets)
    else:
        M, y = A[:, :Z], b
    theta, *_ = np.linalg.lstsq(M, y, rcond=None)
    e0 = {z: float(theta[j]) for j, z in enumerate(species)}
    coef = {z: (theta[Z + j * n_mag: Z + (j + 1) * n_mag].copy() if magnetic and n_mag
                else np.zeros(n_mag)) for j, z in enumerate(species)}
    full = np.concatenate([theta[:Z], np.concatenate([coef[z] for z in species])]) \
        if n_mag else theta[:Z]
    A0, b0, _ = design_matrix(frames, species, m_max, n_mag, magnetic)
    resid = A0[:, : len(full)] @ full - b0
    return dict(e0=e0, coefficients=coef, rmse_per_atom=float(np.sqrt(np.mean(resid**2))),
                n_frames=int(len(used)))


def one_body_curve(fit, z, m_max, n_mag, magnitudes):
    """E1_z(|m|) − E0_z (eV) of a fit on the magnitudes (k,) μB."""
    mags = np.asarray(magnitudes, dtype=np.float64)
    feats = magnitude_features(np.stack([0 * mags, 0 * mags, mags], 1), m_max, n_mag)
    return feats @ np.asarray(fit["coefficients"][int(z)])


def apply_one_body(model, fit):
    """Write a fit into the model's frozen buffers (``MagneticMACE.set_one_body``)."""
    for z in model.species:
        model.set_one_body(z, coefficients=fit["coefficients"].get(z), e0=fit["e0"].get(z))
