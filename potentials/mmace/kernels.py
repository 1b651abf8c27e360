"""numba kernels of the mMACE contraction: pure array functions, no Python objects.

The folded polynomial of :mod:`.contraction` (Batatia et al., NeurIPS 2022, eq. 10; Ho et al.,
arXiv 2604.08143, eq. 9), for every site i of species z and output row ρ (R rows per channel:
1 for invariants, 3 for vector components), vectorised over the K channels:

    O_s      = A_{xa_s} A_{xb_s}                      (S pair products; A_D ≡ 1)
    T_(ρ,c)  = Σ_{j ∈ row (ρ,c)} W_{z j} O_{col_j}    (sparse folded weights, CSR by row)
    B_ρ      = Σ_c A_{xc_c} T_(ρ,c)

and its gradient for a cotangent g_ρ (first order; the weights are constants):

    dA_{xc_c} += Σ_ρ g_ρ T_(ρ,c),   dT_(ρ,c) = g_ρ A_{xc_c},
    dO_s       = Σ_{j ∈ column s} W_{z j} dT_row(j)      (the same weights, CSC by column)
    dA_{xa_s} += dO_s A_{xb_s},     dA_{xb_s} += dO_s A_{xa_s}.

The folded weight tensor is ≈ 10 % dense (l_pos 3, l_mag 1), so the CSR form does a tenth of
the multiply-adds of the dense GEMM. The atomic basis is read in place from any layout with the
channels innermost (component-major (D, n, K) from layer 0, site-major (n, D, K) from later
layers and local ΔE), given as a flat array and two strides; T (n, R·(C+1), K) and B, G
(n, R, K). Each call handles the sites [s0, s1) of one species. ``nogil``: the contraction's
worker threads run calls concurrently.
"""

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, inline="always")
def _load_site(A, sd, si, D, i, Ai):
    """Ai (D, K) ← component rows of site i of the flat A (a local copy: contiguous, and no
    aliasing with the outputs, so the channel loops vectorise)."""
    K = Ai.shape[1]
    for d in range(D):
        off = d * sd + i * si
        for k in range(K):
            Ai[d, k] = A[off + k]


@nb.njit(cache=True, nogil=True)
def folded_forward_sites(A, sd, si, D, s0, s1, W, rowptr, cols, xa, xb, xc, T, B):
    """Fill T[i] and B[i] for sites s0 ≤ i < s1 (module docstring).

    A: flat atomic basis, component d of site i at A[d·sd + i·si : … + K] (channels
    contiguous; component D, not stored, is the constant 1). W: (nnz, K) weights of the sites'
    species; rowptr (R·(C+1) + 1,), cols (nnz,) CSR pattern; xa ≤ xb (S,); xc (C+1,).
    """
    S, K = xa.shape[0], W.shape[1]
    C1 = xc.shape[0]
    R = (rowptr.shape[0] - 1) // C1
    O = np.empty((S, K), dtype=A.dtype)
    Ai = np.empty((D, K), dtype=A.dtype)
    acc = np.empty(K, dtype=A.dtype)
    for i in range(s0, s1):
        _load_site(A, sd, si, D, i, Ai)
        for s in range(S):
            a, b = xa[s], xb[s]
            if b == D:
                for k in range(K):
                    O[s, k] = Ai[a, k]
            else:
                for k in range(K):
                    O[s, k] = Ai[a, k] * Ai[b, k]
        for r in range(R * C1):
            acc[:] = 0.0
            for j in range(rowptr[r], rowptr[r + 1]):
                s = cols[j]
                for k in range(K):
                    acc[k] += W[j, k] * O[s, k]
            T[i, r, :] = acc
        for rho in range(R):
            acc[:] = 0.0
            for c in range(C1):
                row, comp = rho * C1 + c, xc[c]
                if comp == D:
                    for k in range(K):
                        acc[k] += T[i, row, k]
                else:
                    for k in range(K):
                        acc[k] += Ai[comp, k] * T[i, row, k]
            B[i, rho, :] = acc


@nb.njit(cache=True, nogil=True)
def folded_backward_sites(A, sd, si, D, T, G, s0, s1, W, colptr, rows, xa, xb, xc, dA):
    """dA (flat, the layout of A) of Σ_ρk G[i,ρ,k] B[i,ρ,k] for sites s0 ≤ i < s1 (module
    docstring); T from :func:`folded_forward_sites`, G (n, R, K). The folded weights come
    column-ordered (CSC: colptr (S+1,), rows (nnz,), W (nnz, K)), so each dO_s is gathered
    once and applied to its pair at once (never stored)."""
    S, K = xa.shape[0], W.shape[1]
    C1 = xc.shape[0]
    RC1 = T.shape[1]
    R = RC1 // C1
    Ai = np.empty((D, K), dtype=A.dtype)
    dAi = np.empty((D, K), dtype=A.dtype)
    dT = np.empty((RC1, K), dtype=A.dtype)
    acc = np.empty(K, dtype=A.dtype)
    for i in range(s0, s1):
        _load_site(A, sd, si, D, i, Ai)
        dAi[:, :] = 0.0
        for rho in range(R):
            for c in range(C1):
                row, comp = rho * C1 + c, xc[c]
                if comp == D:
                    for k in range(K):
                        dT[row, k] = G[i, rho, k]
                else:
                    for k in range(K):
                        g = G[i, rho, k]
                        dAi[comp, k] += g * T[i, row, k]
                        dT[row, k] = g * Ai[comp, k]
        for s in range(S):
            acc[:] = 0.0
            for j in range(colptr[s], colptr[s + 1]):
                r = rows[j]
                for k in range(K):
                    acc[k] += W[j, k] * dT[r, k]
            a, b = xa[s], xb[s]
            if b == D:
                for k in range(K):
                    dAi[a, k] += acc[k]
            else:
                for k in range(K):
                    dAi[a, k] += acc[k] * Ai[b, k]
                    dAi[b, k] += acc[k] * Ai[a, k]
        for d in range(D):
            off = d * sd + i * si
            for k in range(K):
                dA[off + k] = dAi[d, k]
