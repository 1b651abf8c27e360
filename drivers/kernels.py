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
def _xoshiro(s0, s1, s2, s3):
    """xoshiro256** (Blackman & Vigna, ACM TOMS 47, 36 (2021)) on a state held in four uint64
    scalars, so that it stays in registers inside a kernel: returns the advanced state and a
    double uniform in [0, 1) from the top 53 bits."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return s0, s1, s2, s3, (result >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True, inline="always")
def _cap_point(s0, s1, s2, s3, rho2, rho):
    """A point uniform on the cap cos θ ≥ 1 − 2ρ² of the unit sphere around +z (ρ = 1: the whole
    sphere), by Marsaglia's method (Ann. Math. Stat. 43, 645 (1972)): (x, y) uniform in the unit
    disc by rejection, r² = x² + y², s = ρ² r² (uniform in [0, ρ²]) and

        v = (2ρ x √(1 − s), 2ρ y √(1 − s), 1 − 2s),

    so cos θ = 1 − 2s is uniform in [1 − 2ρ², 1] and φ = atan2(y, x) is uniform and independent:
    the uniform distribution on the cap. Returns the advanced generator state and v."""
    while True:
        s0, s1, s2, s3, a = _xoshiro(s0, s1, s2, s3)
        s0, s1, s2, s3, b = _xoshiro(s0, s1, s2, s3)
        x = 2.0 * a - 1.0
        y = 2.0 * b - 1.0
        r2 = x * x + y * y
        if r2 < 1.0:
            s = rho2 * r2
            f = 2.0 * rho * np.sqrt(1.0 - s)
            return s0, s1, s2, s3, f * x, f * y, 1.0 - 2.0 * s


@nb.njit(cache=True, inline="always")
def _rotate_to(mx, my, mz, size, vx, vy, vz):
    """size × Q v for an orthogonal Q with Q e_z = m/|m| (size = |m| > 0): carries the cap around
    +z of :func:`_cap_point` onto the cap around m. Q is the Householder reflection taking
    −sign(m_z) e_z to m̂, composed with v_z → −v_z when m_z ≥ 0 (both stable: 1 + |m̂_z| ≥ 1).
    Any orthogonal Q with Q e_z = m̂ maps the uniform cap around e_z onto the uniform cap around
    m̂, so the choice only saves work (no frame, no trigonometry: one division)."""
    q = (mx * vx + my * vy) / (size + abs(mz))
    g = vz - q
    if mz >= 0.0:
        return size * vx + g * mx, size * vy + g * my, g * mz - size * q
    return size * vx + g * mx, size * vy + g * my, g * mz + size * q


@nb.njit(cache=True, error_model="numpy")
def _any_nonzero(landau, field):
    """Whether any Landau coefficient or field component is non-zero (flat, branch-free scan
    that vectorises: ~5 µs for 8192 sites, against ~50 µs for an early-exit loop over rows)."""
    nonzero = False
    for values in (landau.ravel(), field.ravel()):
        for i in range(values.shape[0]):
            nonzero |= values[i] != 0.0
    return nonzero


@nb.njit(cache=True, error_model="numpy")
def spin_model_sweep(first, neighbours, exchange, landau, field, moments, order, cumulative,
                     steps, max_moment, rng_state, beta, magnetisation, counts):
    """A whole sequential Metropolis sweep of a LocalSpinModel inside numba.

    order : (N,) sites in visiting order; cumulative : (4,) cumulative move probabilities;
    max_moment : (N,) per site; rng_state : (4,) uint64 xoshiro256** state (seeded per sweep
    from the caller's numpy Generator, not all zero), advanced in place. Updates moments,
    magnetisation (3,) and counts (4, 2) in place; returns the energy change (eV).

    The proposals have the distributions of the module table, drawn without trigonometry or a
    local frame (:func:`_cap_point`, :func:`_rotate_to`; tested by Kolmogorov–Smirnov in
    tests/test_montecarlo.py). Per sweep, not per move: the cone's cap size, the move type when
    only one has non-zero probability (no uniform drawn for it), and whether any site carries
    Landau or field terms (their reads are skipped when none does). Acceptance is the rule of
    :func:`_accept` (ln u < log w − β ΔE unless ΔE ≤ 0 and log w ≥ 0; non-finite ΔE rejected),
    evaluated without branches and then branched on once: every move draws u and takes ln u
    before its ΔE is known. That costs a logarithm per move but only one hard-to-predict branch
    instead of two (measured ~15 % faster than drawing u only for uphill moves).
    The generator state and Σ m live in scalars (registers) during the sweep. Arithmetic is
    plain IEEE (no fastmath: no reassociation, and no FMA contraction, whose bits would depend on
    the CPU numba compiles for; contraction measured no faster); error_model="numpy" drops the
    division-by-zero checks and unsigned site indices the negative-index wraparound code.
    """
    # cap of half-angle a: cos θ ≥ cos a = 1 − 2ρ², ρ = sin(a/2)
    rho_cone = np.sin(0.5 * steps[CONE])
    rho2_cone = rho_cone * rho_cone
    half_magnitude = steps[MAGNITUDE]
    single = -1
    n_positive = 0
    for m in range(cumulative.shape[0]):
        if cumulative[m] > (cumulative[m - 1] if m > 0 else 0.0):
            n_positive += 1
            single = m
    if n_positive != 1:
        single = -1
    onsite = _any_nonzero(landau, field)
    s0, s1, s2, s3 = rng_state[0], rng_state[1], rng_state[2], rng_state[3]
    m0, m1, m2 = magnetisation[0], magnetisation[1], magnetisation[2]
    proposed = np.zeros(4, dtype=np.int64)
    accepted = np.zeros(4, dtype=np.int64)
    total = 0.0
    for k in range(order.shape[0]):
        s = np.uint64(order[k])  # unsigned indices: no negative-index wraparound code
        if single >= 0:
            move = single
        else:
            s0, s1, s2, s3, u = _xoshiro(s0, s1, s2, s3)
            move = _choose_move(cumulative, u)
        proposed[move] += 1
        s0, s1, s2, s3, u = _xoshiro(s0, s1, s2, s3)
        log_u = np.log(u)  # every move draws its acceptance uniform, used or not
        o0, o1, o2 = moments[s, 0], moments[s, 1], moments[s, 2]
        log_w = 0.0
        if move == FLIP:
            n0, n1, n2 = -o0, -o1, -o2
        else:
            size = np.sqrt(o0 * o0 + o1 * o1 + o2 * o2)
            if move == MAGNITUDE:
                s0, s1, s2, s3, u = _xoshiro(s0, s1, s2, s3)
                signed = size + half_magnitude * (2.0 * u - 1.0)
                if abs(signed) > max_moment[s]:
                    continue
                if size > 0.0:
                    ratio = signed / size
                    n0, n1, n2 = ratio * o0, ratio * o1, ratio * o2
                    log_w = 2.0 * np.log(abs(ratio))
                else:  # no direction: any axis will do (a measure-zero event)
                    n0, n1, n2 = 0.0, 0.0, signed
                    log_w = np.inf
            elif move == UNIFORM:
                s0, s1, s2, s3, v0, v1, v2 = _cap_point(s0, s1, s2, s3, 1.0, 1.0)
                n0, n1, n2 = size * v0, size * v1, size * v2
            else:  # CONE
                s0, s1, s2, s3, v0, v1, v2 = _cap_point(s0, s1, s2, s3, rho2_cone, rho_cone)
                if size > 0.0:
                    n0, n1, n2 = _rotate_to(o0, o1, o2, size, v0, v1, v2)
                else:
                    n0, n1, n2 = 0.0, 0.0, 0.0
        d0, d1, d2 = n0 - o0, n1 - o1, n2 - o2
        h0, h1, h2 = 0.0, 0.0, 0.0
        self_j = 0.0
        for p in range(np.uint64(first[s]), np.uint64(first[s + np.uint64(1)])):
            j = np.uint64(neighbours[p])
            if j == s:
                self_j += exchange[p]
            else:
                e = exchange[p]
                h0 += e * moments[j, 0]
                h1 += e * moments[j, 1]
                h2 += e * moments[j, 2]
        delta = -(d0 * h0 + d1 * h1 + d2 * h2)
        if self_j != 0.0 or onsite:
            new2 = n0 * n0 + n1 * n1 + n2 * n2
            old2 = o0 * o0 + o1 * o1 + o2 * o2
            delta -= 0.5 * self_j * (new2 - old2)
            if onsite:
                a, b, c = landau[s, 0], landau[s, 1], landau[s, 2]
                delta += a * (new2 - old2) + b * (new2 * new2 - old2 * old2) \
                    + c * (new2 * new2 * new2 - old2 * old2 * old2)
                delta -= field[s, 0] * d0 + field[s, 1] * d1 + field[s, 2] * d2
        # the Metropolis–Hastings rule of _accept, as one branch on the combined decision
        # (bitwise & and |: no short-circuit branches); ln u was taken before ΔE, off its path
        exponent = log_w - beta * delta if delta != 0.0 else log_w
        accept = ((delta <= 0.0) & (log_w >= 0.0)) | (log_u < exponent)
        if not (accept & np.isfinite(delta)):
            continue
        accepted[move] += 1
        m0 += d0
        m1 += d1
        m2 += d2
        moments[s, 0], moments[s, 1], moments[s, 2] = n0, n1, n2
        total += delta
    rng_state[0], rng_state[1], rng_state[2], rng_state[3] = s0, s1, s2, s3
    magnetisation[0], magnetisation[1], magnetisation[2] = m0, m1, m2
    for m in range(4):
        counts[m, 0] += proposed[m]
        counts[m, 1] += accepted[m]
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
