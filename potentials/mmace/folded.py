"""The folded fast path of the symmetric and vector contractions (Batatia et al., NeurIPS 2022,
eq. 10; Ho et al., arXiv 2604.08143, eq. 9), used for forces without ``create_graph`` and for
energy-only evaluations.

The weights are folded into the coupling tensors once per call (:func:`folded_weights`), so that
for every site and channel B_ρ = Σ_c A_c T_(ρ,c) with T = W O and O_s = A_a A_b the pair products;
R = 1 output row per channel for invariants, 3 for vector components.

:class:`FoldedContraction` is an autograd Function with a hand-written backward:

    ∂B/∂A_c  += T_c                                   (T saved by the forward, (K, C+1, n))
    dT_c      = g A_c,   dO = Wᵀ dT                    (one batched GEMM per block)
    ∂B/∂A_a  += dO_s A_b,   ∂B/∂A_b += dO_s A_a        (index_add over the pair table)

i.e. the gradient of the cubic is a quadratic evaluated with the same tables; the O(S·K·n)
pair products are never stored, only A and T. The plain autograd path (same arithmetic, weights
in the graph) is used for training (``create_graph=True``, weight gradients).

On CPU the numba kernels of :mod:`.kernels` evaluate it with the sparse (CSR / CSC) forms of
the folded weights (:func:`sparse_folded_weights`, ≈ 10 % dense); on CUDA (and with
``USE_KERNELS = False``) the blocked torch functions :func:`folded_forward` /
:func:`folded_backward` do, in blocks of ``BLOCK_SITES`` sites so that the pair products stay
in cache.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.autograd.function import once_differentiable


def _pair(u, v):
    """Unordered pair key of two component indices."""
    return (min(int(u), int(v)), max(int(u), int(v)))


#: Largest dense folded tensor (paths × pairs × third indices) before falling back to sparse.
MAX_FOLDED = 4_000_000

#: Whether CPU fast paths use the numba kernels of :mod:`.kernels` (False: the blocked torch
#: evaluation, as on CUDA).
USE_KERNELS = True

#: Sites per block of the blocked torch folded evaluation on CPU: the pair products of one block,
#: S × K × nb (443 × 64 × 16 doubles ≈ 3.6 MB at the paper setting), stay in cache.
#: Measured (1 thread, 256 sites, K = 64, jemalloc): fwd+bwd 92 ms at 16 vs 133 ms for autograd
#: on the whole chunk. On CUDA one block per species run.
BLOCK_SITES = 16


def _site_blocks(runs, n_block):
    """Species runs [(z, start, stop)] → blocks (z, s0, s1) of at most ``n_block`` sites."""
    for z, a, b in runs:
        for s0 in range(a, b, n_block):
            yield z, s0, min(s0 + n_block, b)


class _Workspace:
    """Reused per-block buffers (allocated once per call): writing into the same few MB every
    block keeps them cache-resident; fresh allocations per block measured 2.5× slower."""

    def __init__(self, like, shapes, n_block):
        self.bufs = {k: like.new_empty(int(np.prod(sh)) * n_block) for k, sh in shapes.items()}
        self.shapes = shapes

    def get(self, name, m):
        """Contiguous view (*shape, m) of buffer ``name`` for a block of m sites."""
        sh = self.shapes[name]
        return self.bufs[name][:int(np.prod(sh)) * m].view(*sh, m)


def _workspace(A, S, C1, n_block, R=1):
    D, K, n = A.shape
    nb = min(n_block, n)
    return _Workspace(A, dict(Ab=(D + 1, K), Oa=(S, K), Ob=(S, K), T=(K, R * C1), Ac=(C1, K),
                              tmp=(K, R * C1), Bb=(K, R), tc=(K, C1)), nb)


def _load_block(ws, A, s0, s1):
    """Workspace copy (D+1, K, m) of sites s0:s1 of A (D, K, n), with a row of ones at index D
    (the partner of the ν = 1 'pairs' (i, D))."""
    D = A.shape[0]
    Ab = ws.get("Ab", s1 - s0)
    Ab[:D].copy_(A[:, :, s0:s1])
    Ab[D].fill_(1.0)
    return Ab


def in_threads(fn, items, grad=False):
    """[fn(part) for part in parts]: ``items`` split into ``torch.get_num_threads()``
    interleaved parts, each run by a pool thread with one intra-op thread and grad mode
    ``grad`` (torch ops and the nogil kernels release the GIL). On 2 loaded cores this beats
    OpenMP inside each small op, whose per-op barriers stall when a thread is descheduled.
    Exactly one part per torch thread: mapping the items straight onto the 8-worker pool ran
    up to 8 at once, oversubscribing the cores and multiplying the peak memory."""
    threads = torch.get_num_threads()
    n = min(threads, len(items))
    parts = [items[i::n] for i in range(n)]

    def run(part):  # grad mode and thread counts are per thread
        torch.set_num_threads(1)
        with torch.set_grad_enabled(grad):
            return fn(part)

    try:
        return list(_pool().map(run, parts))
    finally:
        torch.set_num_threads(threads)


def _run_blocks(work, blocks, parallel=True):
    """Run ``work(group)`` without gradients over the site blocks: :func:`in_threads` on CPU
    with more than one torch thread, else serially (with the intra-op threads; CUDA)."""
    if parallel and min(torch.get_num_threads(), len(blocks)) > 1:
        in_threads(work, blocks)
        return
    with torch.no_grad():
        work(blocks)


_POOL = None


def _reset_pool():
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_reset_pool)  # a forked child has none of the threads


def _pool():
    """The process's worker threads for :func:`in_threads`."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mmace-contraction")
    return _POOL


def folded_forward(A, runs, W, xa, xb, xc, n_block, keep_t=False):
    """B (n, K) or (n, K, R) = Σ_c A_c T_c with T = W_z O, O_s = A_{xa_s} A_{xb_s} (ones row
    at index D).

    A (D, K, n); W[z] (K, R·(C+1), S) folded weights of species z for R output rows per
    channel (R = 1: invariants, B (n, K); R = 3: vector components, B (n, K, 3)); xa, xb (S,)
    pair table; xc (C+1,) third-factor components (the last is D: the ν ≤ 2 column). Returns B
    and, with ``keep_t``, T (K, R·(C+1), n) for the backward.
    """
    D, K, n = A.shape
    S, C1 = xa.shape[0], xc.shape[0]
    R = W[0].shape[1] // C1
    B = A.new_empty(n, K, R)
    T = A.new_empty(K, R * C1, n) if keep_t else None

    def work(blocks):
        ws = _workspace(A, S, C1, n_block, R)
        for z, s0, s1 in blocks:
            m = s1 - s0
            Ab = _load_block(ws, A, s0, s1)
            O, Ob, Tb, Ac, tmp, Bb = (ws.get(k, m) for k in ("Oa", "Ob", "T", "Ac", "tmp", "Bb"))
            torch.index_select(Ab, 0, xa, out=O)
            torch.index_select(Ab, 0, xb, out=Ob)
            O.mul_(Ob)  # (S, K, m) pair products
            torch.matmul(W[z], O.transpose(0, 1), out=Tb)  # (K, R(C+1), m)
            torch.index_select(Ab, 0, xc, out=Ac)
            tmp4 = tmp.view(K, R, C1, m)
            torch.mul(Tb.view(K, R, C1, m), Ac.transpose(0, 1)[:, None], out=tmp4)
            torch.sum(tmp4, 2, out=Bb)
            B[s0:s1] = Bb.permute(2, 0, 1)
            if keep_t:
                T[:, :, s0:s1] = Tb

    _run_blocks(work, list(_site_blocks(runs, n if A.is_cuda else n_block)), not A.is_cuda)
    return (B.view(n, K) if R == 1 else B), T


def folded_backward(A, T, gB, runs, WT, xa, xb, xc, n_block):
    """dA (D, K, n) of Σ_{ikr} gB_ikr B_ikr for the polynomial of :func:`folded_forward`.

    gB (n, K) or (n, K, R); WT[z] (K, S, R·(C+1)) transposed folded weights; T from the
    forward. Per block: dA_c += Σ_r g_r T_rc, dO = WT (g_r A_c), dA_a += dO_s A_b,
    dA_b += dO_s A_a.
    """
    D, K, n = A.shape
    S, C1 = xa.shape[0], xc.shape[0]
    R = WT[0].shape[2] // C1
    gB = gB.reshape(n, K, R)
    dA = torch.empty_like(A)

    def work(blocks):
        ws = _workspace(A, S, C1, n_block, R)
        dws = _Workspace(A, dict(dA=(D + 1, K), dOk=(K, S)), min(n_block, n))
        for z, s0, s1 in blocks:
            m = s1 - s0
            Ab = _load_block(ws, A, s0, s1)
            dO, P, dT, Ac, tmp, tc = (ws.get(k, m) for k in ("Oa", "Ob", "T", "Ac", "tmp", "tc"))
            dAb, dOk = dws.get("dA", m), dws.get("dOk", m)
            g = gB[s0:s1].permute(1, 2, 0)[:, :, None, :]  # (K, R, 1, m)
            torch.index_select(Ab, 0, xc, out=Ac)
            torch.mul(Ac.transpose(0, 1)[:, None], g, out=dT.view(K, R, C1, m))  # g_r A_c
            torch.matmul(WT[z], dT, out=dOk)  # (K, S, m)
            dO.copy_(dOk.transpose(0, 1))  # (S, K, m)
            dAb.zero_()
            torch.index_select(Ab, 0, xb, out=P)
            dAb.index_add_(0, xa, P.mul_(dO))
            torch.index_select(Ab, 0, xa, out=P)
            dAb.index_add_(0, xb, P.mul_(dO))
            tmp4 = tmp.view(K, R, C1, m)
            torch.mul(T[:, :, s0:s1].view(K, R, C1, m), g, out=tmp4)
            torch.sum(tmp4, 1, out=tc)  # Σ_r g_r T_rc  (K, C+1, m)
            dAb.index_add_(0, xc, tc.transpose(0, 1))
            dA[:, :, s0:s1] = dAb[:D]

    _run_blocks(work, list(_site_blocks(runs, n if A.is_cuda else n_block)), not A.is_cuda)
    return dA


def channels_inner(A):
    """A (D, K, n) as (flat numpy view, component stride, site stride) for :mod:`.kernels`,
    read in place when its memory has the channels innermost ((D, n, K) or (n, D, K)
    contiguous), else from a site-major copy; also returns the tensor the view belongs to."""
    base = next((b for b in (A.permute(0, 2, 1), A.permute(2, 0, 1)) if b.is_contiguous()),
                None)
    if base is None:
        A = A.permute(2, 0, 1).contiguous().permute(1, 2, 0)
        base = A.permute(2, 0, 1)
    return base.reshape(-1).numpy(), A.stride(0), A.stride(2), A


def kernel_forward(A, runs, csr, xa, xb, xc, n_block=64):
    """B (n, R, K), T (n, R·(C+1), K) and the A actually read, for the folded polynomial of
    A (D, K, n) by the numba kernel :func:`.kernels.folded_forward_sites`; ``csr`` from
    :func:`sparse_folded_weights`."""
    from .kernels import folded_forward_sites

    rowptr, cols, vals = csr[:3]
    D, K, n = A.shape
    flat, sd, si, A = channels_inner(A)
    T = A.new_empty(n, rowptr.shape[0] - 1, K)
    B = A.new_empty(n, (rowptr.shape[0] - 1) // xc.shape[0], K)
    rp, cl, w, ia, ib, ic, t, b = (x.numpy() for x in (rowptr, cols, vals, xa, xb, xc, T, B))

    def work(blocks):
        for z, s0, s1 in blocks:
            folded_forward_sites(flat, sd, si, D, s0, s1, w[z], rp, cl, ia, ib, ic, t, b)

    _run_blocks(work, list(_site_blocks(runs, n_block)))
    return B, T, A


def kernel_backward(A, T, G, runs, csr, xa, xb, xc, n_block=64):
    """dA (D, K, n), in A's memory layout, for the cotangent G (n, R, K) of
    :func:`kernel_forward`'s B (A: the tensor it returned)."""
    from .kernels import folded_backward_sites

    colptr, rows, vals = csr[3:]
    D = A.shape[0]
    flat, sd, si, A = channels_inner(A)
    dA = torch.empty_strided(A.shape, A.stride(), dtype=A.dtype)
    dflat = channels_inner(dA)[0]
    t, g, cp, rw, w, ia, ib, ic = (x.numpy() for x in (T, G, colptr, rows, vals, xa, xb, xc))

    def work(blocks):
        for z, s0, s1 in blocks:
            folded_backward_sites(flat, sd, si, D, t, g, s0, s1, w[z], cp, rw, ia, ib, ic,
                                  dflat)

    _run_blocks(work, list(_site_blocks(runs, n_block)))
    return dA


def _as_output(B):
    """(n, R, K) → (n, K) for R = 1, (n, K, R) otherwise."""
    return B[:, 0] if B.shape[1] == 1 else B.transpose(1, 2)


class FoldedContraction(torch.autograd.Function):
    """B = folded polynomial of A with a hand-written, first-order backward (weights constant).

    apply(A, runs, W, WT, csr, xa, xb, xc, n_block), none requiring grad: either ``csr``, the
    CSR + CSC forms of the folded weights (:func:`sparse_folded_weights`), for the numba kernels
    of :mod:`.kernels` (CPU; W, WT None), or W, WT, tuples of per-species dense folded weights
    (:func:`folded_weights`), for the blocked torch evaluation (:func:`folded_forward`,
    :func:`folded_backward`; CUDA; csr None). Only A and T are saved. The backward is
    ``once_differentiable``: training (create_graph, weight gradients) uses the autograd path
    instead.
    """

    @staticmethod
    def forward(ctx, A, runs, W, WT, csr, xa, xb, xc, n_block):
        ctx.args = (runs, WT, csr, xa, xb, xc, n_block)
        if csr is not None:
            B, T, A_read = kernel_forward(A, runs, csr, xa, xb, xc)
            ctx.save_for_backward(A_read, T)
            return _as_output(B)
        B, T = folded_forward(A, runs, W, xa, xb, xc, n_block, keep_t=True)
        ctx.save_for_backward(A, T)
        return B

    @staticmethod
    @once_differentiable
    def backward(ctx, gB):
        A, T = ctx.saved_tensors
        runs, WT, csr, xa, xb, xc, n_block = ctx.args
        if csr is not None:
            D, K, n = A.shape
            G = gB.reshape(n, K, -1).transpose(1, 2).contiguous()  # (n, R, K)
            return (kernel_backward(A, T, G, runs, csr, xa, xb, xc),) + (None,) * 8
        dA = folded_backward(A, T, gB.contiguous(), runs, WT, xa, xb, xc, n_block)
        return (dA,) + (None,) * 8


def folded_apply(module, A, runs, R):
    """The folded polynomial of A (D, K, n) (already in the coupled basis for SOC) with the
    folded tables of ``module`` and R output rows per channel: through
    :class:`FoldedContraction` when A needs a gradient, else the forward alone (numba kernel
    on CPU, :func:`folded_forward` on CUDA)."""
    if A.is_cuda or not USE_KERNELS:
        (W, WT), csr = folded_weights(module, R), None
    else:  # the kernels read only the sparse forms
        W = WT = None
        csr = sparse_folded_weights(module, R)
    xa, xb, xc = module.xa, module.xb, module.xc
    nb = A.shape[2] if A.is_cuda else BLOCK_SITES
    if torch.is_grad_enabled() and A.requires_grad:
        return FoldedContraction.apply(A, runs, W, WT, csr, xa, xb, xc, nb)
    if csr is not None:
        return _as_output(kernel_forward(A, runs, csr, xa, xb, xc)[0])
    return folded_forward(A, runs, W, xa, xb, xc, nb)[0]


def register_folded(module, spec, nat, R, dtype, persistent):
    """Dense folded tables of a coupling spec on ``module``; returns False (and registers
    nothing) when they would exceed :data:`MAX_FOLDED` entries.

    R output rows per path (1: invariants, 3: vector components; spec rows are R·p + r).
    Buffers: U (rows, S, C+1) and U1 (rows, D) coefficients, fa/fb (S,) pair components, fc
    (C,) third factors, all in natural component order (``persistent`` puts them in the state
    dict); the fast-path tables xa, xb (ν = 1 terms as pairs (i, D) with the ones row D), xc
    (fc + [D]) and lin_idx. Every ν = 3 monomial A_c A_a A_b is written with c its lowest
    block-flat index (spin-even, low-l blocks first), so c runs over few components (16 for
    l_mag = 1).
    """
    (i1, v1, p1), (a2, b2, v2, p2), (a3, b3, c3, v3, p3) = spec.nu1, spec.nu2, spec.nu3
    rows = sum(spec.n_paths)
    low, x, y = (nat[np.asarray(v, dtype=np.int64)] for v in (a3, b3, c3))
    a2, b2, i1 = (nat[np.asarray(v, dtype=np.int64)] for v in (a2, b2, i1))
    pairs = {}
    s2 = [pairs.setdefault(_pair(u, v), len(pairs)) for u, v in zip(a2, b2)]
    s3 = [pairs.setdefault(_pair(u, v), len(pairs)) for u, v in zip(x, y)]
    cset = sorted(set(int(c) for c in low))
    cpos = {c: n for n, c in enumerate(cset)}
    n_s, n_c = len(pairs), len(cset)
    if (rows - spec.n_paths[0]) * n_s * (n_c + 1) > MAX_FOLDED:
        return False
    P1, P2 = spec.n_paths[0], spec.n_paths[1]
    U = np.zeros((rows, n_s, n_c + 1))  # last column: ν = 2 (no third factor)
    np.add.at(U, (P1 + np.asarray(p2, dtype=np.int64), s2, n_c), v2)
    np.add.at(U, (P1 + P2 + np.asarray(p3, dtype=np.int64), s3, [cpos[int(c)] for c in low]),
              v3)
    U1 = np.zeros((rows, spec.dim))
    np.add.at(U1, (np.asarray(p1, dtype=np.int64), i1), v1)
    tensors = dict(U=torch.tensor(U, dtype=dtype), U1=torch.tensor(U1, dtype=dtype),
                   fa=torch.tensor([k[0] for k in pairs], dtype=torch.long),
                   fb=torch.tensor([k[1] for k in pairs], dtype=torch.long),
                   fc=torch.tensor(cset, dtype=torch.long))
    for name, t in tensors.items():
        module.register_buffer(name, t, persistent=persistent)
    lin = np.nonzero(np.abs(U1).sum(0) > 0)[0]
    module.register_buffer("lin_idx", torch.tensor(lin, dtype=torch.long), persistent=False)
    for name, arr in (("xa", [k[0] for k in pairs] + list(lin)),
                      ("xb", [k[1] for k in pairs] + [spec.dim] * len(lin)),
                      ("xc", cset + [spec.dim])):
        module.register_buffer(name, torch.tensor(arr, dtype=torch.long), persistent=False)
    return True


def _cached(module, name, build):
    """``build()``, cached on ``module`` under ``name`` while the weights and tables the folded
    weights derive from are unchanged (keyed on their identity and in-place versions)."""
    key = tuple((t.data_ptr(), t._version, t.dtype, t.device)
                for t in (*module.weights, module.U, module.U1))
    cache = getattr(module, name, None)
    if cache is None or cache[0] != key:
        with torch.no_grad():
            cache = (key, build())
        setattr(module, name, cache)
    return cache[1]


def _dense_folded(module, R):
    """(Z, K, R·(C+1), S') folded weights W[z, k, (r, c), s] = Σ_p w_zpk U^{R p + r}_{s c},
    S' = S + ν = 1 terms (in the last column c = C, with the implicit ones component)."""
    w = module.all_weights().detach()  # (Z, P, K)
    rows, S, C1 = module.U.shape
    U = module.U.view(rows // R, R, S, C1)
    Wz = torch.einsum("prsc,zpk->zkrcs", U, w)  # (Z, K, R, C+1, S)
    U1 = module.U1.view(rows // R, R, -1)[:, :, module.lin_idx]
    lin = torch.einsum("prd,zpk->zkrd", U1, w)  # (Z, K, R, L)
    ext = w.new_zeros(*lin.shape[:3], C1, lin.shape[3])
    ext[:, :, :, -1] = lin
    return torch.cat([Wz, ext], dim=4).flatten(2, 3)


def folded_weights(module, R):
    """Per species (W (K, R·(C+1), S'), Wᵀ (K, S', R·(C+1))) of the blocked torch path
    (:func:`_dense_folded`); cached (:func:`_cached`)."""
    def build():
        W = _dense_folded(module, R)
        return tuple(W.contiguous()), tuple(W.transpose(2, 3).contiguous())
    return _cached(module, "_fold_cache", build)


def sparse_folded_weights(module, R):
    """Sparse forms of the folded weights for :mod:`.kernels`: CSR (rowptr (R·(C+1)+1,),
    cols (nnz,), values (Z, nnz, K)) and CSC (colptr (S'+1,), rows (nnz,), values), over the
    union of the species' and channels' nonzero patterns (≈ 10 % of the dense tensor at
    l_pos 3, l_mag 1); cached (:func:`_cached`)."""
    def build():
        W = _dense_folded(module, R)  # (Z, K, R(C+1), S')
        mask = (W != 0).any(0).any(0)
        out = []
        for m in (mask, mask.T):  # CSR (forward), then CSC (backward)
            major, minor = torch.nonzero(m, as_tuple=True)
            ptr = torch.zeros(m.shape[0] + 1, dtype=torch.long)
            ptr[1:] = torch.cumsum(torch.bincount(major, minlength=m.shape[0]), 0)
            rc = (major, minor) if m is mask else (minor, major)
            out += [ptr, minor.contiguous(),
                    W[:, :, rc[0], rc[1]].transpose(1, 2).contiguous()]
        return tuple(out)
    return _cached(module, "_csr_cache", build)
