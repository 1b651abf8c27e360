"""Ground-state search for frustrated magnets: many random starts, minimise, rank, cluster, report.

Random starts (as in the mMACE paper, arXiv 2604.08143): every free moment of the reference state
is rotated by its own random rotation — axis uniform on S², angle uniform in [0, π] — and, in
variable-length mode, its magnitude is scaled by a factor uniform in [0, 1.5]:

    m_i⁰ = s_i R(n̂_i, θ_i) m_i^ref,   n̂_i ~ U(S²), θ_i ~ U[0, π], s_i ~ U[0, 1.5] (1 in fixed mode)

Each start may pass through an optional ``anneal(state, rng) -> state`` callable (e.g. simulated
annealing by Monte Carlo, once that exists) and is then minimised by
:func:`spinlattice.drivers.minimise.minimise_moments`. Minima are ranked by energy and clustered:
two minima belong to one cluster when their energies differ by less than ``energy_tol`` (eV per
free site). Equivalent minima (related by a global rotation, time reversal or a lattice symmetry)
share the energy and so one cluster; the fraction of starts in the lowest cluster is the
success rate of the search.

Reports (:func:`moment_report`): energy, net moment per free site (vector and length), per-
sublattice mean moments and the staggered moment, angles between moments of neighbouring free
sites, and the angles inside every triangle of mutually neighbouring free sites.

``collinear_search`` finds the best collinear state: random ± patterns along an axis, greedy single
flips (steepest descent in the discrete flip space, using ``local_energy_changes`` when the
potential has it), then a collinear variable-length minimisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spinlattice.errors import InputError
from spinlattice.neighbors import state_neighbor_list
from spinlattice.potential import LocalMomentPotential
from spinlattice.properties import ENERGY
from spinlattice.sphere import angle_between, rotation_matrix, uniform_on_sphere

from .minimise import check_mask, minimise_moments


def random_start(state, rng, mask=None, max_angle=np.pi, scale=(0.0, 1.5)):
    """A copy of ``state`` with randomly rotated (and, if ``scale`` is not None, rescaled) moments.

    state : reference state; its moments (N, 3) μB are rotated
    rng : numpy.random.Generator
    mask : (N,) bool, True = randomise (default all)
    max_angle : rotation angles are uniform in [0, max_angle] (rad)
    scale : (low, high) magnitude factor range, uniform; None keeps every |m_i|
    """
    free = check_mask(mask, state.n_atoms)
    moments = state.moments.copy()
    idx = np.nonzero(free)[0]
    axes = uniform_on_sphere(rng, len(idx))
    angles = rng.uniform(0.0, max_angle, size=len(idx))
    for k, i in enumerate(idx):
        moments[i] = rotation_matrix(axes[k], angles[k]) @ moments[i]
    if scale is not None:
        lo, hi = scale
        if not 0 <= lo <= hi:
            raise InputError(f"scale must be (low, high) with 0 <= low <= high, got {scale!r}")
        moments[idx] *= rng.uniform(lo, hi, size=len(idx))[:, None]
    return state.replace(moments=moments)


# --- analysis ----------------------------------------------------------------------------------

def neighbour_pairs(state, mask=None, cutoff=None):
    """Unordered pairs (P, 2) of free sites closer than ``cutoff`` (Å; default 1.1 × the shortest
    distance between free sites), each pair once (i < j; periodic images of one pair merged)."""
    free = check_mask(mask, state.n_atoms)
    idx = np.nonzero(free)[0]
    if len(idx) < 2 and not state.pbc.any():
        return np.zeros((0, 2), dtype=int)
    if cutoff is None:
        probe = state_neighbor_list(state, 0.5 * float(np.min(np.linalg.norm(state.cell, axis=1)))
                                    if state.pbc.any() else 10.0)
        keep = free[probe.i] & free[probe.j]
        if not keep.any():
            raise InputError("no two free sites are neighbours: give pair_cutoff")
        cutoff = 1.1 * float(np.min(probe.distances[keep]))
    nl = state_neighbor_list(state, cutoff)
    keep = free[nl.i] & free[nl.j] & (nl.i < nl.j)
    pairs = np.unique(np.stack([nl.i[keep], nl.j[keep]], axis=1), axis=0)
    return pairs


def triangles(pairs):
    """Triples (T, 3) i < j < k of sites that are pairwise neighbours (from ``pairs`` (P, 2))."""
    adj = {}
    for a, b in pairs:
        adj.setdefault(int(a), set()).add(int(b))
        adj.setdefault(int(b), set()).add(int(a))
    out = []
    for i in sorted(adj):
        for j in sorted(x for x in adj[i] if x > i):
            for k in sorted(x for x in adj[i] & adj[j] if x > j):
                out.append((i, j, k))
    return np.array(out, dtype=int).reshape(-1, 3)


def moment_report(state, mask=None, pairs=None, sublattices=None, energy=None):
    """Summary of a moment arrangement (plain dict, JSON-ready).

    mask : (N,) bool, the magnetic (free) sites the report is about (default all)
    pairs : (P, 2) neighbour pairs for angles (default :func:`neighbour_pairs`)
    sublattices : (N,) int labels; per-sublattice mean moments M_s and the staggered moment
        M_st = sqrt(mean_s |M_s|²) (for two sublattices with M_B = −M_A this is |M_A − M_B|/2)
    Keys: energy, n_sites, net_moment (3,) and net_moment_per_site (μB), mean_length (μB),
    pair_angles_deg (P,), triangle_angles_deg (T, 3) (angles of the pairs ij, jk, ki),
    max_triangle_deviation_from_120_deg, sublattice_moments, staggered_moment.
    """
    free = check_mask(mask, state.n_atoms)
    m = state.moments
    n_free = int(free.sum())
    net = m[free].sum(axis=0)
    report = {
        "energy": None if energy is None else float(energy),
        "n_sites": n_free,
        "net_moment": net.tolist(),
        "net_moment_per_site": float(np.linalg.norm(net) / max(n_free, 1)),
        "mean_length": float(np.mean(np.linalg.norm(m[free], axis=1))) if n_free else 0.0,
    }
    if pairs is None:
        pairs = neighbour_pairs(state, free)
    pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
    angles = np.degrees(angle_between(m[pairs[:, 0]], m[pairs[:, 1]])) if len(pairs) else np.zeros(0)
    report["pair_angles_deg"] = angles.tolist()
    tri = triangles(pairs)
    if len(tri):
        t_angles = np.degrees(np.stack([angle_between(m[tri[:, 0]], m[tri[:, 1]]),
                                        angle_between(m[tri[:, 1]], m[tri[:, 2]]),
                                        angle_between(m[tri[:, 2]], m[tri[:, 0]])], axis=1))
        report["n_triangles"] = int(len(tri))
        report["triangle_angles_deg"] = t_angles.tolist()
        report["max_triangle_deviation_from_120_deg"] = float(np.max(np.abs(t_angles - 120.0)))
    if sublattices is not None:
        labels = np.asarray(sublattices)
        if labels.shape != (state.n_atoms,):
            raise InputError(f"sublattices must have shape ({state.n_atoms},), got {labels.shape}")
        subs = {}
        for lab in np.unique(labels[free]):
            sel = free & (labels == lab)
            subs[str(lab)] = m[sel].mean(axis=0).tolist()
        report["sublattice_moments"] = subs
        report["staggered_moment"] = float(np.sqrt(np.mean(
            [np.sum(np.square(v)) for v in subs.values()])))
    return report


# --- search ------------------------------------------------------------------------------------

@dataclass
class Minimum:
    """One minimised start: index of the start, the minimisation result, its cluster."""

    start: int
    result: object
    cluster: int = -1

    @property
    def energy(self):
        return self.result.energy


@dataclass
class GroundStateResult:
    """Minima of a random-start search, lowest first, and their energy clusters.

    minima : list of :class:`Minimum` sorted by energy
    clusters : list of dicts {energy (eV, lowest member), energy_per_site, count, starts,
        converged} sorted by energy
    fraction_global : share of starts in the lowest cluster (converged ones only count)
    n_sites : free sites the energies are normalised by
    """

    minima: list
    clusters: list
    fraction_global: float
    n_sites: int
    energy_tol: float
    reports: list = field(default_factory=list)

    @property
    def best(self):
        return self.minima[0].result


def cluster_by_energy(energies, tol):
    """Cluster labels (K,) of sorted-or-not ``energies``: a new cluster starts where the gap to the
    previous (sorted) energy exceeds ``tol``. Label 0 is the lowest cluster."""
    energies = np.asarray(energies, dtype=float)
    order = np.argsort(energies, kind="stable")
    labels = np.empty(len(energies), dtype=int)
    current, prev = 0, None
    for k in order:
        if prev is not None and energies[k] - prev > tol:
            current += 1
        labels[k] = current
        prev = energies[k]
    return labels


def search_ground_state(potential, state, rng, n_starts=20, *, mode="variable", mask=None,
                        scale=(0.0, 1.5), max_angle=np.pi, anneal=None, energy_tol=1e-5,
                        report_mask=None, pairs=None, sublattices=None, **minimise_kwargs):
    """Minimise from ``n_starts`` random starts and rank the minima.

    potential, state : as for :func:`minimise_moments`; ``state.moments`` is the reference that
        the random rotations act on (e.g. a ferromagnet of the right magnitudes)
    rng : numpy.random.Generator
    mode : "variable" (magnitudes scaled by U[scale]) or "fixed" (magnitudes kept)
    mask : (N,) bool, free sites (randomised and minimised)
    anneal : optional callable(state, rng) -> state applied to each start before minimising
    energy_tol : eV per free site; minima closer than this share a cluster
    report_mask, pairs, sublattices : passed to :func:`moment_report` for the cluster
        representatives (report_mask defaults to ``mask``)
    minimise_kwargs : tol, max_steps, field, ... for :func:`minimise_moments`
    """
    if int(n_starts) != n_starts or n_starts < 1:
        raise InputError(f"n_starts must be a positive integer, got {n_starts!r}")
    free = check_mask(mask, state.n_atoms)
    n_sites = int(free.sum())
    if n_sites == 0:
        raise InputError("no free sites to minimise")
    zero = free & (np.linalg.norm(state.moments, axis=1) < 1e-12)
    if np.any(zero):
        raise InputError(f"free sites {np.nonzero(zero)[0][:10].tolist()} have zero reference "
                         f"moments: the random starts rotate and scale the reference moments, so "
                         f"give every free site a moment of the expected size (or mask it)")
    if anneal is not None and not callable(anneal):
        raise InputError("anneal must be a callable(state, rng) -> state")
    minima = []
    for k in range(int(n_starts)):
        start = random_start(state, rng, free, max_angle, scale if mode == "variable" else None)
        if anneal is not None:
            start = anneal(start, rng)
        result = minimise_moments(potential, start, mode=mode, mask=free, **minimise_kwargs)
        minima.append(Minimum(k, result))
    minima.sort(key=lambda mn: mn.energy)
    labels = cluster_by_energy([mn.energy / n_sites for mn in minima], energy_tol)
    for mn, lab in zip(minima, labels):
        mn.cluster = int(lab)
    report_mask = free if report_mask is None else report_mask
    if pairs is None:
        pairs = neighbour_pairs(state, report_mask)
    clusters, reports = [], []
    for lab in range(int(labels.max()) + 1):
        members = [mn for mn in minima if mn.cluster == lab]
        best = members[0]
        clusters.append({
            "energy": float(best.energy), "energy_per_site": float(best.energy / n_sites),
            "count": len(members), "starts": [mn.start for mn in members],
            "converged": int(sum(mn.result.converged for mn in members)),
        })
        reports.append(moment_report(best.result.state, report_mask, pairs, sublattices,
                                     best.energy))
    fraction = sum(mn.result.converged for mn in minima if mn.cluster == 0) / len(minima)
    return GroundStateResult(minima, clusters, float(fraction), n_sites, energy_tol, reports)


def mc_annealer(potential, temperatures, sweeps_per_temperature=20, moves=None):
    """An ``anneal(state, rng) -> state`` for :func:`search_ground_state`: Metropolis Monte Carlo
    (:func:`spinlattice.drivers.montecarlo.run_chain`) with ``potential`` through the decreasing
    ``temperatures`` (K), ``sweeps_per_temperature`` sweeps each after as many equilibration
    sweeps (step sizes adapted there).

    The MC driver moves every site (it has no mask), so this suits potentials where all sites
    carry moments; the potential needs ``local_energy_changes``.
    """
    from .montecarlo import MoveSet, run_chain

    temps = [float(t) for t in np.atleast_1d(temperatures)]
    if not temps or any(not t > 0 for t in temps):
        raise InputError(f"annealing temperatures must be positive, got {temperatures!r}")
    if int(sweeps_per_temperature) != sweeps_per_temperature or sweeps_per_temperature < 1:
        raise InputError(f"sweeps_per_temperature must be a positive integer, got "
                         f"{sweeps_per_temperature!r}")

    def anneal(state, rng):
        move_set = MoveSet() if moves is None else moves
        for t in temps:
            chain, _ = run_chain(potential, state, t, int(sweeps_per_temperature), rng, move_set,
                                 n_equilibration=int(sweeps_per_temperature))
            state = state.replace(moments=chain.moments)
        return state

    return anneal


# --- collinear states --------------------------------------------------------------------------

def _flip_changes(potential, state, sites):
    """ΔE (K,) of flipping m → −m at each of ``sites`` alone."""
    new = -state.moments[sites]
    if isinstance(potential, LocalMomentPotential):
        try:
            return np.asarray(potential.local_energy_changes(state, sites, new), dtype=float)
        except NotImplementedError:
            pass
    e0 = float(potential.compute(state, (ENERGY,))[ENERGY])
    out = np.empty(len(sites))
    for k, i in enumerate(sites):
        m = state.moments.copy()
        m[i] = -m[i]
        out[k] = float(potential.compute(state.replace(moments=m), (ENERGY,))[ENERGY]) - e0
    return out


def greedy_flips(potential, state, mask=None, max_flips=10000, field=None):
    """Flip single free moments (m → −m) while some flip lowers E: steepest descent over flips.

    Returns (state, n_flips). With ``field`` (tesla) the Zeeman change 2μ_B m·B is included.
    """
    from spinlattice.units import MU_B

    free = np.nonzero(check_mask(mask, state.n_atoms))[0]
    flips = 0
    while flips < max_flips:
        d = _flip_changes(potential, state, free)
        if field is not None:
            d = d + 2.0 * MU_B * (state.moments[free] @ np.asarray(field, dtype=float))
        k = int(np.argmin(d))
        if not d[k] < -1e-12:
            break
        m = state.moments.copy()
        m[free[k]] = -m[free[k]]
        state = state.replace(moments=m)
        flips += 1
    return state, flips


def flip_anneal(potential, state, rng, mask=None, sweeps=50, t_start=None, t_end=None,
                field=None):
    """Metropolis over single flips m_i → −m_i with a geometric temperature schedule (energies in
    eV, temperatures as k_B T in eV), ``sweeps`` × (free sites) proposals, one site at a time.

    t_start defaults to the largest |ΔE| of the flips of the start, t_end to 1e-3 × t_start.
    A discrete simulated annealing for collinear (Ising-like) states; returns the final state.
    """
    from spinlattice.units import MU_B

    free = np.nonzero(check_mask(mask, state.n_atoms))[0]
    b = None if field is None else np.asarray(field, dtype=float)

    def delta(st, sites):
        d = _flip_changes(potential, st, sites)
        return d if b is None else d + 2.0 * MU_B * (st.moments[sites] @ b)

    scale = float(np.max(np.abs(delta(state, free)))) or 1.0
    t0 = scale if t_start is None else float(t_start)
    t1 = 1e-3 * t0 if t_end is None else float(t_end)
    n_moves = int(sweeps) * len(free)
    moments = state.moments.copy()
    for k in range(n_moves):
        temp = t0 * (t1 / t0) ** (k / max(n_moves - 1, 1))
        i = free[rng.integers(len(free))]
        d = float(delta(state, np.array([i]))[0])
        if d <= 0 or rng.random() < np.exp(-d / temp):
            moments[i] = -moments[i]
            state = state.replace(moments=moments.copy())
    return state


def collinear_search(potential, state, rng, n_starts=20, *, axis=(0.0, 0.0, 1.0), mask=None,
                     sublattices=None, anneal_sweeps=0, energy_tol=1e-5, **minimise_kwargs):
    """Best collinear states along ``axis`` with the reference lengths |m_i|.

    Starts: if ``sublattices`` (N,) labels are given, first every ± pattern of whole sublattices
    (2^S patterns, the q = 0 collinear states of the cell), then ``n_starts`` random ± patterns.
    Each start goes through ``anneal_sweeps`` sweeps of :func:`flip_anneal` (0: none), greedy
    single flips, then a collinear variable-length minimisation.

    Returns a :class:`GroundStateResult` (clusters by energy per free site).
    """
    free = check_mask(mask, state.n_atoms)
    n_sites = int(free.sum())
    if n_sites == 0:
        raise InputError("no free sites")
    axis = np.asarray(axis, dtype=float)
    if axis.shape != (3,) or np.linalg.norm(axis) < 1e-12:
        raise InputError(f"axis must be a non-zero 3-vector, got {axis!r}")
    axis = axis / np.linalg.norm(axis)
    lengths = np.linalg.norm(state.moments, axis=1)
    patterns = []
    if sublattices is not None:
        labels = np.asarray(sublattices)
        if labels.shape != (state.n_atoms,):
            raise InputError(f"sublattices must have shape ({state.n_atoms},), got {labels.shape}")
        subs = np.unique(labels[free])
        if len(subs) > 12:
            raise InputError(f"{len(subs)} sublattices: too many to enumerate their ± patterns")
        for code in range(2 ** len(subs)):
            signs = np.ones(state.n_atoms)
            for bit, lab in enumerate(subs):
                if code >> bit & 1:
                    signs[labels == lab] = -1.0
            patterns.append(signs)
    patterns += [rng.choice((-1.0, 1.0), size=state.n_atoms) for _ in range(int(n_starts))]
    field = minimise_kwargs.get("field")
    minima = []
    for k, signs in enumerate(patterns):
        m = state.moments.copy()
        m[free] = (signs * lengths)[free, None] * axis[None, :]
        start = state.replace(moments=m)
        if anneal_sweeps:
            start = flip_anneal(potential, start, rng, free, anneal_sweeps, field=field)
        start, _ = greedy_flips(potential, start, free, field=field)
        result = minimise_moments(potential, start, mode="variable", collinear=True, axis=axis,
                                  mask=free, **minimise_kwargs)
        minima.append(Minimum(k, result))
    minima.sort(key=lambda mn: mn.energy)
    labels = cluster_by_energy([mn.energy / n_sites for mn in minima], energy_tol)
    for mn, lab in zip(minima, labels):
        mn.cluster = int(lab)
    clusters = []
    for lab in range(int(labels.max()) + 1):
        members = [mn for mn in minima if mn.cluster == lab]
        clusters.append({"energy": float(members[0].energy),
                         "energy_per_site": float(members[0].energy / n_sites),
                         "count": len(members), "starts": [mn.start for mn in members],
                         "converged": int(sum(mn.result.converged for mn in members))})
    fraction = sum(mn.result.converged for mn in minima if mn.cluster == 0) / len(minima)
    return GroundStateResult(minima, clusters, float(fraction), n_sites, energy_tol)


__all__ = ["random_start", "neighbour_pairs", "triangles", "moment_report", "Minimum",
           "GroundStateResult", "cluster_by_energy", "search_ground_state", "greedy_flips",
           "mc_annealer", "flip_anneal", "collinear_search"]
