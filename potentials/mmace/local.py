"""Incremental local ΔE of single-layer mMACE models (Monte Carlo on moments).

For one message-passing layer (t = 0) the atomic basis of receiver i is linear in the
per-atom sender features G_j = onehot(z_j) ⊗ T(|m_j|) ⊗ S(m_j) (see :mod:`.model`):

    A_i[(lm,l'm'), k] = n̄⁻¹ [ Σ_{e: i←j} Y_lm(r̂_e) Σ_{q,r} W^{(l,l')}_{(q z_j r), k} ρ_q(r_e)
                                   T_r(|m_j|) S_l'm'(m_j)
                              + δ_{l0} Σ_r w^{self}_{z_i l' r k} T_r(|m_i|) S_l'm'(m_i) ],

with e running over every edge into i (periodic images of one sender are separate edges).
A proposal m_s → m_s' changes G_s only, so for every receiver i ∈ C_1(s) = {s} ∪ {i : s sends
to i}

    δA_i = n̄⁻¹ Σ_{e: i←s} Y_lm(e) [a'_{e,(l,l'),k} S_l'm'(m_s') − a_{e,(l,l'),k} S_l'm'(m_s)]
           + δ_is n̄⁻¹ δ_{l0} Σ_r w^{self}_{z_s l' r k} [T_r' S_l'm'(m_s') − T_r S_l'm'(m_s)],
    a_{e,(l,l'),k} = Σ_{q,r} W^{(l,l')}_{(q z_s r),k} ρ_q(r_e) T_r(|m_s|)

(a' with T(|m_s'|)): one (Q·R) × ((l_pos+1)(l_mag+1)²·K) product per edge (the block weights
pre-expanded over m', :func:`expanded_weights`) and a rank-one expansion over lm, instead of
re-summing all edges of every receiver. The base atomic basis A (N, D, K) (receiver-major;
D = (l_pos+1)²(l_mag+1)², K channels, N atoms; D·K·N·8 bytes in float64: 134 MB for
l_pos = l_mag = 3, K = 64, N = 1024) and the base layer readouts e_i are cached, so that

    ΔE_k = Σ_{i∈C_1(s_k)} [readout(B(A_i + δA_i)) − e_i] + E_1body(m_s') − E_1body(m_s)

costs |C_1| contractions per proposal and no edge sums. The contraction is a polynomial of
degree ν in A (not cheaper for a delta), so |C_1| · (contraction share of a full evaluation) is
the floor of the sweep/evaluation cost ratio on this path.

When moves are accepted (the state's moments differ from the cached ones at a few sites) the
base is updated in place: A += δA of every changed site (exact by linearity, also when their
receiver sets overlap), and e_i is taken from the last ΔE call where receiver i saw exactly one
changed site whose proposed moment is the accepted one, and recontracted otherwise. A full
pass replaces the incremental base after ``REFRESH`` × N site updates (bounds round-off drift,
≈ 1e-16 per update) or when more than half the receivers would need recontraction.
"""

from __future__ import annotations

import numpy as np
import torch

from .basis import edge_harmonics

#: Full base pass after this many incremental site updates per atom (round-off insurance).
REFRESH = 16


def supported(model) -> bool:
    """Whether ``model`` has the linear-in-senders atomic basis used here (one layer)."""
    return model.T == 1


def _layout(model):
    """Index maps of the natural component order: block of (l, l'm') (l_pos+1, Dm) and l' of
    each l'm' (Dm,)."""
    lookup = {(b.l, b.lp): n for n, b in enumerate(model.blocks)}
    lp_of = np.repeat(np.arange(model.l_mag + 1), [2 * lp + 1 for lp in range(model.l_mag + 1)])
    block = np.array([[lookup[(l, int(lp))] for lp in lp_of] for l in range(model.l_pos + 1)])
    dev = model.device
    return torch.as_tensor(block, device=dev), torch.as_tensor(lp_of, device=dev)


def expanded_weights(model):
    """Per species z: W_z (Q·R, (l_pos+1)·Dm·K), columns (l, l'm', k) = W^{(l,l')}_{(q z r), k}
    (the block weight repeated over m', so one product gives a_(l,l') in the expanded layout)."""
    block = _layout(model)[0]  # (l_pos+1, Dm) block of (l, l'm')
    nb, Q, R, K = len(model.blocks), model.Q, model.R, model.K
    W = model.w_block[0].detach().view(nb, Q, len(model.species), R, K)
    return [W[block][:, :, :, z].permute(2, 3, 0, 1, 4).reshape(Q * R, -1).contiguous()
            for z in range(len(model.species))]


def contract_energies(model, A, species, chunk=None):
    """Layer-0 readouts (n,) eV of receivers' atomic bases A (n, D, K) (receiver-major) with
    ``species`` (n,): sorted into species runs, chunked, contracted in the (D, K, n) layout of
    ``contractions[0]``."""
    n = A.shape[0]
    out = A.new_empty(n)
    step = chunk or model.chunk_size or n
    for a in range(0, n, step):
        b = min(a + step, n)
        z = species[a:b]
        counts = torch.bincount(z, minlength=len(model.species)).tolist()
        bounds = np.concatenate([[0], np.cumsum(counts)])
        runs = [(s, int(lo), int(hi)) for s, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]))
                if hi > lo]
        if len(runs) == 1:
            B = model.contractions[0](A[a:b].permute(1, 2, 0), runs)
            out[a:b] = model.readout(0, B)
        else:
            order = torch.argsort(z, stable=True)
            B = model.contractions[0](A[a:b][order].permute(1, 2, 0), runs)
            out[a + order] = model.readout(0, B)  # row j of B belongs to receiver a + order[j]
    return out


def build_base(model, graph):
    """Full no-grad pass of a single-structure graph, keeping what incremental ΔE needs.

    Returns dict: A (N, D, K) atomic basis (receiver-major, components in natural order,
    includes n̄⁻¹), e (N,) layer-0
    readouts (eV), rev_first (N+1,), rev_recv (E,): the E edges sorted by sender (CSR) and their
    receivers, rho (E, Q) radial functions and Y (E, L) edge harmonics, moments (N, 3),
    species (N,), lp_of (Dm,) l' of each l'm', w_exp (:func:`expanded_weights`), n_updates,
    pending (see :func:`energy_changes`).
    """
    with torch.no_grad():
        z = graph.species
        T, S = model.moment_features(graph.moments, z)
        vec = model.edge_vectors(graph.positions, graph.cells, graph.batch, graph.senders,
                                 graph.shifts)
        table = model.sender_table(0, z, T, S)
        n = graph.n_atoms
        order = torch.argsort(z, stable=True)
        step = model.chunk_size or n
        chunks = []
        for a in range(0, n, step):
            sel = order[a:a + step]
            chunks.append(model._atomic_basis(0, vec[sel], graph.mask[sel], graph.senders[sel],
                                              table, z[sel], T[sel], S[sel]))
        A = torch.cat([c.permute(2, 0, 1) for c in chunks])[torch.argsort(order)].contiguous()
        e = contract_energies(model, A, z)
        dummy = vec.new_tensor([0.0, 0.0, 2.0 * model.r_max])
        v = torch.where(graph.mask[..., None], vec, dummy)
        rho = model.radial_functions(0, torch.linalg.vector_norm(v, dim=-1))
        Y = edge_harmonics(v, model.l_pos)
    mask = graph.mask.cpu().numpy()
    recv, slot = np.nonzero(mask)
    snd = graph.senders.cpu().numpy()[recv, slot]
    by = np.argsort(snd, kind="stable")
    flat = torch.as_tensor(recv[by] * mask.shape[1] + slot[by], device=z.device)
    return dict(A=A, e=e, species=z, moments=graph.moments.clone(),
                rho=rho.reshape(-1, rho.shape[-1]).index_select(0, flat),
                Y=Y.reshape(-1, Y.shape[-1]).index_select(0, flat),
                rev_first=np.searchsorted(snd[by], np.arange(n + 1)),
                rev_recv=recv[by], lp_of=_layout(model)[1],
                w_exp=expanded_weights(model), n_updates=0, pending=None)


def _edges(base, sites):
    """Edges out of each proposal's site: (proposal id (E,), receiver (E,), edge id (E,))."""
    first = base["rev_first"]
    counts = first[sites + 1] - first[sites]
    pk = np.repeat(np.arange(len(sites)), counts)
    start = np.repeat(first[sites] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    idx = np.arange(counts.sum()) + start
    return pk, base["rev_recv"][idx], idx


def basis_deltas(model, base, sites, old, new):
    """δA of single-site changes m_s → m_s' (each against the base, not cumulative).

    sites (P,) int, old / new (P, 3) tensors (μB). Returns keys (n,) sorted unique
    p·N + i of every (proposal p, receiver i ∈ C_1(s_p)) pair, and δA (n, D, K).
    """
    N = base["A"].shape[0]
    z_all = base["species"]
    dev = z_all.device
    pk, recv, edge = _edges(base, sites)
    keys = np.unique(np.concatenate([pk * N + recv, np.arange(len(sites)) * N + sites]))
    row = torch.as_tensor(np.searchsorted(keys, pk * N + recv), device=dev)
    self_row = torch.as_tensor(np.searchsorted(keys, np.arange(len(sites)) * N + sites),
                               device=dev)
    lp_of = base["lp_of"]
    zs = z_all[torch.as_tensor(sites, device=dev)]
    Tn, Sn = model.moment_features(new, zs)
    To, So = model.moment_features(old, zs)
    _, D, K = base["A"].shape
    Dm, R, Q = Sn.shape[1], Tn.shape[1], model.Q
    dA = base["A"].new_zeros(len(keys), D, K)
    if len(pk):
        pk_t, edge_t = (torch.as_tensor(x, device=dev) for x in (pk, edge))
        rho = base["rho"].index_select(0, edge_t)  # (E, Q)
        Y = base["Y"].index_select(0, edge_t)  # (E, L)
        ze = zs[pk_t]
        n_l = model.l_pos + 1
        a = rho.new_empty(2, len(pk), n_l, Dm, K)  # a_(l,l'), repeated over m'
        for z in torch.unique(ze).tolist():
            sel = torch.nonzero(ze == z).squeeze(1)
            u = torch.stack([Tn[pk_t[sel]], To[pk_t[sel]]])[:, :, None, :] * rho[sel][:, :, None]
            a[:, sel] = (u.reshape(-1, Q * R) @ base["w_exp"][z]).view(2, len(sel), n_l, Dm, K)
        # g (E, l, l'm'·K) = n̄⁻¹ [a'_(l,l') S_l'm'(m') − a_(l,l') S_l'm'(m)]
        sn, so = (x[pk_t][:, None, :, None] * model.inv_avg for x in (Sn, So))
        g = (a[0] * sn - a[1] * so).reshape(len(pk), n_l, Dm * K)
        contrib = g.new_empty(len(pk), D // Dm, Dm * K)  # (E, lm, l'm'·K) = Y_lm g_l
        for l in range(model.l_pos + 1):
            sl = slice(l * l, (l + 1) ** 2)
            torch.mul(Y[:, sl, None], g[:, l, None, :], out=contrib[:, sl])
        contrib = contrib.view(len(pk), D, K)
        if len(np.unique(pk * N + recv)) == len(pk):  # one edge per (proposal, receiver)
            dA.index_copy_(0, row, contrib)
        else:  # periodic images: the sender on several edges of one receiver
            dA.index_add_(0, row, contrib)
    w = model.w_self[0][zs]  # (P, l_mag+1, R, K)
    own = (torch.einsum("pr,pxrk->pxk", Tn, w)[:, lp_of] * Sn[:, :, None]
           - torch.einsum("pr,pxrk->pxk", To, w)[:, lp_of] * So[:, :, None])  # (P, Dm, K)
    dA[self_row, :Dm] += own * model.inv_avg
    return keys, dA


def energy_changes(model, base, sites, new, chunk_receivers=1024):
    """ΔE_k (K,) eV of m[sites[k]] → new[k] (K, 3 tensor) against the cached base; proposals
    are processed in chunks of about ``chunk_receivers`` receivers. Leaves the per-receiver new
    readouts in ``base['pending']`` for :func:`update_base`."""
    N = base["A"].shape[0]
    z_all = base["species"]
    dev = z_all.device
    sites_t = torch.as_tensor(sites, device=dev)
    old = base["moments"][sites_t]
    de = model.one_body(new, z_all[sites_t]) - model.one_body(old, z_all[sites_t])
    per = max(1, chunk_receivers // max(1, int(np.mean(np.diff(base["rev_first"]))) + 1))
    all_keys, all_e = [], []
    for a in range(0, len(sites), per):
        b = min(a + per, len(sites))
        keys, dA = basis_deltas(model, base, sites[a:b], old[a:b], new[a:b])
        recv = torch.as_tensor(keys % N, device=dev)
        e_new = contract_energies(model, dA.add_(base["A"].index_select(0, recv)), z_all[recv],
                                  chunk=max(chunk_receivers, len(keys)))
        prop = torch.as_tensor(keys // N, device=dev)
        de[a:b] += torch.zeros(b - a, dtype=de.dtype, device=dev).index_add(
            0, prop, e_new - base["e"][recv])
        all_keys.append(keys + a * N)
        all_e.append(e_new)
    base["pending"] = dict(sites=np.array(sites), new=new.clone(), keys=np.concatenate(all_keys),
                           e=torch.cat(all_e))
    return de


def update_base(model, base, moments):
    """Bring the base to ``moments`` (N, 3 tensor) by local updates; False when a full pass is
    the better choice (many changed sites, or the round-off refresh is due)."""
    N = base["A"].shape[0]
    changed = np.flatnonzero(torch.any(moments != base["moments"], dim=1).cpu().numpy())
    if not len(changed):
        return True
    base["n_updates"] += len(changed)
    if base["n_updates"] > REFRESH * N:
        return False
    dev = moments.device
    ch_t = torch.as_tensor(changed, device=dev)
    keys, dA = basis_deltas(model, base, changed, base["moments"][ch_t], moments[ch_t])
    recv = keys % N
    # which pending proposal (if any) proposed exactly the accepted moment of each changed site
    match = np.full(len(changed), -1)
    pend = base["pending"]
    if pend is not None:
        for c, s in enumerate(changed):
            for k in np.flatnonzero(pend["sites"] == s):
                if torch.equal(pend["new"][k], moments[s]):
                    match[c] = k
                    break
    once = np.bincount(recv, minlength=N)[recv] == 1
    reuse = once & (match[keys // N] >= 0)
    redo = np.unique(recv[~reuse])
    if len(redo) > N // 2:
        return False
    base["A"].index_add_(0, torch.as_tensor(recv, device=dev), dA)
    if reuse.any():
        look = match[keys[reuse] // N] * N + recv[reuse]
        pos = np.searchsorted(pend["keys"], look)
        assert np.array_equal(pend["keys"][pos], look)
        base["e"][torch.as_tensor(recv[reuse], device=dev)] = pend["e"][torch.as_tensor(pos)]
    if len(redo):
        r = torch.as_tensor(redo, device=dev)
        base["e"][r] = contract_energies(model, base["A"][r], base["species"][r])
    base["moments"] = moments.clone()
    base["pending"] = None
    return True
