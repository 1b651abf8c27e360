"""Physics checks usable on any :class:`~spinlattice.potential.Potential` (DESIGN §6, rungs 1–2).

Each check returns the worst error it found, so a test states its own tolerance:

* finite differences (relative): forces −∂E/∂R, stress (1/V)∂E/∂ε, magnetic forces −∂E/∂m, by a
  fourth-order central difference f'(x) ≈ [f(x−2δ) − 8f(x−δ) + 8f(x+δ) − f(x+2δ)] / 12δ;
* symmetries (absolute, eV and eV/Å, eV/μB): every output of the transformed state against the
  transformed outputs (energy, per-site energies, forces, magnetic forces, stress);
* sum rules: |Σ_i F_i| and |Σ_i E_i − E|;
* locality: largest change of a site energy outside the receptive field of a changed moment;
* local ΔE: batched ``local_energy_changes`` against full recomputation.
"""

from __future__ import annotations

import numpy as np

from .. import symmetry
from ..neighbors import neighbor_list
from ..properties import ENERGIES, ENERGY, FORCES, MAGNETIC_FORCES, STRESS
from ..sphere import random_rotation, uniform_on_sphere

_STENCIL = ((-2, 1.0 / 12), (-1, -8.0 / 12), (1, 8.0 / 12), (2, -1.0 / 12))


def _energy(potential, state):
    return float(potential.compute(state, (ENERGY,))[ENERGY])


def _derivative(potential, state, displace, delta):
    """Fourth-order central difference of E along ``displace(state, h) -> state``."""
    return sum(w * _energy(potential, displace(state, k * delta)) for k, w in _STENCIL) / delta


def _relative(numerical, analytic, floor):
    """max |numerical − analytic| / max(max |analytic|, floor)."""
    numerical, analytic = np.asarray(numerical), np.asarray(analytic)
    return float(np.max(np.abs(numerical - analytic)) / max(np.max(np.abs(analytic)), floor))


def _strain(state, a, b, h):
    """Apply the symmetric strain ε_ab = ε_ba = h/2 (ε_aa = h): x → (1 + ε) x for r and cell."""
    eps = np.zeros((3, 3))
    eps[a, b] += h / 2
    eps[b, a] += h / 2
    deform = np.eye(3) + eps
    return state.replace(positions=state.positions @ deform.T, cell=state.cell @ deform.T)


def finite_difference_errors(potential, state, rng, delta=1e-4, n_sites=6, floor=1e-3):
    """Relative errors of forces, stress and magnetic forces against central differences.

    ``n_sites`` random atoms are checked (all three components each); stress only when the
    state is periodic in all three directions. ``floor`` (same units as the property) keeps the
    relative error meaningful when the analytic values are all near zero.

    Returns {"fd_forces", "fd_magnetic_forces", "fd_stress"} (missing when not applicable).
    """
    results = potential.compute(state, (ENERGY, FORCES, MAGNETIC_FORCES, STRESS)
                                if state.pbc.all() else (ENERGY, FORCES, MAGNETIC_FORCES))
    sites = rng.choice(state.n_atoms, size=min(n_sites, state.n_atoms), replace=False)
    errors = {}
    for name, field in ((FORCES, "positions"), (MAGNETIC_FORCES, "moments")):
        numerical, analytic = [], []
        for i in sites:
            for c in range(3):
                def move(s, h, i=i, c=c):
                    x = getattr(s, field).copy()
                    x[i, c] += h
                    return s.replace(**{field: x})
                numerical.append(-_derivative(potential, state, move, delta))
                analytic.append(results[name][i, c])
        errors["fd_" + name] = _relative(numerical, analytic, floor)
    if STRESS in results:
        numerical = np.zeros((3, 3))
        for a in range(3):
            for b in range(a, 3):
                numerical[a, b] = numerical[b, a] = _derivative(
                    potential, state, lambda s, h: _strain(s, a, b, h), delta) / state.volume
        stress = results[STRESS]
        errors["fd_stress"] = _relative(numerical, 0.5 * (stress + stress.T), floor * 1e-2)
    return errors


_ALL = (ENERGY, ENERGIES, FORCES, MAGNETIC_FORCES, STRESS)


def _outputs(potential, state):
    props = _ALL if state.pbc.all() else _ALL[:-1]
    return potential.compute(state, props)


def _worst(got, expected):
    """Largest absolute difference over every property present in ``expected``."""
    return max(float(np.max(np.abs(np.asarray(got[k]) - np.asarray(v)))) for k, v in expected.items())


def _transformed(ref, forces=None, magnetic=None, stress=None, energies=None, energy=None):
    """Expected outputs built from reference outputs ``ref`` and per-property maps."""
    out = {}
    for key, fn in ((ENERGY, energy), (ENERGIES, energies), (FORCES, forces),
                    (MAGNETIC_FORCES, magnetic), (STRESS, stress)):
        if key in ref:
            out[key] = ref[key] if fn is None else fn(ref[key])
    return out


def symmetry_errors(potential, state, rng):
    """Worst absolute error of each exact symmetry of DESIGN §1.

    Returns a dict over ``translation`` (rigid shift and moving one atom by a lattice vector),
    ``permutation``, ``supercell`` (periodic states; energy per cell), ``joint_rotation``,
    ``inversion``, ``time_reversal``, ``spin_rotation``. A large value for a symmetry the
    potential breaks on purpose is the check *detecting* it.
    """
    ref = _outputs(potential, state)
    errors = {}
    t = symmetry.translate(state, rng.normal(size=3) * 1.7)
    err = _worst(_outputs(potential, t), ref)
    if state.pbc.all():
        w = symmetry.wrap_atom(state, rng.integers(state.n_atoms), rng.integers(-2, 3, size=3))
        err = max(err, _worst(_outputs(potential, w), ref))
    errors["translation"] = err

    perm = rng.permutation(state.n_atoms)
    errors["permutation"] = _worst(_outputs(potential, symmetry.permute(state, perm)), _transformed(
        ref, forces=lambda f: f[perm], magnetic=lambda h: h[perm], energies=lambda e: e[perm]))

    if state.pbc.all():
        reps = (2, 1, 2)
        n = int(np.prod(reps))
        big = _outputs(potential, symmetry.supercell(state, reps))
        big[ENERGY] = big[ENERGY] / n
        errors["supercell"] = _worst(big, _transformed(
            ref, forces=lambda f: np.tile(f, (n, 1)), magnetic=lambda h: np.tile(h, (n, 1)),
            energies=lambda e: np.tile(e, n)))

    rot = random_rotation(rng)
    errors["joint_rotation"] = _worst(_outputs(potential, symmetry.rotate_jointly(state, rot)),
                                      _transformed(ref, forces=lambda f: f @ rot.T,
                                                   magnetic=lambda h: h @ rot.T,
                                                   stress=lambda s: rot @ s @ rot.T))
    errors["inversion"] = _worst(_outputs(potential, symmetry.invert(state)),
                                 _transformed(ref, forces=lambda f: -f))
    errors["time_reversal"] = _worst(_outputs(potential, symmetry.time_reverse(state)),
                                     _transformed(ref, magnetic=lambda h: -h))
    spin_rot = random_rotation(rng)
    errors["spin_rotation"] = _worst(_outputs(potential, symmetry.rotate_spins(state, spin_rot)),
                                     _transformed(ref, magnetic=lambda h: h @ spin_rot.T))
    return errors


def sum_rule_errors(potential, state):
    """{"sum_forces": max_c |Σ_i F_ic| (eV/Å), "sum_energies": |Σ_i E_i − E| (eV)}."""
    out = potential.compute(state, (ENERGY, ENERGIES, FORCES))
    return {"sum_forces": float(np.max(np.abs(out[FORCES].sum(axis=0)))),
            "sum_energies": abs(float(out[ENERGIES].sum()) - float(out[ENERGY]))}


def _proposals(potential, state, rng, sites):
    """Random new moments for ``sites``: random directions, magnitudes 0.5–1.5 × current
    (or around 1 μB for zero moments), kept below the potential's ``max_moment``."""
    size = np.linalg.norm(state.moments[sites], axis=1)
    size = np.where(size > 1e-8, size, 1.0) * rng.uniform(0.5, 1.5, size=len(sites))
    limits = getattr(potential, "max_moment", None) or {}
    cap = np.array([limits.get(int(z), np.inf) for z in state.numbers[sites]])
    size = np.minimum(size, 0.95 * cap)
    return uniform_on_sphere(rng, len(sites)) * size[:, None]


def locality_error(potential, state, rng, n_trials=3):
    """Largest |ΔE_j| (eV) of a site j outside ``receptive_field`` of a site i whose moment
    changed. Returns NaN when the state has no site outside any receptive field (too small)."""
    rf = potential.receptive_field
    nl = neighbor_list(state.positions, state.cell, state.pbc, rf, check_overlap=False) \
        if rf > 0 else None  # on-site terms: every other site is outside
    base = potential.compute(state, (ENERGIES,))[ENERGIES]
    worst, tested = 0.0, False
    for i in rng.choice(state.n_atoms, size=min(n_trials, state.n_atoms), replace=False):
        far = np.ones(state.n_atoms, dtype=bool)
        if nl is not None:
            far[nl.j[nl.i == i]] = False
        far[i] = False
        if not far.any():
            continue
        tested = True
        moments = state.moments.copy()
        moments[i] = _proposals(potential, state, rng, np.array([i]))[0]
        changed = potential.compute(state.replace(moments=moments), (ENERGIES,))[ENERGIES]
        worst = max(worst, float(np.max(np.abs(changed - base)[far])))
    return worst if tested else float("nan")


def full_energy_changes(potential, state, sites, new_moments):
    """ΔE_k = E(m with m[sites[k]] → new_moments[k]) − E(m) (K,) eV, each by a full
    evaluation: the reference for any ``local_energy_changes``."""
    e0 = _energy(potential, state)
    out = []
    for s, m in zip(sites, new_moments):
        moments = state.moments.copy()
        moments[s] = m
        out.append(_energy(potential, state.replace(moments=moments)) - e0)
    return np.array(out)


def local_delta_error(potential, state, rng, n_proposals=8):
    """max_k |ΔE_k(batched) − [E(m with site k changed) − E(m)]| (eV) over random proposals."""
    sites = rng.choice(state.n_atoms, size=n_proposals, replace=True)
    new = _proposals(potential, state, rng, sites)
    batched = np.asarray(potential.local_energy_changes(state, sites, new), dtype=float)
    return float(np.max(np.abs(batched - full_energy_changes(potential, state, sites, new))))
