"""numba kernels of the mMACE contraction: pure array functions, no Python objects.

The folded polynomial of :mod:`.contraction` (Batatia et al., NeurIPS 2022, eq. 10; Ho et al.,
arXiv 2604.08143, eq. 9), for every site i of species z and output row ρ (R rows per channel:
1 for invariants, 3 for vector components), vectorised over the K channels:

    O_s      = A_{xa_s} A_{xb_s}                      (S pair products; A_D ≡ 1)
    T_(ρ,c)  = Σ_{j ∈ row (ρ,c)} W_{z j} O_{col_j}    (sparse folded weights, CSR by row)
    B_ρ      = Σ_c A_{xc_c} T_(ρ,c)

and its gradient for a cotangent g_ρ (first order; the weights are constants):

    dA_{xc_c} += Σ_ρ g_ρ T_(ρ,c),   dT_(ρ,c) = g_ρ A_{xc_c},   dO_{col_j} += W_{z j} dT_row(j),
    dA_{xa_s} += dO_s A_{xb_s},     dA_{xb_s} += dO_s A_{xa_s}.

The folded weight tensor is ≈ 10 % dense (l_pos 3, l_mag 1), so the CSR form does a tenth of
the multiply-adds of the dense GEMM. The atomic basis is read in place from any layout with the
channels innermost (component-major (D, n, K) from layer 0, site-major (n, D, K) from later
layers and local ΔE), given as a flat array and two strides; T (n, R·(C+1), K) and B, G
(n, R, K). Each call handles the sites [s0, s1) of one species. ``nogil``: the contraction's worker threads run calls concurrently.
"""

import numba as nb
import numpy as np


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
    for i in range(s0, s1):
        for s in range(S):
            a, b = xa[s] * sd + i * si, xb[s]
            if b == D:
                for k in range(K):
                    O[s, k] = A[a + k]
            else:
                b = b * sd + i * si
                for k in range(K):
                    O[s, k] = A[a + k] * A[b + k]
        Ti = T[i]
        for r in range(R * C1):
            for k in range(K):
                Ti[r, k] = 0.0
            for j in range(rowptr[r], rowptr[r + 1]):
                s = cols[j]
                for k in range(K):
                    Ti[r, k] += W[j, k] * O[s, k]
        for rho in range(R):
            for k in range(K):
                B[i, rho, k] = 0.0
            for c in range(C1):
                row, comp = rho * C1 + c, xc[c]
                if comp == D:
                    for k in range(K):
                        B[i, rho, k] += Ti[row, k]
                else:
                    off = comp * sd + i * si
                    for k in range(K):
                        B[i, rho, k] += A[off + k] * Ti[row, k]


@nb.njit(cache=True, nogil=True)
def folded_backward_sites(A, sd, si, D, T, G, s0, s1, W, rowptr, cols, xa, xb, xc, dA):
    """dA (flat, the layout of A) of Σ_ρk G[i,ρ,k] B[i,ρ,k] for sites s0 ≤ i < s1 (module
    docstring); T from :func:`folded_forward_sites`, G (n, R, K)."""
    S, K = xa.shape[0], W.shape[1]
    C1 = xc.shape[0]
    R = (rowptr.shape[0] - 1) // C1
    dO = np.empty((S, K), dtype=A.dtype)
    dT = np.empty((K,), dtype=A.dtype)
    for i in range(s0, s1):
        Ti = T[i]
        for d in range(D):
            off = d * sd + i * si
            for k in range(K):
                dA[off + k] = 0.0
        dO[:, :] = 0.0
        for rho in range(R):
            for c in range(C1):
                row, comp = rho * C1 + c, xc[c]
                if comp == D:
                    for k in range(K):
                        dT[k] = G[i, rho, k]
                else:
                    off = comp * sd + i * si
                    for k in range(K):
                        g = G[i, rho, k]
                        dA[off + k] += g * Ti[row, k]
                        dT[k] = g * A[off + k]
                for j in range(rowptr[row], rowptr[row + 1]):
                    s = cols[j]
                    for k in range(K):
                        dO[s, k] += W[j, k] * dT[k]
        for s in range(S):
            a, b = xa[s] * sd + i * si, xb[s]
            if b == D:
                for k in range(K):
                    dA[a + k] += dO[s, k]
            else:
                b = b * sd + i * si
                for k in range(K):
                    dA[a + k] += dO[s, k] * A[b + k]
                    dA[b + k] += dO[s, k] * A[a + k]
