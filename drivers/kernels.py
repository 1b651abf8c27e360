"""numba kernels of the drivers: pure array functions for Monte Carlo bookkeeping.

Randomness comes from the caller's seeded ``numpy.random.Generator``: the batched kernels take
uniforms drawn from it, and the whole-sweep kernel takes a xoshiro256** state seeded from it at
every sweep, so a run is reproducible and the Generator's state is all a checkpoint needs. The
kernels turn uniforms into proposals, accept or reject, and update moments and running sums in
place.

Move codes (see :mod:`.montecarlo` for the physics):

==========  =========  ==============================================================
code        name       proposal m → m'
==========  =========  ==============================================================
0           uniform    m' = |m| û, û uniform on S²
1           cone       m' = |m| û, û uniform on the cap of half-angle ``step`` around m̂
2           flip       m' = −m
3           magnitude  m' = (|m| + δ) m̂, δ uniform in [−step, step]; a signed length along
                       the fixed axis m̂, so the proposal is symmetric on that line and the
                       d³m = m² dm dΩ measure enters as the Jacobian (m'/m)²
==========  =========  ==============================================================
"""

import numba as nb
import numpy as np

UNIFORM = 0
CONE = 1
FLIP = 2
MAGNITUDE = 3
MOVE_NAMES = ("uniform", "cone", "flip", "magnitude")


@nb.njit(cache=True)
def greedy_colouring(first, neighbours, order):
    """Colour sites so that no two coupled sites share a colour (greedy, in ``order``).

    first : (N + 1,) CSR offsets; neighbours : (P,) coupled sites of each site (rows of site s
    at first[s]:first[s+1]; self-images allowed and ignored); order : (N,) visiting order.
    Returns colours (N,) int64 in 0..n_colours−1.
    """
    n = first.shape[0] - 1
    colours = np.full(n, -1, dtype=np.int64)
    used = np.full(n + 1, -1, dtype=np.int64)  # used[c] == s: colour c taken by a neighbour of s
    for s in order:
        for p in range(first[s], first[s + 1]):
            c = colours[neighbours[p]]
            if c >= 0:
                used[c] = s
        c = 0
        while used[c] == s:
            c += 1
        colours[s] = c
    return colours


@nb.njit(cache=True, inline="always")
def _frame(x, y, z):
    """Orthonormal e1, e2 completing the unit vector (x, y, z)."""
    if abs(x) < 0.9:
        hx, hy, hz = 1.0, 0.0, 0.0
    else:
        hx, hy, hz = 0.0, 1.0, 0.0
    e1x, e1y, e1z = hy * z - hz * y, hz * x - hx * z, hx * y - hy * x
    norm = np.sqrt(e1x * e1x + e1y * e1y + e1z * e1z)
    e1x, e1y, e1z = e1x / norm, e1y / norm, e1z / norm
    return e1x, e1y, e1z, y * e1z - z * e1y, z * e1x - x * e1z, x * e1y - y * e1x


@nb.njit(cache=True, inline="always")
def _propose_one(mx, my, mz, move, steps, cos_cone, limit, u0, cos_phi, sin_phi):
    """One proposal from moment (mx, my, mz): returns (m'_x, m'_y, m'_z, log weight).
    u0 uniform in [0, 1); (cos φ, sin φ) of an azimuth uniform in [0, 2π);
    cos_cone = cos(steps[CONE]), hoisted out of the loops."""
    if move == FLIP:
        return -mx, -my, -mz, 0.0
    size = np.sqrt(mx * mx + my * my + mz * mz)
    if size > 0.0:
        ux, uy, uz = mx / size, my / size, mz / size
    else:  # no direction: any axis will do (a measure-zero event)
        ux, uy, uz = 0.0, 0.0, 1.0
    if move == MAGNITUDE:
        signed = size + steps[MAGNITUDE] * (2.0 * u0 - 1.0)
        if abs(signed) > limit:
            log_w = -np.inf
        elif size > 0.0:
            log_w = 2.0 * (np.log(abs(signed)) - np.log(size))
        else:
            log_w = np.inf
        return signed * ux, signed * uy, signed * uz, log_w
    if move == UNIFORM:
        cos_t = 2.0 * u0 - 1.0
    else:  # CONE: cos θ uniform in [cos step, 1]
        cos_t = 1.0 - u0 * (1.0 - cos_cone)
    sin_t = np.sqrt(max(0.0, 1.0 - cos_t * cos_t))
    e1x, e1y, e1z, e2x, e2y, e2z = _frame(ux, uy, uz)
    c1, c2 = sin_t * cos_phi, sin_t * sin_phi
    return (size * (cos_t * ux + c1 * e1x + c2 * e2x), size * (cos_t * uy + c1 * e1y + c2 * e2y),
            size * (cos_t * uz + c1 * e1z + c2 * e2z), 0.0)


@nb.njit(cache=True)
def propose(moments, sites, moves, steps, max_moment, uniforms, new_moments, log_weights):
    """Turn uniforms into proposals for ``sites``.

    moments : (N, 3) μB; sites : (K,); moves : (K,) move codes; steps : (4,) step of each move
    type (cone: half-angle in rad; magnitude: μB); max_moment : (K,) largest allowed |m'| of each
    site (inf: none); uniforms : (K, 2) in [0, 1).
    Writes new_moments (K, 3) and log_weights (K,): the log of the proposal-measure factor in the
    acceptance ratio (2 ln|m'/m| for magnitude moves; −inf for a proposal outside the range).
    """
    cos_cone = np.cos(steps[CONE])
    for k in range(sites.shape[0]):
        s = sites[k]
        phi = 2.0 * np.pi * uniforms[k, 1]
        x, y, z, w = _propose_one(moments[s, 0], moments[s, 1], moments[s, 2], moves[k], steps,
                                  cos_cone, max_moment[k], uniforms[k, 0], np.cos(phi),
                                  np.sin(phi))
        new_moments[k, 0], new_moments[k, 1], new_moments[k, 2], log_weights[k] = x, y, z, w


@nb.njit(cache=True, inline="always")
def _accept(delta_e, log_weight, beta, u):
    if log_weight == -np.inf or not np.isfinite(delta_e):
        return False
    if delta_e <= 0.0 and log_weight >= 0.0:
        return True
    exponent = log_weight - beta * delta_e if delta_e != 0.0 else log_weight
    return np.log(u) < exponent


@nb.njit(cache=True)
def metropolis_accept(delta_e, log_weights, beta, uniforms, accepted):
    """Metropolis–Hastings: accept k when u_k < exp(−β ΔE_k + log_weights_k).

    delta_e : (K,) eV; beta : 1/(k_B T), 1/eV (inf: accept only ΔE ≤ 0); uniforms : (K,).
    Writes accepted (K,) bool.
    """
    for k in range(delta_e.shape[0]):
        accepted[k] = _accept(delta_e[k], log_weights[k], beta, uniforms[k])


@nb.njit(cache=True)
def apply_accepted(moments, sites, new_moments, accepted, delta_e, moves, magnetisation,
                   counts):
    """Write accepted proposals into ``moments`` (in place) and update running sums.

    magnetisation : (3,) Σ_i m_i, updated in place; counts : (n_moves, 2) proposed / accepted
    per move type, updated in place. Returns the total energy change of the accepted moves (eV).
    """
    total = 0.0
    for k in range(sites.shape[0]):
        counts[moves[k], 0] += 1
        if not accepted[k]:
            continue
        counts[moves[k], 1] += 1
        s = sites[k]
        for c in range(3):
            magnetisation[c] += new_moments[k, c] - moments[s, c]
            moments[s, c] = new_moments[k, c]
        total += delta_e[k]
    return total


@nb.njit(cache=True, inline="always")
def _choose_move(cumulative, u):
    """Move code for a uniform u ∈ [0, 1) and cumulative move probabilities (n_moves,)."""
    m = 0
    while m < cumulative.shape[0] - 1 and u * cumulative[-1] >= cumulative[m]:
        m += 1
    return m


@nb.njit(cache=True)
def choose_moves(probabilities, uniforms):
    """Move code of each proposal from ``probabilities`` (n_moves,) and uniforms (K,)."""
    cumulative = np.cumsum(probabilities)
    out = np.empty(uniforms.shape[0], dtype=np.int64)
    for k in range(uniforms.shape[0]):
        out[k] = _choose_move(cumulative, uniforms[k])
    return out


@nb.njit(cache=True, inline="always")
def _spin_model_delta(s, n0, n1, n2, first, neighbours, exchange, landau, field, moments):
    """ΔE (eV) of m_s → (n0, n1, n2) for the LocalSpinModel arrays (spinlattice.spinmodel):
    −Σ_{p∈s, j≠s} J_p (m'−m)·m_j − ½ Σ_{p∈s, j=s} J_p (|m'|² − |m|²) + Landau and field terms."""
    o0, o1, o2 = moments[s, 0], moments[s, 1], moments[s, 2]
    d0, d1, d2 = n0 - o0, n1 - o1, n2 - o2
    new2 = n0 * n0 + n1 * n1 + n2 * n2
    old2 = o0 * o0 + o1 * o1 + o2 * o2
    delta = 0.0
    for p in range(first[s], first[s + 1]):
        j = neighbours[p]
        if j == s:
            delta -= 0.5 * exchange[p] * (new2 - old2)
        else:
            delta -= exchange[p] * (d0 * moments[j, 0] + d1 * moments[j, 1] + d2 * moments[j, 2])
    a, b, c = landau[s, 0], landau[s, 1], landau[s, 2]
    delta += a * (new2 - old2) + b * (new2 * new2 - old2 * old2) \
        + c * (new2 * new2 * new2 - old2 * old2 * old2)
    delta -= field[s, 0] * d0 + field[s, 1] * d1 + field[s, 2] * d2
    return delta


@nb.njit(cache=True)
def spin_model_energy_changes(first, neighbours, exchange, landau, field, moments, sites,
                              new_moments):
    """ΔE (K,) of independent single-site proposals for a LocalSpinModel (for checks)."""
    out = np.empty(sites.shape[0])
    for k in range(sites.shape[0]):
        out[k] = _spin_model_delta(sites[k], new_moments[k, 0], new_moments[k, 1],
                                   new_moments[k, 2], first, neighbours, exchange, landau, field,
                                   moments)
    return out


@nb.njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@nb.njit(cache=True, inline="always")
def _next_uniform(state):
    """xoshiro256** (Blackman & Vigna, ACM TOMS 47, 36 (2021)) on ``state`` (4,) uint64, in
    place; returns a double uniform in [0, 1) from the top 53 bits."""
    result = _rotl(state[1] * np.uint64(5), 7) * np.uint64(9)
    t = state[1] << np.uint64(17)
    state[2] ^= state[0]
    state[3] ^= state[1]
    state[1] ^= state[2]
    state[0] ^= state[3]
    state[2] ^= t
    state[3] = _rotl(state[3], 45)
    return (result >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True, inline="always")
def _random_azimuth(state):
    """(cos φ, sin φ) of φ uniform in [0, 2π) without trigonometry: a point uniform in the unit
    disc by rejection, its angle doubled (Marsaglia-style): cos 2α = (x² − y²)/r², sin 2α = 2xy/r²."""
    while True:
        x = 2.0 * _next_uniform(state) - 1.0
        y = 2.0 * _next_uniform(state) - 1.0
        r2 = x * x + y * y
        if 0.0 < r2 <= 1.0:
            return (x * x - y * y) / r2, 2.0 * x * y / r2


@nb.njit(cache=True)
def spin_model_sweep(first, neighbours, exchange, landau, field, moments, order, cumulative,
                     steps, max_moment, rng_state, beta, magnetisation, counts):
    """A whole sequential Metropolis sweep of a LocalSpinModel inside numba.

    order : (N,) sites in visiting order; cumulative : (4,) cumulative move probabilities;
    max_moment : (N,) per site; rng_state : (4,) uint64 xoshiro256** state (seeded per sweep
    from the caller's numpy Generator, not all zero), advanced in place. Updates moments,
    magnetisation (3,) and counts (4, 2) in place; returns the energy change (eV).
    """
    total = 0.0
    cos_cone = np.cos(steps[CONE])
    for k in range(order.shape[0]):
        s = order[k]
        move = _choose_move(cumulative, _next_uniform(rng_state))
        u0 = _next_uniform(rng_state)
        cos_phi, sin_phi = _random_azimuth(rng_state) if move <= CONE else (1.0, 0.0)
        n0, n1, n2, log_w = _propose_one(moments[s, 0], moments[s, 1], moments[s, 2], move,
                                         steps, cos_cone, max_moment[s], u0, cos_phi, sin_phi)
        counts[move, 0] += 1
        if log_w == -np.inf:
            continue
        delta = _spin_model_delta(s, n0, n1, n2, first, neighbours, exchange, landau, field,
                                  moments)
        if delta > 0.0 or log_w < 0.0:
            if not _accept(delta, log_w, beta, _next_uniform(rng_state)):
                continue
        counts[move, 1] += 1
        magnetisation[0] += n0 - moments[s, 0]
        magnetisation[1] += n1 - moments[s, 1]
        magnetisation[2] += n2 - moments[s, 2]
        moments[s, 0], moments[s, 1], moments[s, 2] = n0, n1, n2
        total += delta
    return total


@nb.njit(cache=True)
def spin_model_overrelax(first, neighbours, exchange, field, moments, order, magnetisation):
    """One over-relaxation sweep of a LocalSpinModel: each site's moment is reflected about its
    local exchange field h_s = Σ_{p∈s, j≠s} J_p m_j + b_s,

        m' = 2 (m·h) h / |h|² − m,

    which keeps |m| and h·m, hence the energy, exactly (self-image and on-site terms depend on
    |m| only). A deterministic, measure-preserving involution: always accepted; it moves the
    chain along the energy shell and cuts autocorrelation times of Heisenberg models (Creutz,
    Phys. Rev. D 36, 515 (1987); Brown & Woch, Phys. Rev. Lett. 58, 2394 (1987)).
    Updates moments and magnetisation (3,) in place.
    """
    for k in range(order.shape[0]):
        s = order[k]
        h0, h1, h2 = field[s, 0], field[s, 1], field[s, 2]
        for p in range(first[s], first[s + 1]):
            j = neighbours[p]
            if j != s:
                h0 += exchange[p] * moments[j, 0]
                h1 += exchange[p] * moments[j, 1]
                h2 += exchange[p] * moments[j, 2]
        h2n = h0 * h0 + h1 * h1 + h2 * h2
        if h2n == 0.0:
            continue
        f = 2.0 * (moments[s, 0] * h0 + moments[s, 1] * h1 + moments[s, 2] * h2) / h2n
        n0, n1, n2 = f * h0 - moments[s, 0], f * h1 - moments[s, 1], f * h2 - moments[s, 2]
        magnetisation[0] += n0 - moments[s, 0]
        magnetisation[1] += n1 - moments[s, 1]
        magnetisation[2] += n2 - moments[s, 2]
        moments[s, 0], moments[s, 1], moments[s, 2] = n0, n1, n2
