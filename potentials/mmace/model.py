"""The magnetic MACE model (Ho et al., arXiv 2604.08143; MACE: Batatia et al., NeurIPS 2022).

Site energy (eV) of site i with species z_i and moment m_i (μB):

    E_i = E0_z + Σ_q c_{zq} (T_q(x_i) − 1) + κ_z (|m_i| − m_max,z)_+³ + Σ_t readout_t(B_i^{(t)})

where x_i = 1 − 2 ũ(|m_i|²/m_max²) (``basis.chebyshev_magnitude_basis``), the one-body term
vanishes at m = 0, the wall (κ = ``wall_strength`` eV/μB³) confines |m| beyond the fitted range,
and B^{(t)} are the per-channel invariants of layer t:

    A^{(t)}_{i,k,(lm),(l'm')} = (1/n̄) Σ_j R^{(t)}_{k l l'}(r_ij, |m_j|, z_j) Y_lm(r̂_ij) S_l'm'(m_j) ⋯
                                + δ_{l0} Σ_r w^{self}_{z_i l' r k} T_r(|m_i|) S_l'm'(m_i)
    B^{(t)}_{ik}                = symmetric contraction of A^{(t)}_{ik} to body order ν ≤ 3.

Layer 0 (species-only node features): R_{kll'}(r, |m_j|, z_j) = Σ_{q r} W_{(q z r), k}^{ll'} ρ_q(r) T_r(|m_j|)
  — the joint radial × magnitude function of the paper, of rank Q·(n_mag+1) per species.
Layer t ≥ 1: the sender carries h^{(t)}_{jk} φ_{k l'}(|m_j|), with φ linear in T(|m_j|), and
  R_{kll'}(r) = Σ_q W_{qk}^{ll'} ρ_q(r).
ρ_q(r) = MLP(Bessel(r)) × envelope(r) (Q = n_bessel outputs). Node update h^{(t+1)} = B^{(t)} W_h
(+ h^{(t)} for t ≥ 1). Readouts are linear in B^{(t)}, and an MLP (``readout_hidden`` > 0) on
the last layer. With ``vector_channels`` (hidden irreps K x 0e + K x 1o) layers also pass polar
vectors v^{(t+1)} = V^{(t)} W_v (+ v^{(t)}), V^{(t)} the equivariant vector contraction of
A^{(t)}, which enter the next layer's A as [Y_l(r̂_ij) ⊗ v_j]_{l±1} (:meth:`vector_messages`).

Cost organisation (see docs/mmace.md): the atomic basis is one batched matrix product per site,
X_i = P_iᵀ G_i with P_ij = ρ(r_ij) ⊗ Y(r̂_ij) (Q·(l_pos+1)² per edge) and G_j the sender's
moment features (computed once per atom), followed by one small GEMM per (l, l') block — the
per-edge channel × (lm) × (l'm') tensor is never formed. Receivers are processed in chunks.
Forces etc. without ``create_graph`` use the contraction's hand-written backward
(:class:`~.folded.FoldedContraction`) and keep the chunks' activations unless they would
exceed ``activation_budget`` (then, and always when training, chunks are checkpointed:
recomputed in the backward pass), so peak memory is O(N · neighbours) with a small constant.
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from .basis import (bessel_basis, chebyshev_magnitude_basis, edge_harmonics, polynomial_envelope,
                    solid_harmonics)
from .contraction import SymmetricContraction, VectorContraction
from .coupling import _w3j, make_blocks
from .folded import in_threads


#: Default memory for saved activations of one layer before chunks are checkpointed (bytes).
ACTIVATION_BUDGET = 1.0e9


def _map_chunks(jobs):
    """[(fn, args)] → [fn(*args)], run by :func:`~.folded.in_threads` (grad mode carried over;
    autograd graphs built in the workers are differentiated as usual by the caller)."""
    if torch.get_num_threads() <= 1:
        return [fn(*args) for fn, args in jobs]

    def run(part):
        return [(k, jobs[k][0](*jobs[k][1])) for k in part]

    parts = in_threads(run, list(range(len(jobs))), torch.is_grad_enabled())
    done = dict(pair for part in parts for pair in part)
    return [done[k] for k in range(len(jobs))]


def _param(shape, gen, dtype, scale=1.0):
    w = torch.randn(*shape, generator=gen, dtype=torch.float64) * scale
    return torch.nn.Parameter(w.to(dtype))


class MagneticMACE(torch.nn.Module):
    """Magnetic MACE energy model E(R, cell, m); see the module docstring for the equations.

    Parameters
    ----------
    species : sequence of atomic numbers the model knows.
    channels : K, number of scalar channels (hidden irreps K x 0e).
    vector_channels : 0 or K: also K polar-vector channels (hidden irreps K x 0e + K x 1o,
        the paper's pre-training setting); needs n_layers ≥ 2 (vectors are passed between
        layers, see :meth:`vector_messages`).
    n_layers : message-passing layers (receptive field n_layers · r_max).
    correlation : body order ν ∈ {1, 2, 3} of the symmetric contraction.
    r_max : cutoff radius, Å.   l_pos_max / l_mag_max : spatial / spin degrees.
    n_bessel : Bessel functions (and learned radial functions Q).   n_mag_basis : Chebyshev T_1..T_n.
    m_max : float or {Z: float}, μB, range of the magnitude basis per element.
    spin_orbit : True → invariant only under joint rotations (SOC); False → also under
        independent rotations of all moments.
    radial_hidden : width of the radial MLP's hidden layer (0 → ρ = Bessel × envelope).
    readout_hidden : width of the last layer's readout MLP (0 → linear readout).
    avg_num_neighbors : n̄ normalising the neighbour sums.
    wall_strength : κ, eV/μB³, of the saturation wall beyond m_max.
    chunk_size : receivers per chunk (memory bound); with gradients chunks are checkpointed
        when there is more than one.
    seed : seeds the random initial weights (torch.Generator).
    """

    def __init__(self, species, channels=64, n_layers=1, correlation=3, r_max=5.0, l_pos_max=3,
                 l_mag_max=1, n_bessel=8, n_mag_basis=8, m_max=3.0, spin_orbit=False,
                 radial_hidden=64, readout_hidden=16, avg_num_neighbors=20.0, wall_strength=1.0,
                 chunk_size=256, seed=0, dtype=torch.float64, device="cpu", vector_channels=0):
        super().__init__()
        species = [int(z) for z in species]
        if len(set(species)) != len(species) or not species:
            raise ValueError(f"species must be a non-empty list of distinct atomic numbers: {species}")
        if isinstance(m_max, dict):
            missing = set(species) - set(int(z) for z in m_max)
            if missing:
                raise ValueError(f"m_max has no value for elements {sorted(missing)}")
            mm = [float(m_max[z]) for z in species]
        else:
            mm = [float(m_max)] * len(species)
        if min(mm) <= 0:
            raise ValueError("m_max must be positive")
        if not 0 <= l_mag_max <= 3 or not 0 <= l_pos_max <= 4 or n_layers < 1:
            raise ValueError("need 0 ≤ l_mag_max ≤ 3, 0 ≤ l_pos_max ≤ 4, n_layers ≥ 1")
        if vector_channels not in (0, channels) or (vector_channels and n_layers < 2):
            raise ValueError(f"vector_channels must be 0 or channels ({channels}) and needs "
                             f"n_layers ≥ 2; got {vector_channels} with {n_layers} layer(s)")
        self.config = dict(species=species, channels=channels, n_layers=n_layers,
                           correlation=correlation, r_max=float(r_max), l_pos_max=l_pos_max,
                           l_mag_max=l_mag_max, n_bessel=n_bessel, n_mag_basis=n_mag_basis,
                           m_max=dict(zip(species, mm)), spin_orbit=bool(spin_orbit),
                           radial_hidden=radial_hidden, readout_hidden=readout_hidden,
                           avg_num_neighbors=float(avg_num_neighbors),
                           wall_strength=float(wall_strength), chunk_size=chunk_size, seed=seed)
        if vector_channels:  # key absent for scalar models: their checkpoints are unchanged
            self.config["vector_channels"] = int(vector_channels)
        self.species = species
        self.species_index = {z: n for n, z in enumerate(species)}
        self.K, self.T, self.r_max = channels, n_layers, float(r_max)
        self.l_pos, self.l_mag, self.spin_orbit = l_pos_max, l_mag_max, bool(spin_orbit)
        self.Q, self.R = n_bessel, n_mag_basis + 1
        self.chunk_size = chunk_size
        self.vector = bool(vector_channels)
        self.activation_budget = ACTIVATION_BUDGET
        self.blocks = make_blocks(l_pos_max, l_mag_max)
        Z, K, Q, R = len(species), channels, n_bessel, self.R
        gen = torch.Generator().manual_seed(int(seed))
        self.register_buffer("m_max", torch.tensor(mm, dtype=dtype))
        self.register_buffer("e0", torch.zeros(Z, dtype=dtype))
        self.register_buffer("onebody", torch.zeros(Z, n_mag_basis, dtype=dtype))
        self.register_buffer("wall", torch.full((Z,), float(wall_strength), dtype=dtype))
        self.register_buffer("scale", torch.ones((), dtype=dtype))
        self.register_buffer("inv_avg", torch.tensor(1.0 / avg_num_neighbors, dtype=dtype))
        self.radial = torch.nn.ModuleList()
        self.w_block, self.w_self, self.w_phi, self.contractions = (
            torch.nn.ParameterList(), torch.nn.ParameterList(), torch.nn.ParameterList(),
            torch.nn.ModuleList())
        self.w_h, self.w_out = torch.nn.ParameterList(), torch.nn.ParameterList()
        self.vcontractions, self.w_v = torch.nn.ModuleList(), torch.nn.ParameterList()
        self.w_vblock, self.w_vphi = torch.nn.ParameterList(), torch.nn.ParameterList()
        self.vector_paths = vector_message_paths(l_pos_max) if self.vector else []
        for n, (l, L) in enumerate(self.vector_paths):
            cg = torch.tensor(_w3j(l, 1, L), dtype=dtype)
            self.register_buffer(f"vector_cg_{n}", cg * math.sqrt(2 * L + 1), persistent=False)
        for t in range(n_layers):
            rad = torch.nn.ParameterList()
            if radial_hidden:
                rad.append(_param((n_bessel, radial_hidden), gen, dtype, 1 / math.sqrt(n_bessel)))
                rad.append(_param((radial_hidden, Q), gen, dtype, 1 / math.sqrt(radial_hidden)))
            self.radial.append(rad)
            fan = Q * Z * R if t == 0 else Q
            shape = (len(self.blocks), fan, K) if t == 0 else (len(self.blocks), Q, K)
            self.w_block.append(_param(shape, gen, dtype, 1 / math.sqrt(fan)))
            self.w_self.append(_param((Z, l_mag_max + 1, R, K), gen, dtype, 1 / math.sqrt(R)))
            if t > 0:
                self.w_phi.append(_param((l_mag_max + 1, R, K), gen, dtype, 1 / math.sqrt(R)))
            self.contractions.append(SymmetricContraction(
                l_pos_max, l_mag_max, correlation, spin_orbit, K, Z, gen, dtype))
            self.w_h.append(_param((K, K), gen, dtype, 1 / math.sqrt(K)))
            self.w_out.append(_param((K,), gen, dtype, 1 / math.sqrt(K)))
            if self.vector and t < n_layers - 1:
                self.vcontractions.append(VectorContraction(
                    l_pos_max, l_mag_max, correlation, spin_orbit, K, Z, gen, dtype))
                self.w_v.append(_param((K, K), gen, dtype, 1 / math.sqrt(K)))
            if self.vector and t > 0:
                shape = (len(self.vector_paths), l_mag_max + 1, Q, K)
                self.w_vblock.append(_param(shape, gen, dtype, 1 / math.sqrt(Q)))
                self.w_vphi.append(_param((l_mag_max + 1, R, K), gen, dtype, 1 / math.sqrt(R)))
        self.readout_mlp = torch.nn.ParameterList()
        if readout_hidden:
            self.readout_mlp.append(_param((K, readout_hidden), gen, dtype, 1 / math.sqrt(K)))
            self.readout_mlp.append(_param((readout_hidden,), gen, dtype,
                                           1 / math.sqrt(readout_hidden)))
        self.to(device)

    # ------------------------------------------------------------------ one-particle pieces
    @property
    def dtype(self):
        return self.m_max.dtype

    @property
    def device(self):
        return self.m_max.device

    @property
    def receptive_field(self):
        return self.T * self.r_max

    def moment_features(self, moments, species):
        """(n,3), (n,) → T (n, R) magnitude basis incl. T_0 = 1, S (n, Dm) solid harmonics."""
        return (chebyshev_magnitude_basis(moments, self.m_max[species], self.R - 1),
                solid_harmonics(moments, self.l_mag))

    def one_body(self, moments, species):
        """(n,3), (n,) → (n,) E0_z + Σ_q c_zq (T_q(x) − 1) + κ_z (|m| − m_max)_+³, eV."""
        T, _ = self.moment_features(moments, species)
        e = self.e0[species] + ((T[:, 1:] - 1.0) * self.onebody[species]).sum(-1)
        mm = self.m_max[species]
        over = torch.clamp((moments * moments).sum(-1) - mm * mm, min=0.0)
        return e + self.wall[species] * (torch.sqrt(mm * mm + over) - mm) ** 3

    def set_one_body(self, z, coefficients=None, e0=None):
        """Set the one-body parameters of element ``z``: c_z (n_mag_basis,) and/or E0_z (eV).

        These are plain buffers, meant to be set by a regularised least-squares fit.
        """
        n = self.species_index[int(z)]
        with torch.no_grad():
            if coefficients is not None:
                c = torch.as_tensor(coefficients, dtype=self.dtype, device=self.device)
                if c.shape != self.onebody[n].shape:
                    raise ValueError(f"one-body coefficients must have shape "
                                     f"{tuple(self.onebody[n].shape)}, got {tuple(c.shape)}")
                self.onebody[n] = c
            if e0 is not None:
                self.e0[n] = float(e0)

    def radial_functions(self, t, r):
        """(…,) Å → (…, Q) learned radial functions ρ_q(r) (Bessel → MLP) × envelope."""
        b = bessel_basis(r, self.r_max, self.Q)
        rad = self.radial[t]
        if len(rad):
            b = torch.nn.functional.silu(b @ rad[0]) @ rad[1]
        return b * polynomial_envelope(r, self.r_max)[..., None]

    def sender_table(self, t, species, T, S, h=None):
        """Per-atom sender features of layer t: (n, F). Layer 0: one-hot(z) ⊗ T ⊗ S;
        layer t ≥ 1: rows (l'm', k) of h_k φ_{kl'}(|m|) S_l'm'(m), then for vector models
        rows (μ, l'm', k) of v_{kμ} φ^v_{kl'}(|m|) S_l'm'(m) (node features h = [h | v],
        :meth:`node_update`)."""
        n = T.shape[0]
        if t == 0:
            ts = (T[:, :, None] * S[:, None, :]).reshape(n, 1, -1)
            onehot = torch.nn.functional.one_hot(species, len(self.species)).to(T.dtype)
            return (onehot[:, :, None] * ts).reshape(n, -1)
        scal = (h[:, None, :self.K] * self._phi(self.w_phi[t - 1], T) * S[:, :, None])
        if not self.vector:
            return scal.reshape(n, -1)
        v = h[:, self.K:].view(n, 3, 1, self.K)
        vec = v * (self._phi(self.w_vphi[t - 1], T) * S[:, :, None])[:, None]  # (n, μ, l'm', k)
        return torch.cat([scal.reshape(n, -1), vec.reshape(n, -1)], dim=1)

    def _phi(self, w, T):
        """(l_mag+1, R, K) weights, T (n, R) → φ_{kl'}(|m|) repeated over m': (n, Dm, K)."""
        phi = torch.einsum("nr,prk->npk", T, w)
        reps = torch.tensor([2 * lp + 1 for lp in range(self.l_mag + 1)], device=T.device)
        return torch.repeat_interleave(phi, reps, dim=1)

    # ------------------------------------------------------------------ one layer on receivers
    def _expanded_block_weights(self, t):
        """Per-component weights in natural (lm, l'm') order: (L·Dm, K, F) from the block ones."""
        idx = self._component_block
        return self.w_block[t][idx].transpose(1, 2)

    @property
    def _component_block(self):
        if not hasattr(self, "_cb_cache") or self._cb_cache.device != self.device:
            Dm = (self.l_mag + 1) ** 2
            lookup = {(b.l, b.lp): n for n, b in enumerate(self.blocks)}
            comp = []
            for l in range(self.l_pos + 1):
                for _ in range(2 * l + 1):
                    for lp in range(self.l_mag + 1):
                        comp += [lookup[(l, lp)]] * (2 * lp + 1)
            assert len(comp) == (self.l_pos + 1) ** 2 * Dm
            self._cb_cache = torch.tensor(comp, dtype=torch.long, device=self.device)
        return self._cb_cache

    def _atomic_basis(self, t, vec, mask, nbr, table, species, T, S):
        """Receivers (n): vec (n,M,3) Å, mask (n,M), nbr (n,M) rows of ``table`` →
        A (D, K, n), components in natural order (lm)·Dm + (l'm')."""
        n, M, _ = vec.shape
        dummy = vec.new_tensor([0.0, 0.0, 2.0 * self.r_max])
        vec = torch.where(mask[..., None], vec, dummy)
        r = torch.linalg.vector_norm(vec, dim=-1)
        rho = self.radial_functions(t, r)  # (n,M,Q)
        Y = edge_harmonics(vec, self.l_pos)  # (n,M,L)
        L, Q, K = Y.shape[-1], self.Q, self.K
        Dm = (self.l_mag + 1) ** 2
        P = (rho[..., :, None] * Y[..., None, :]).reshape(n, M, Q * L)
        Pt, idx = P.transpose(1, 2), nbr.reshape(-1)
        if t > 0 and self.vector:  # scalar and vector senders apart: no slice of per-edge X
            Xs, Xv = (torch.bmm(Pt, part.index_select(0, idx).view(n, M, -1))
                      for part in (table[:, :Dm * K], table[:, Dm * K:]))
            A = self._scalar_messages(t, Xs) + self.vector_messages(
                t, Xv.view(n, Q, L, 3, Dm, K))
            return self._add_self(t, A, species, T, S) * self.inv_avg
        G = table.index_select(0, idx).view(n, M, -1)  # sender features per slot
        X = torch.bmm(Pt, G)  # (n, Q·L, F)
        if t == 0:  # F = (z, r, l'm') → A[(lm,l'm'), k, n] = Σ_(q z r) W X
            # one GEMM per component with the sites as rows: A is stored (L·Dm, n, K), the
            # channels innermost as the contraction kernels read it (a (L·Dm, K, n) view)
            X = X.view(n, Q, L, -1, Dm).permute(0, 2, 4, 1, 3).reshape(n, L * Dm, -1)
            W = self._expanded_block_weights(t).transpose(1, 2)  # (L·Dm, Q·Z·R, K)
            A = torch.bmm(X.transpose(0, 1), W).permute(0, 2, 1)
        else:
            A = self._scalar_messages(t, X)
        A = self._add_self(t, A, species, T, S)
        return A * self.inv_avg

    def _scalar_messages(self, t, X):
        """Layer t ≥ 1: X (n, Q·L, Dm·K) = Σ_j P_ij ⊗ (rows (l'm', k) of the sender table) →
        A (L·Dm, K, n) with channel-wise weights Σ_q W_{q k}."""
        n = X.shape[0]
        L, Q, K, Dm = (self.l_pos + 1) ** 2, self.Q, self.K, (self.l_mag + 1) ** 2
        W = self.w_block[t][self._component_block].transpose(0, 1)  # (Q, L·Dm, K)
        # multiply and sum over q (einsum made this 8192 batched mat-vecs whose backward ran
        # one select per batch)
        A = (X.view(n, Q, L * Dm, K) * W).sum(1)  # (n, L·Dm, K)
        return A.permute(1, 2, 0)

    def vector_messages(self, t, Xv):
        """Vector senders' part of A (L·Dm, K, n) from Xv (n, Q, L, 3, Dm, K) =
        Σ_j ρ_q(r_ij) Y_lm(r̂_ij) v_{jkμ} φ^v_{kl'}(|m_j|) S_l'm'(m_j):

            A[(LM),(l'm'),k] += Σ_{l: L = l ± 1} Σ_{m μ} C^{l 1 L}_{m μ M} Σ_q W^{(l→L)}_{l' q k} Xv[q,(lm),μ,(l'm'),k]

        ([Y_l ⊗ v]_L of natural parity (−1)^L, so every block keeps the parities the
        contraction assumes; C: real 3j × √(2L+1), e3nn basis). Per path the q-sum runs
        first, then the (m μ) → M coupling is one matrix product over the rows of the reduced
        tensor; no permuted copies of Xv (einsum made two per path)."""
        n, Q, L, _, Dm, K = Xv.shape
        reps = torch.tensor([2 * lp + 1 for lp in range(self.l_mag + 1)], device=Xv.device)
        W = torch.repeat_interleave(self.w_vblock[t - 1], reps, dim=1)  # (P, Dm, Q, K)
        W = W.permute(0, 2, 1, 3).reshape(W.shape[0], Q, 1, Dm * K)  # (P, Q, 1, Dm·K)
        out = [[] for _ in range(self.l_pos + 1)]
        by_l = torch.split(Xv.view(n, Q, L * 3, Dm * K), [3 * (2 * l + 1)
                                                          for l in range(self.l_pos + 1)], dim=2)
        for p, (l, Lo) in enumerate(self.vector_paths):
            Xl = by_l[l]  # (n, Q, (lm)·μ, Dm·K)
            red = (Xl * W[p]).sum(1)  # (n, (lm)·μ, Dm·K)
            cg = getattr(self, f"vector_cg_{p}").reshape(-1, 2 * Lo + 1)  # ((lm)·μ, M)
            out[Lo].append(torch.matmul(cg.T, red))  # (n, M, Dm·K)
        A = [sum(parts) if parts else Xv.new_zeros(n, 2 * Lo + 1, Dm * K)
             for Lo, parts in enumerate(out)]
        return torch.cat(A, dim=1).view(n, L * Dm, K).permute(1, 2, 0)

    def _add_self(self, t, A, species, T, S):
        """Centre's own moment: rows (l=0, l'm') += Σ_r w_{z l' r k} T_r(|m_i|) S_l'm'(m_i)."""
        w = self.w_self[t][species]  # (n, l_mag+1, R, K)
        coef = torch.einsum("nr,nprk->pkn", T, w)  # (l_mag+1, K, n)
        reps = torch.tensor([2 * lp + 1 for lp in range(self.l_mag + 1)], device=A.device)
        coef = torch.repeat_interleave(coef, reps, dim=0)  # (Dm, K, n)
        Dm = S.shape[1]
        own = coef * S.T[:, None, :]
        return torch.cat([A[:Dm] + own, A[Dm:]], dim=0)

    def _layer_B(self, t, runs, vec, mask, nbr, table, species, T, S):
        """Layer-t features of the receivers: B (n, K), or [B | V] (n, 4K) with the vectors
        V (n, 3, K) when this layer passes vectors on."""
        A = self._atomic_basis(t, vec, mask, nbr, table, species, T, S)
        B = self.contractions[t](A, runs)
        if not (self.vector and t < self.T - 1):
            return B
        V = self.vcontractions[t](A, runs)  # (n, K, 3)
        return torch.cat([B, V.transpose(1, 2).reshape(B.shape[0], -1)], dim=1)

    def layer(self, t, vec, mask, nbr, table, species, T, S):
        """B^{(t)} (n, K) for n receivers: sorted by species, chunked, and checkpointed chunks
        when gradients are on, there is more than one chunk and :meth:`_checkpoint` says so.
        Without checkpoints, chunks run concurrently on CPU (see :func:`_map_chunks`)."""
        n = vec.shape[0]
        order = torch.argsort(species, stable=True)
        sorted_species = species[order]
        site_bytes = self._site_bytes(t, vec.shape[1], table.shape[1])
        step = min(self.chunk_size or n, max(16, int(self.activation_budget // site_bytes)))
        ckpt = torch.is_grad_enabled() and n > step and self._checkpoint(n, site_bytes)
        counts = torch.bincount(sorted_species, minlength=len(self.species)).tolist()
        bounds = np.concatenate([[0], np.cumsum(counts)])
        jobs = []
        for a in range(0, n, step):
            b = min(a + step, n)
            runs = [(z, int(max(lo, a) - a), int(min(hi, b) - a)) for z, (lo, hi) in
                    enumerate(zip(bounds[:-1], bounds[1:])) if min(hi, b) > max(lo, a)]
            sel = order[a:b]
            fn = functools.partial(self._layer_B, t, runs)
            args = (vec[sel], mask[sel], nbr[sel], table, species[sel], T[sel], S[sel])
            jobs.append((fn, args))
        if ckpt:
            out = [checkpoint(fn, *args, use_reentrant=False) for fn, args in jobs]
        elif len(jobs) > 1 and not vec.is_cuda:
            out = _map_chunks(jobs)
        else:
            out = [fn(*args) for fn, args in jobs]
        B = torch.cat(out, dim=0)
        return B[torch.argsort(order)]

    def _vector_bytes(self, t):
        """Bytes per receiver of the vector contraction: on the folded fast path the saved
        T (K·3·(C+1)); on the sparse path its temporaries (pair products, gathered ν = 2, 3
        terms: ≈ 14 MB per site in float64 at l_pos 3, K = 128)."""
        vc = self.vcontractions[t]
        if vc.use_fast_path():
            entries = 3 * len(vc.xc)
        else:
            entries = len(vc.pa) + 2 * len(vc.v2) + 3 * len(vc.v3)
        return entries * self.K * (torch.finfo(self.dtype).bits // 8)

    def _site_bytes(self, t, slots, features):
        """Activations autograd keeps per receiver of layer t, estimated as (per slot: edge
        geometry, Bessel, radial MLP 2H, ρ, Y, P = ρ ⊗ Y (Q·L), gathered sender features F;
        per site: X = Pᵀ G and its permuted copy 2·Q·L·F — only while the weights are in the
        graph, see :meth:`_weights_in_graph` —, A 3·D·K)

            [slots · (4 + 2Q + 2H + L + Q·L + F) + 2·Q·L·F + 3·D·K] · itemsize

        plus :meth:`_vector_bytes` for layers with a vector contraction. Chunks hold at most
        ``activation_budget`` / this many receivers (paper setting, weights constant:
        ≈ 0.27 MB, so the ``chunk_size`` 256 rules)."""
        Q, L, K = self.Q, (self.l_pos + 1) ** 2, self.K
        H = self.radial[t][0].shape[1] if len(self.radial[t]) else 0
        D = L * (self.l_mag + 1) ** 2
        per_site = slots * (4 + 2 * Q + 2 * H + L + Q * L + features)
        if self.w_block[t].requires_grad:
            per_site += 2 * Q * L * features
        size = torch.finfo(self.dtype).bits // 8
        vector = self._vector_bytes(t) if self.vector and t < self.T - 1 else 0
        return (per_site + 3 * D * K) * size + vector

    def _checkpoint(self, n, site_bytes):
        """Whether grad-mode chunks of a layer over n receivers are checkpointed (recomputed in
        the backward pass): always on the training path (weights in the graph) and for the
        sparse contraction; on the fast path only when n · ``site_bytes`` (:meth:`_site_bytes`)
        would exceed ``activation_budget`` bytes (paper setting, 3456 atoms, float64, weights
        constant: estimate 0.93 GB, so not checkpointed; measured peak RSS 1.51 GB)."""
        c = self.contractions[0]
        if c.train_weights or not all(x.folded for x in (*self.contractions,
                                                         *self.vcontractions)):
            return True
        return n * site_bytes > self.activation_budget

    def readout(self, t, B):
        """(n, K) (or [B | V], whose scalars are read) → (n,) layer-t energy contribution (eV)."""
        B = B[:, :self.K]
        e = B @ self.w_out[t]
        if t == self.T - 1 and len(self.readout_mlp):
            e = e + torch.nn.functional.silu(B @ self.readout_mlp[0]) @ self.readout_mlp[1]
        return e * self.scale

    def node_update(self, t, B, h_prev):
        """h^{(t+1)} = B W_h (+ h^{(t)}); vector models also v^{(t+1)} = V W_v (+ v^{(t)}),
        returned as [h | v] (n, 4K) with v (n, 3, K) flattened."""
        K = self.K
        h = B[:, :K] @ self.w_h[t]
        if t > 0:
            h = h + h_prev[:, :K]
        if not self.vector:
            return h
        n = B.shape[0]
        v = B[:, K:].view(n, 3, K) @ self.w_v[t]
        if t > 0:
            v = v + h_prev[:, K:].view(n, 3, K)
        return torch.cat([h, v.reshape(n, -1)], dim=1)

    # ------------------------------------------------------------------ full evaluation
    def edge_vectors(self, positions, cells, batch, senders, shifts, receivers=None):
        """D_ij = r_j − r_i + S·cell for receivers (default all): (n, M, 3)."""
        idx = slice(None) if receivers is None else receivers
        snd = senders[idx]
        pos_j = positions.index_select(0, snd.reshape(-1)).view(*snd.shape, 3)
        return (pos_j - positions[idx][:, None, :]
                + torch.einsum("nmi,nij->nmj", shifts[idx], cells[batch[idx]]))

    def site_energies(self, graph, strain=None, return_layers=False):
        """Per-site energies (N,) eV of a :class:`~.graph.Graph`.

        ``strain`` (B,3,3) (symmetrised) deforms positions and cells: r → r(1+ε), so that
        ∂E/∂ε / V is the stress. ``return_layers`` also returns the per-layer node features
        h^{(t)} and readouts (used for local ΔE).
        """
        pos, cells = graph.positions, graph.cells
        if strain is not None:
            eps = 0.5 * (strain + strain.transpose(1, 2))
            pos = pos + torch.einsum("ni,nij->nj", pos, eps[graph.batch])
            cells = cells + torch.bmm(cells, eps)
        z = graph.species
        T, S = self.moment_features(graph.moments, z)
        vec = self.edge_vectors(pos, cells, graph.batch, graph.senders, graph.shifts)
        energies = self.one_body(graph.moments, z)
        h, hs, es = None, [], []
        for t in range(self.T):
            table = self.sender_table(t, z, T, S, h)
            B = self.layer(t, vec, graph.mask, graph.senders, table, z, T, S)
            e = self.readout(t, B)
            energies = energies + e
            if t < self.T - 1:
                h = self.node_update(t, B, h)
            hs.append(h)
            es.append(e)
        if return_layers:
            return energies, hs, es
        return energies

    def invariant_features(self, graph):
        """Unweighted layer-0 invariants I (N, K, P) (first-layer models: E_i is linear in them
        when ``readout_hidden = 0``; used for linear fits and representability tests)."""
        z = graph.species
        T, S = self.moment_features(graph.moments, z)
        vec = self.edge_vectors(graph.positions, graph.cells, graph.batch, graph.senders,
                                graph.shifts)
        table = self.sender_table(0, z, T, S)
        A = self._atomic_basis(0, vec, graph.mask, graph.senders, table, z, T, S)
        return self.contractions[0].invariants(A).permute(2, 1, 0)

    def energy_and_derivatives(self, graph, forces=True, stress=True, magnetic=True,
                               create_graph=False):
        """One autograd pass over (positions, strain, moments).

        Returns dict: energies (N,), energy (B,), and when requested forces (N,3) = −∂E/∂R,
        virial (B,3,3) = ∂E/∂ε (stress = virial / V), magnetic_forces (N,3) = −∂E/∂m.
        """
        need = forces or stress or magnetic
        nb = graph.cells.shape[0]
        with torch.set_grad_enabled(need or create_graph), self._weights_in_graph(create_graph):
            pos = graph.positions.detach().requires_grad_(forces)
            mom = graph.moments.detach().requires_grad_(magnetic)
            strain = torch.zeros(nb, 3, 3, dtype=self.dtype, device=self.device,
                                 requires_grad=stress)
            g = type(graph)(**{**graph.__dict__, "positions": pos, "moments": mom})
            energies = self.site_energies(g, strain=strain if stress else None)
            energy = torch.zeros(nb, dtype=self.dtype, device=self.device).index_add(
                0, graph.batch, energies)
            out = dict(energies=energies, energy=energy)
            inputs = [x for x, f in ((pos, forces), (strain, stress), (mom, magnetic)) if f]
            if inputs:
                grads = torch.autograd.grad(energy.sum(), inputs, create_graph=create_graph,
                                            allow_unused=True)
                grads = [torch.zeros_like(x) if gr is None else gr for x, gr in zip(inputs, grads)]
                it = iter(grads)
                if forces:
                    out["forces"] = -next(it)
                if stress:
                    out["virial"] = next(it)
                if magnetic:
                    out["magnetic_forces"] = -next(it)
        return out

    @contextlib.contextmanager
    def _weights_in_graph(self, keep):
        """Within the block, the weights are in the autograd graph only if ``keep``
        (training). Otherwise grad-mode contractions take the fast path with a hand-written
        backward for ∂E/∂A (see :class:`~.folded.FoldedContraction`), and every parameter is
        held constant (``requires_grad`` off), so autograd saves only what the derivatives
        with respect to positions, strain and moments need (not, e.g., the per-site X = Pᵀ G
        that only a weight gradient reads)."""
        modules = [*self.contractions, *self.vcontractions]
        old = [c.train_weights for c in modules]
        frozen = [] if keep else [p for p in self.parameters() if p.requires_grad]
        for c in modules:
            c.train_weights = bool(keep)
        for p in frozen:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for c, v in zip(modules, old):
                c.train_weights = v
            for p in frozen:
                p.requires_grad_(True)

    def n_parameters(self):
        return sum(p.numel() for p in self.parameters())


def vector_message_paths(l_pos):
    """(l, L) pairs coupling Y_l(r̂) ⊗ (a polar vector) to L = l ± 1 ≤ l_pos (natural parity)."""
    return [(l, L) for l in range(l_pos + 1) for L in (l - 1, l + 1) if 0 <= L <= l_pos]
