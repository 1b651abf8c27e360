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

The folded fast path (weights folded into the tensors, hand-written backward, numba kernels
on CPU) is in :mod:`.folded`.
"""

from __future__ import annotations

import numpy as np
import torch

from .coupling import build_coupling, build_vector_coupling, coupled_basis, make_blocks
from .folded import _pair, folded_apply, register_folded


def natural_order(l_pos, l_mag):
    """Block-flat index → natural index (lm)·(l_mag+1)² + (l'm') used by the model's A layout."""
    Dm = (l_mag + 1) ** 2
    perm = []
    for b in make_blocks(l_pos, l_mag):
        for m in range(2 * b.l + 1):
            for mp in range(2 * b.lp + 1):
                perm.append((b.l ** 2 + m) * Dm + b.lp ** 2 + mp)
    return np.array(perm, dtype=np.int64)


def coupled_rotation(l_pos, l_mag, dtype):
    """(D, D) block-diagonal change to the coupled J basis (SOC), in natural component order."""
    nat = natural_order(l_pos, l_mag)
    dim = len(nat)
    rot = np.zeros((dim, dim))
    for b in make_blocks(l_pos, l_mag):
        sl = nat[b.offset:b.offset + b.size]
        rot[np.ix_(sl, sl)] = coupled_basis(b)
    return torch.tensor(rot, dtype=dtype)


def rotate_to_coupled(module, A):
    """(D, K, n) → coupled J basis for SOC (one D×D product), unchanged otherwise."""
    if not module.spin_orbit:
        return A
    D, K, n = A.shape
    return (module.rot.T @ A.reshape(D, K * n)).view(D, K, n)


def register_sparse(module, i1, v1, p1, a2, b2, v2, p2, a3, b3, c3, v3, p3, dtype):
    """Buffers of the sparse evaluation (:func:`sparse_polynomials`) on ``module``: component
    indices in natural order, coefficients and output rows of the ν = 1, 2, 3 entries, with
    the pair products shared between ν = 2 and ν = 3."""
    pairs = {}
    s2 = [pairs.setdefault(_pair(x, y), len(pairs)) for x, y in zip(a2, b2)]
    s3 = [pairs.setdefault(_pair(x, y), len(pairs)) for x, y in zip(a3, b3)]
    arrays = dict(i1=i1, p1=p1, pa=[k[0] for k in pairs], pb=[k[1] for k in pairs], s2=s2,
                  p2=p2, s3=s3, c3=c3, p3=p3)
    for name, arr in arrays.items():
        module.register_buffer(name, torch.tensor(np.asarray(arr), dtype=torch.long))
    for name, arr in (("v1", v1), ("v2", v2), ("v3", v3)):
        module.register_buffer(name, torch.tensor(np.asarray(arr), dtype=dtype))


def sparse_polynomials(module, A):
    """(D, K, n) (already in the coupled basis for SOC) → (R, K, n), R = Σ module.n_paths:
    row r = Σ_entries U A_a [A_b [A_c]] over the entries whose output row is r (autograd)."""
    D, K, n = A.shape
    At = A.reshape(D, K * n)
    n1, n2, n3 = module.n_paths
    out = [At.new_zeros(n1, K * n).index_add(
        0, module.p1, At.index_select(0, module.i1) * module.v1[:, None])]
    if n2 or n3:
        O = At.index_select(0, module.pa) * At.index_select(0, module.pb)
        if n2:
            src = O.index_select(0, module.s2) * module.v2[:, None]
            out.append(At.new_zeros(n2, K * n).index_add(0, module.p2, src))
        if n3:
            src = O.index_select(0, module.s3) * At.index_select(0, module.c3) * module.v3[:, None]
            out.append(At.new_zeros(n3, K * n).index_add(0, module.p3, src))
    return torch.cat(out, dim=0).view(-1, K, n)


class _WeightedPolynomial(torch.nn.Module):
    """What the scalar and vector contractions share: species weights ``weights[ν]``
    (n_species, P_ν, K) and the choice between the folded fast path and autograd."""

    #: whether grad-mode evaluations must keep the weights in the autograd graph (training)
    train_weights = True

    def all_weights(self):
        return torch.cat(list(self.weights), dim=1)  # (Z, P, K)

    def use_fast_path(self):
        """Fast path unless gradients may flow into the weights: grad mode on and
        ``self.train_weights`` (set False by ``MagneticMACE.energy_and_derivatives`` without
        create_graph)."""
        return self.folded and (not torch.is_grad_enabled() or not self.train_weights)


class VectorContraction(_WeightedPolynomial):
    """A (D, K, n) → V (n, K, 3): per-channel body-ordered polar vectors (hidden 1o features),

        V_{ik,μ} = Σ_ν Σ_p w^{(ν)}_{z_i p k} Σ_{a ≤ b ≤ …} U^{(ν)p,μ}_{a b …} A_{ika} A_{ikb} …,

    the equivariant counterpart of :class:`SymmetricContraction` (U from
    :func:`~.coupling.build_vector_coupling`; μ in e3nn's real l = 1 basis). ``weights[ν]``:
    (n_species, P_ν, K). Two evaluations of the same polynomial (tested equal): the folded
    fast path of :class:`SymmetricContraction` with three output rows per channel (forces and
    energies without weight gradients; the tables are derived, not saved), and sparse autograd
    (training, and SOC, whose folded tables exceed :data:`.folded.MAX_FOLDED`).
    """

    def __init__(self, l_pos, l_mag, correlation, spin_orbit, channels, n_species, generator,
                 dtype):
        super().__init__()
        spec = build_vector_coupling(l_pos, l_mag, correlation, spin_orbit)
        self.spin_orbit = spin_orbit
        self.n_paths = spec.n_paths  # rows 3·p + μ
        if spin_orbit:
            self.register_buffer("rot", coupled_rotation(l_pos, l_mag, dtype))
        nat = natural_order(l_pos, l_mag)
        (i1, v1, p1), (a2, b2, v2, p2), (a3, b3, c3, v3, p3) = spec.nu1, spec.nu2, spec.nu3
        register_sparse(self, nat[i1], v1, p1, nat[a2], nat[b2], v2, p2, nat[a3], nat[b3],
                        nat[c3], v3, p3, dtype)
        self.folded = register_folded(self, spec, nat, 3, dtype, persistent=False)
        self.weights = torch.nn.ParameterList()
        for rows in spec.n_paths:
            n_p = rows // 3
            w = torch.randn(n_species, n_p, channels, generator=generator, dtype=torch.float64)
            self.weights.append(torch.nn.Parameter((w / max(n_p, 1) ** 0.5).to(dtype)))

    def forward(self, A: torch.Tensor, runs) -> torch.Tensor:
        """(D, K, n) and species runs [(z, start, stop)] of the site axis → V (n, K, 3)."""
        D, K, n = A.shape
        if self.use_fast_path():
            return folded_apply(self, rotate_to_coupled(self, A), runs, 3)
        poly = sparse_polynomials(self, rotate_to_coupled(self, A)).view(-1, 3, K, n)
        w = self.all_weights()  # (Z, P, K)
        return torch.cat([torch.einsum("pukn,pk->nku", poly[..., a:b], w[z])
                          for z, a, b in runs], dim=0)


class SymmetricContraction(_WeightedPolynomial):
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
        if spin_orbit:
            self.register_buffer("rot", coupled_rotation(l_pos, l_mag, dtype))
        i1, v1, p1 = spec.nu1
        a2, b2, v2, p2 = spec.nu2
        a3, b3, c3, v3, p3 = spec.nu3
        self.folded = register_folded(self, spec, nat, 1, dtype, persistent=True)
        i1, a2, b2, a3, b3, c3 = (nat[x] for x in (i1, a2, b2, a3, b3, c3))
        register_sparse(self, i1, v1, p1, a2, b2, v2, p2, a3, b3, c3, v3, p3, dtype)
        self.weights = torch.nn.ParameterList()
        for n_p in spec.n_paths:
            w = torch.randn(n_species, n_p, channels, generator=generator, dtype=torch.float64)
            self.weights.append(torch.nn.Parameter((w / max(n_p, 1) ** 0.5).to(dtype)))

    @property
    def n_features(self):
        return sum(self.n_paths)

    def _rotate(self, A):
        return rotate_to_coupled(self, A)

    def invariants(self, A: torch.Tensor) -> torch.Tensor:
        """(D, K, n) → (P, K, n) unweighted invariants of order 1, 2, 3 stacked (sparse path)."""
        return sparse_polynomials(self, self._rotate(A))

    def forward(self, A: torch.Tensor, runs) -> torch.Tensor:
        """(D, K, n) and species runs [(z, start, stop)] of the site axis → B (n, K)."""
        if self.use_fast_path():
            return folded_apply(self, self._rotate(A), runs, 1)
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
