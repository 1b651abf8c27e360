"""Symmetric contraction of the magnetic atomic basis to invariant features.

For every site i and channel k the atomic basis A_{ik} is a vector over D = (l_pos+1)²(l_mag+1)²
components (see :mod:`.coupling`). The contraction (Batatia et al., NeurIPS 2022, eq. 10; Ho et
al., arXiv 2604.08143, eq. 9) is

    B_{ik} = Σ_ν Σ_p w^{(ν)}_{z_i p k} Σ_{a ≤ b ≤ …} U^{(ν)p}_{a b …} A_{ika} A_{ikb} …

with ν ≤ 3. A dense D³ generalised-CG contraction per channel would cost ~0.5 MFLOP per (site,
channel); here the sparse invariant tensors are evaluated as

    O_s    = A_{a_s} A_{b_s}                    pair products actually used (≈ 530 for D = 64)
    I^2_p  = Σ_{s∈p} U_s O_s                    (index_add)
    I^3_p  = Σ_{(s,c)∈p} U_{sc} O_s A_c         (gather, multiply, index_add)

in a (component, site·channel) layout so that every gather is a contiguous row copy; cost ≈ 3 nnz
(≈ 2200 for the non-SOC l_mag = 1 model) multiply-adds per (site, channel). For SOC the atomic
basis is first rotated block-wise to the coupled J basis (one small matrix per block), where the
invariants are sparse 3j symbols.
"""

from __future__ import annotations

import numpy as np
import torch

from .coupling import build_coupling, coupled_basis, make_blocks


def natural_order(l_pos, l_mag):
    """Block-flat index → natural index (lm)·(l_mag+1)² + (l'm') used by the model's A layout."""
    Dm = (l_mag + 1) ** 2
    perm = []
    for b in make_blocks(l_pos, l_mag):
        for m in range(2 * b.l + 1):
            for mp in range(2 * b.lp + 1):
                perm.append((b.l ** 2 + m) * Dm + b.lp ** 2 + mp)
    return np.array(perm, dtype=np.int64)


def _pair(u, v):
    """Unordered pair key of two component indices."""
    return (min(int(u), int(v)), max(int(u), int(v)))


#: Largest dense folded tensor (paths × pairs × third indices) before falling back to sparse.
MAX_FOLDED = 4_000_000


class SymmetricContraction(torch.nn.Module):
    """A (D, K, n) → B (n, K): per-channel body-ordered invariants mixed by species weights.

    ``A`` is laid out (component, channel, site) with components in the model's natural order
    (lm, l'm'). Parameters: ``weights[ν]`` of shape (n_species, P_ν, K).

    Two evaluations of the same polynomial (tested equal):

    * folded (default when small): weights are folded into the invariant tensors once per call,
      W_{zk}[s, c] = Σ_p w_{zpk} U^p_{s c}, with every monomial A_c A_a A_b written with c its
      lowest index (so c runs over few components: 16 for l_mag = 1). Then
      B_{ik} = Σ_c A_c (Σ_s W_{zk}[s,c] O_s) + Σ_s W2_{zk}[s] O_s + Σ_a W1_{zk}[a] A_a
      is one batched GEMM per species run over the pair products O_s = A_a A_b.
    * sparse (``invariants``): unweighted I_p for linear fits and for large l_mag.
    """

    def __init__(self, l_pos, l_mag, correlation, spin_orbit, channels, n_species, generator,
                 dtype):
        super().__init__()
        spec = build_coupling(l_pos, l_mag, correlation, spin_orbit)
        self.spin_orbit = spin_orbit
        self.dim = spec.dim
        self.n_paths = spec.n_paths
        self.labels = spec.labels
        nat = natural_order(l_pos, l_mag)
        blocks = make_blocks(l_pos, l_mag)
        if spin_orbit:  # block-diagonal change to the coupled J basis, in natural order
            rot = np.zeros((spec.dim, spec.dim))
            for b in blocks:
                sl = nat[b.offset:b.offset + b.size]
                rot[np.ix_(sl, sl)] = coupled_basis(b)
            self.register_buffer("rot", torch.tensor(rot, dtype=dtype))
        i1, v1, p1 = spec.nu1
        a2, b2, v2, p2 = spec.nu2
        a3, b3, c3, v3, p3 = spec.nu3
        self._nat = nat
        self._init_folded(spec, nat[i1], v1, p1, nat[a2], nat[b2], v2, p2, a3, b3, c3, v3, p3,
                          dtype)
        i1, a2, b2, a3, b3, c3 = (nat[x] for x in (i1, a2, b2, a3, b3, c3))
        self._init_sparse(i1, v1, p1, a2, b2, v2, p2, a3, b3, c3, v3, p3, dtype)
        del self._nat
        self.weights = torch.nn.ParameterList()
        for n_p in spec.n_paths:
            w = torch.randn(n_species, n_p, channels, generator=generator, dtype=torch.float64)
            self.weights.append(torch.nn.Parameter((w / max(n_p, 1) ** 0.5).to(dtype)))

    def _init_sparse(self, i1, v1, p1, a2, b2, v2, p2, a3, b3, c3, v3, p3, dtype):
        pairs = {}
        s2 = [pairs.setdefault(_pair(x, y), len(pairs)) for x, y in zip(a2, b2)]
        s3 = [pairs.setdefault(_pair(x, y), len(pairs)) for x, y in zip(a3, b3)]
        arrays = dict(i1=i1, p1=p1, pa=[k[0] for k in pairs], pb=[k[1] for k in pairs], s2=s2,
                      p2=p2, s3=s3, c3=c3, p3=p3)
        for name, arr in arrays.items():
            self.register_buffer(name, torch.tensor(np.asarray(arr), dtype=torch.long))
        for name, arr in (("v1", v1), ("v2", v2), ("v3", v3)):
            self.register_buffer(name, torch.tensor(arr, dtype=dtype))

    def _init_folded(self, spec, i1, v1, p1, a2, b2, v2, p2, a3, b3, c3, v3, p3, dtype):
        """Dense U tensors for the folded evaluation, or none when they would be too large."""
        P1, P2, P3 = spec.n_paths
        # block-flat a3 ≤ b3 ≤ c3 (spin-even, low-l blocks first): the lowest is the third
        # factor c of the monomial, so c runs over few components; then map to natural order
        low, x, y = (self._nat[v] for v in (a3, b3, c3))
        pairs = {}
        s2 = [pairs.setdefault(_pair(u, v), len(pairs)) for u, v in zip(a2, b2)]
        s3 = [pairs.setdefault(_pair(u, v), len(pairs)) for u, v in zip(x, y)]
        cset = sorted(set(int(c) for c in low))
        cpos = {c: n for n, c in enumerate(cset)}
        n_s, n_c = len(pairs), len(cset)
        self.folded = (P2 + P3) * n_s * (n_c + 1) <= MAX_FOLDED
        if not self.folded:
            return
        U = np.zeros((P1 + P2 + P3, n_s, n_c + 1))  # last column: ν = 2 (no third factor)
        np.add.at(U, (P1 + p2, s2, n_c), v2)
        np.add.at(U, (P1 + P2 + p3, s3, [cpos[int(c)] for c in low]), v3)
        U1 = np.zeros((P1 + P2 + P3, self.dim))
        np.add.at(U1, (p1, i1), v1)
        self.register_buffer("U", torch.tensor(U, dtype=dtype))
        self.register_buffer("U1", torch.tensor(U1, dtype=dtype))
        self.register_buffer("fa", torch.tensor([k[0] for k in pairs], dtype=torch.long))
        self.register_buffer("fb", torch.tensor([k[1] for k in pairs], dtype=torch.long))
        self.register_buffer("fc", torch.tensor(cset, dtype=torch.long))

    @property
    def n_features(self):
        return sum(self.n_paths)

    def _rotate(self, A):
        """(D, K, n) → coupled J basis for SOC (one D×D product), unchanged otherwise."""
        if not self.spin_orbit:
            return A
        D, K, n = A.shape
        return (self.rot.T @ A.reshape(D, K * n)).view(D, K, n)

    def invariants(self, A: torch.Tensor) -> torch.Tensor:
        """(D, K, n) → (P, K, n) unweighted invariants of order 1, 2, 3 stacked (sparse path)."""
        D, K, n = A.shape
        At = self._rotate(A).reshape(D, K * n)
        out = [At.new_zeros(self.n_paths[0], K * n).index_add(
            0, self.p1, At.index_select(0, self.i1) * self.v1[:, None])]
        if self.n_paths[1] or self.n_paths[2]:
            O = At.index_select(0, self.pa) * At.index_select(0, self.pb)
            if self.n_paths[1]:
                src = O.index_select(0, self.s2) * self.v2[:, None]
                out.append(At.new_zeros(self.n_paths[1], K * n).index_add(0, self.p2, src))
            if self.n_paths[2]:
                src = O.index_select(0, self.s3) * At.index_select(0, self.c3) * self.v3[:, None]
                out.append(At.new_zeros(self.n_paths[2], K * n).index_add(0, self.p3, src))
        return torch.cat(out, dim=0).view(-1, K, n)

    def all_weights(self):
        return torch.cat(list(self.weights), dim=1)  # (Z, P, K)

    def forward(self, A: torch.Tensor, runs) -> torch.Tensor:
        """(D, K, n) and species runs [(z, start, stop)] of the site axis → B (n, K)."""
        w = self.all_weights()
        if not self.folded:
            inv = self.invariants(A)  # (P, K, n)
            return torch.cat([torch.einsum("pkn,pk->nk", inv[:, :, a:b], w[z])
                              for z, a, b in runs], dim=0)
        A = self._rotate(A)
        # index_select (backward: index_add) rather than advanced indexing (index_put accumulate)
        O = A.index_select(0, self.fa) * A.index_select(0, self.fb)  # (S, K, n)
        Ac = A.index_select(0, self.fc)  # (C, K, n)
        out = []
        for z, a, b in runs:
            Wz = torch.einsum("psc,pk->kcs", self.U, w[z])  # (K, C+1, S)
            T = torch.bmm(Wz, O[:, :, a:b].transpose(0, 1))  # (K, C+1, n_z)
            lin = torch.einsum("pd,pk->kd", self.U1, w[z])  # (K, D)
            Bz = ((T[:, :-1] * Ac[:, :, a:b].transpose(0, 1)).sum(1) + T[:, -1]
                  + torch.einsum("kd,dkn->kn", lin, A[:, :, a:b]))
            out.append(Bz.T)
        return torch.cat(out, dim=0)
