"""Magnetic descriptors along a path of images and detection of magnetic-state switches.

For moments m (n images, N atoms, 3) μB:

* ``mean_abs`` = (1/N) Σ_i |m_i|, ``max_abs`` = max_i |m_i|               (μB per atom)
* ``net`` = |Σ_i m_i| / N                                                   (μB per atom)
* ``staggered`` = |Σ_i s_i m_i| / N with a sign pattern s_i = ±1: the given ``sublattice``, or
  s_i = sign(m_i·n̂) of the most compensated image (largest mean |m| − net, n̂ its principal
  axis, the leading eigenvector of Σ_i m_i m_iᵀ); s_i = 1 when no image is compensated by more
  than 0.1 μB/atom (then staggered = net).
* ``label`` of each image on its own: "NM" (mean |m| < 0.1 μB), "FM" (net ≥ 0.9 mean |m|),
  "AFM" (net ≤ 0.1 mean |m|: compensated), otherwise "other" (ferrimagnetic, canted).

A switch between neighbouring images k, k+1 is reported when any of these holds:

* a site's |m| changes by more than ``moment_jump`` μB, or net or staggered moment per atom
  changes by more than ``moment_jump``: a jump (a first-order change of magnetic state — smooth
  changes spread over a band of ~10 images stay below it);
* a site with |m| > 0.1 μB in both images turns by more than 90° (m_i·m_i' < 0): a reversal;
* the label changes;
* an energy cusp: for a smooth E(s) the secant over the spring equals the mean of the end
  slopes to O(Δs³ E'''), i.e. c_k = |E_{k+1} − E_k − ½ (g_k + g_{k+1}) Δs_k| is small, where
  g = dE/ds = −f̃·τ from the true forces. A kink between images k and k+1 (two crossing branches)
  makes c_k of order Δs |g_R − g_L| while the neighbouring intervals stay smooth, so the flag
  needs c_k > ``cusp_tol`` (eV) *and* c_k > ``cusp_factor`` (3) × the larger c of the adjacent
  intervals. It is a heuristic (a coarse band on a strongly curved path can trigger it too), so
  it is reported with its size, and a switch is "magnetic" only with one of the moment criteria.
  Measured on converged 9-image Bain bands of the stand-in Fe model: c ≤ 2.7 meV/atom on smooth
  intervals, 12.4 meV/atom across the FM → AFM switch; hence the default 5 meV/atom in
  :func:`.neb.neb`.
"""

from __future__ import annotations

import numpy as np


def tangential_derivatives(springs, tangents, forces):
    """dE/ds (n,) eV/Å at every image: −f̃_k·τ_k (intermediates), −f̃·t̂ with the adjacent spring
    at the two end points. springs (n − 1, M, 3), tangents (n − 2, M, 3), forces (n, M, 3)."""
    n = len(forces)
    out = np.empty(n)
    for k in range(1, n - 1):
        out[k] = -np.vdot(forces[k], tangents[k - 1])
    for k, t in ((0, springs[0]), (n - 1, springs[-1])):
        norm = np.linalg.norm(t)
        out[k] = -np.vdot(forces[k], t) / norm if norm > 0 else 0.0
    return out


def sign_pattern(moments, sublattice=None):
    """(N,) ±1 sign pattern for the staggered moment (see the module doc)."""
    moments = np.asarray(moments, dtype=float)
    if sublattice is not None:
        s = np.asarray(sublattice, dtype=float)
        if s.shape != (moments.shape[1],) or not np.all(np.isin(s, (-1.0, 1.0))):
            raise ValueError(f"sublattice must be {moments.shape[1]} values ±1")
        return s
    n_atoms = moments.shape[1]
    compensation = (np.mean(np.linalg.norm(moments, axis=2), axis=1)
                    - np.linalg.norm(moments.sum(axis=1), axis=1) / n_atoms)
    k = int(np.argmax(compensation))
    m = moments[k]
    if compensation[k] < 0.1:
        return np.ones(n_atoms)
    axis = np.linalg.eigh(m.T @ m)[1][:, -1]
    return np.where(m @ axis < 0, -1.0, 1.0)


def magnetic_descriptors(moments, sublattice=None):
    """Dict of per-image descriptors (each (n,)) and the sign pattern used (N,)."""
    moments = np.asarray(moments, dtype=float)
    n_atoms = moments.shape[1]
    s = sign_pattern(moments, sublattice)
    size = np.linalg.norm(moments, axis=2)
    mean_abs = size.mean(axis=1)
    net = np.linalg.norm(moments.sum(axis=1), axis=1) / n_atoms
    stag = np.linalg.norm(np.einsum("i,kij->kj", s, moments), axis=1) / n_atoms
    labels = []
    for a, nt in zip(mean_abs, net):
        if a < 0.1:
            labels.append("NM")
        elif nt >= 0.9 * a:
            labels.append("FM")
        elif nt <= 0.1 * a:
            labels.append("AFM")
        else:
            labels.append("other")
    return {"mean_abs": mean_abs, "max_abs": size.max(axis=1), "net": net, "staggered": stag,
            "label": labels, "sign_pattern": s}


def cusp_sizes(energies, path, derivatives):
    """c_k (n − 1,) eV, the secant-versus-mean-slope mismatch of every interval."""
    e, s, g = (np.asarray(a, dtype=float) for a in (energies, path, derivatives))
    return np.abs(np.diff(e) - 0.5 * (g[:-1] + g[1:]) * np.diff(s))


def detect_switches(energies, path, derivatives, moments, descriptors, *, moment_jump=0.25,
                    cusp_tol=1e-3, cusp_factor=3.0):
    """List of dicts {"between": (k, k+1), "kinds": [...], sizes...} for every flagged pair of
    neighbouring images (criteria in the module doc). energies (n,) eV; path (n,) Å;
    derivatives (n,) eV/Å; moments (n, N, 3) μB; descriptors from :func:`magnetic_descriptors`."""
    moments = np.asarray(moments, dtype=float)
    size = np.linalg.norm(moments, axis=2)
    cusps = cusp_sizes(energies, path, derivatives)
    out = []
    for k in range(len(energies) - 1):
        d_site = float(np.max(np.abs(size[k + 1] - size[k]), initial=0.0))
        d_net = float(abs(descriptors["net"][k + 1] - descriptors["net"][k]))
        d_stag = float(abs(descriptors["staggered"][k + 1] - descriptors["staggered"][k]))
        both = (size[k] > 0.1) & (size[k + 1] > 0.1)
        reversed_sites = np.nonzero(both & (np.einsum("ij,ij->i", moments[k], moments[k + 1]) < 0))[0]
        cusp = float(cusps[k])
        nearby = max(cusps[max(k - 1, 0):k].tolist() + cusps[k + 1:k + 2].tolist(), default=0.0)
        kinds = []
        if d_site > moment_jump:
            kinds.append("site |m| jump")
        if d_net > moment_jump:
            kinds.append("net moment jump")
        if d_stag > moment_jump:
            kinds.append("staggered moment jump")
        if reversed_sites.size:
            kinds.append("moment reversal")
        if descriptors["label"][k] != descriptors["label"][k + 1]:
            kinds.append("label change")
        if cusp > cusp_tol and cusp > cusp_factor * nearby:
            kinds.append("energy cusp")
        if kinds:
            out.append({"between": (k, k + 1), "kinds": kinds,
                        "magnetic": any(x != "energy cusp" for x in kinds),
                        "labels": (descriptors["label"][k], descriptors["label"][k + 1]),
                        "site_jump": d_site, "net_jump": d_net, "staggered_jump": d_stag,
                        "reversed_sites": reversed_sites.tolist(), "cusp": cusp})
    return out


def resolve_switch(potential, state_a, state_b, n_points=21, **moment_kw):
    """Both magnetic branches along the straight segment between two neighbouring images.

    Cell rows and fractional positions are interpolated linearly, t ∈ [0, 1] (``n_points``); at
    every point the moments are relaxed (:func:`.minimise.minimise_moments` with ``moment_kw``)
    from the moments of image a and from those of image b. Where the two branches cross, the
    band's switch lies; the crossing energy on this segment is an upper bound to the lowest
    crossing (seam) between the two images' basins.

    Returns a dict: t (P,), energies (2, P) eV (branch of a, branch of b), moments (2, P, N, 3),
    crossing_t and crossing_energy (linear interpolation of E_a − E_b = 0; None if no sign
    change), lower (P,) the lower envelope.
    """
    from .minimise import minimise_moments

    ts = np.linspace(0.0, 1.0, int(n_points))
    fa = np.linalg.solve(state_a.cell.T, state_a.positions.T).T
    fb = np.linalg.solve(state_b.cell.T, state_b.positions.T).T
    df = fb - fa
    df[:, state_a.pbc] -= np.round(df[:, state_a.pbc])
    energies = np.empty((2, ts.size))
    moments = np.empty((2, ts.size) + state_a.moments.shape)
    for j, t in enumerate(ts):
        cell = (1 - t) * state_a.cell + t * state_b.cell
        trial = state_a.replace(positions=(fa + t * df) @ cell, cell=cell)
        for b, start in enumerate((state_a.moments, state_b.moments)):
            res = minimise_moments(potential, trial.replace(moments=start), **moment_kw)
            energies[b, j], moments[b, j] = res.energy, res.state.moments
    diff = energies[0] - energies[1]
    cross_t = cross_e = None
    sign = np.nonzero(np.diff(np.sign(diff)) != 0)[0]
    if sign.size:
        j = int(sign[0])
        w = diff[j] / (diff[j] - diff[j + 1])
        cross_t = float(ts[j] + w * (ts[j + 1] - ts[j]))
        cross_e = float(energies[0, j] + w * (energies[0, j + 1] - energies[0, j]))
    return {"t": ts, "energies": energies, "moments": moments, "crossing_t": cross_t,
            "crossing_energy": cross_e, "lower": energies.min(axis=0)}


__all__ = ["resolve_switch", "magnetic_descriptors", "detect_switches", "tangential_derivatives", "sign_pattern",
           "cusp_sizes"]
