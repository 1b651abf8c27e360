"""numba kernels of the analytic potentials: pure array functions, no Python objects.

All of them evaluate *local energy changes* of single-site moment proposals: for each k,
ΔE_k of m[sites[k]] → new_moments[k] with every other moment unchanged (proposals independent).

Pair kernels take the pair geometry of :mod:`.pairs` (full neighbour list, rows of atom s at
first[s]:first[s+1]) and one coupling value per directed pair. With symmetric bond energies
e(D, a, b) = e(−D, b, a) and E = ½ Σ_p e_p, a change of m_s gives

    ΔE = Σ_{p: i_p = s, j_p ≠ s} [e(D_p, m', m_j) − e(D_p, m_s, m_j)]
         + ½ Σ_{p: i_p = j_p = s} [e(D_p, m', m') − e(D_p, m_s, m_s)]      (periodic self-images)

Bond energies (``kind``): HEISENBERG e = −J a·b; BIQUADRATIC e = −K (a·b)²;
DMI e = c D·(a × b) with c = D(r)/r (the bulk DMI vector D(r) r̂).

Site kernels take per-site parameter rows (N, P) and a ``kind``:
LANDAU (A, B, C): A|m|² + B|m|⁴ + C|m|⁶; UNIAXIAL (K₁, K₂, n): −K₁(m·n)² − K₂(m·n)⁴;
CUBIC (K₁, K₂, R row-major 9): with u = R m, K₁(u_x²u_y² + u_y²u_z² + u_z²u_x²) + K₂ u_x²u_y²u_z²;
ZEEMAN (b): −m·b with b = μ_B B in eV/μB.
"""

import numba as nb
import numpy as np

HEISENBERG = 0
BIQUADRATIC = 1
DMI = 2

LANDAU = 0
UNIAXIAL = 1
CUBIC = 2
ZEEMAN = 3


@nb.njit(cache=True, inline="always")
def _bond_energy(kind, c, d0, d1, d2, a0, a1, a2, b0, b1, b2):
    if kind == HEISENBERG:
        return -c * (a0 * b0 + a1 * b1 + a2 * b2)
    if kind == BIQUADRATIC:
        s = a0 * b0 + a1 * b1 + a2 * b2
        return -c * s * s
    # DMI: c D·(a × b)
    return c * (d0 * (a1 * b2 - a2 * b1) + d1 * (a2 * b0 - a0 * b2) + d2 * (a0 * b1 - a1 * b0))


@nb.njit(cache=True)
def pair_energy_changes(kind, first, j, coupling, vectors, moments, sites, new_moments):
    """ΔE (K,) of single-site proposals for a pair term.

    kind : HEISENBERG | BIQUADRATIC | DMI; first : (N + 1,) row offsets; j : (P,) neighbours;
    coupling : (P,) per-pair coupling (J, K, or D(r)/r); vectors : (P, 3) D_ij, Å;
    moments : (N, 3) μB; sites : (K,) int; new_moments : (K, 3) μB.
    """
    n_prop = sites.shape[0]
    out = np.zeros(n_prop)
    for k in range(n_prop):
        s = sites[k]
        o0, o1, o2 = moments[s, 0], moments[s, 1], moments[s, 2]
        n0, n1, n2 = new_moments[k, 0], new_moments[k, 1], new_moments[k, 2]
        delta = 0.0
        for p in range(first[s], first[s + 1]):
            c = coupling[p]
            if c == 0.0:
                continue
            d0, d1, d2 = vectors[p, 0], vectors[p, 1], vectors[p, 2]
            t = j[p]
            if t == s:
                delta += 0.5 * (_bond_energy(kind, c, d0, d1, d2, n0, n1, n2, n0, n1, n2)
                                - _bond_energy(kind, c, d0, d1, d2, o0, o1, o2, o0, o1, o2))
            else:
                b0, b1, b2 = moments[t, 0], moments[t, 1], moments[t, 2]
                delta += (_bond_energy(kind, c, d0, d1, d2, n0, n1, n2, b0, b1, b2)
                          - _bond_energy(kind, c, d0, d1, d2, o0, o1, o2, b0, b1, b2))
        out[k] = delta
    return out


@nb.njit(cache=True, inline="always")
def _site_energy(kind, q, m0, m1, m2):
    if kind == LANDAU:
        m2s = m0 * m0 + m1 * m1 + m2 * m2
        return m2s * (q[0] + m2s * (q[1] + m2s * q[2]))
    if kind == UNIAXIAL:
        x = m0 * q[2] + m1 * q[3] + m2 * q[4]
        x2 = x * x
        return -x2 * (q[0] + q[1] * x2)
    if kind == CUBIC:
        u0 = q[2] * m0 + q[3] * m1 + q[4] * m2
        u1 = q[5] * m0 + q[6] * m1 + q[7] * m2
        u2 = q[8] * m0 + q[9] * m1 + q[10] * m2
        a, b, c = u0 * u0, u1 * u1, u2 * u2
        return q[0] * (a * b + b * c + c * a) + q[1] * a * b * c
    # ZEEMAN
    return -(m0 * q[0] + m1 * q[1] + m2 * q[2])


@nb.njit(cache=True)
def site_energy_changes(kind, params, moments, sites, new_moments):
    """ΔE (K,) of single-site proposals for an on-site term.

    kind : LANDAU | UNIAXIAL | CUBIC | ZEEMAN; params : (N, P) per-site parameters (see module
    doc); moments : (N, 3) μB; sites : (K,); new_moments : (K, 3) μB.
    """
    n_prop = sites.shape[0]
    out = np.empty(n_prop)
    for k in range(n_prop):
        s = sites[k]
        q = params[s]
        out[k] = (_site_energy(kind, q, new_moments[k, 0], new_moments[k, 1], new_moments[k, 2])
                  - _site_energy(kind, q, moments[s, 0], moments[s, 1], moments[s, 2]))
    return out
