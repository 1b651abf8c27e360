"""Invariant coupling tensors for the magnetic symmetric contraction.

The atomic basis of one (site, channel) is a vector ``A`` over the product index
``a = (l, m, l', m')`` with spatial degree ``0 ≤ l ≤ l_pos`` and spin degree ``0 ≤ l' ≤ l_mag``;
the block of fixed ``(l, l')`` has ``(2l+1)(2l'+1)`` components (row-major in (m, m')). Under a
spatial rotation Q_s and a spin rotation Q_m the block transforms as D^l(Q_s) ⊗ D^l'(Q_m);
under inversion it gets (−1)^l (moments are axial), under time reversal (−1)^l' (m → −m and
S_l'(−m) = (−1)^l' S_l'(m)).

This module builds, once per model, the polynomial invariants of degree ν = 1, 2, 3 in ``A``
(Batatia et al., NeurIPS 2022, eq. 10, generalised to two indices as in Ho et al.,
arXiv 2604.08143, §2):

* non-SOC (``spin_orbit=False``): invariant under SO(3)_space × SO(3)_spin separately,
  U_{a1 a2 a3} = C^{l1 l2 l3}_{m1 m2 m3} · C^{l1' l2' l3'}_{m1' m2' m3'};
* SOC: invariant only under the joint rotation. Each block is first rotated to the coupled
  basis of total J (``coupled_basis``, an orthogonal change of basis applied to A), where the
  invariants are plain 3j symbols C^{J1 J2 J3} (sparse).

In both cases a path is kept only when Σ l_i and Σ l'_i are even, so every invariant is even
under inversion AND time reversal: E(R, −m) = E(R, m) holds exactly by construction and costs
nothing (it only removes paths). C is e3nn's real Wigner-3j symbol, in the same real basis as
``e3nn.o3.spherical_harmonics``.

The output is sparse: a list of nonzero entries (a, b, c, value, path) with a ≤ b, so that the
contraction can be evaluated as pair products followed by one sparse matrix product (see
:mod:`.contraction`).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch
from e3nn import o3

_TOL = 1e-10


@dataclass(frozen=True)
class Block:
    """One (l, l') block of the atomic basis: offset into the flat index and its size."""

    l: int
    lp: int
    offset: int

    @property
    def size(self) -> int:
        return (2 * self.l + 1) * (2 * self.lp + 1)


def make_blocks(l_pos: int, l_mag: int) -> list:
    """Blocks ordered by spin degree then spatial degree; flat index a = offset + m·(2l'+1) + m'."""
    blocks, offset = [], 0
    for lp in range(l_mag + 1):
        for l in range(l_pos + 1):
            blocks.append(Block(l, lp, offset))
            offset += blocks[-1].size
    return blocks


def _w3j(l1, l2, l3):
    if l3 < abs(l1 - l2) or l3 > l1 + l2:
        return None
    return o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()


def _block_coupled_basis(block, J):
    """(size, 2J+1) real matrix projecting block (l, l') onto total angular momentum J."""
    w = _w3j(block.l, block.lp, J)
    if w is None:
        return None
    w = w.reshape(block.size, 2 * J + 1)
    return w / np.linalg.norm(w[:, 0])


def _js(block):
    return range(abs(block.l - block.lp), block.l + block.lp + 1)


def _j_slice(block, J):
    """Slice of the coupled-basis components of total J inside ``block`` (SOC only)."""
    start = sum(2 * j + 1 for j in _js(block) if j < J)
    return slice(start, start + 2 * J + 1)


def coupled_basis(block) -> np.ndarray:
    """Orthogonal (size, size) matrix whose columns span J = |l−l'| .. l+l' in order (SOC).

    The SOC contraction works on A' = A @ P per block, where the joint rotation acts as a direct
    sum of D^J; the invariant tensors in that basis are plain 3j symbols (sparse).
    """
    return np.concatenate([_block_coupled_basis(block, J) for J in _js(block)], axis=1)


def _triple_tensors(b1, b2, b3, spin_orbit):
    """Invariant tensors (|b1|, |b2|, |b3|) coupling three blocks, one per coupling path."""
    if (b1.l + b2.l + b3.l) % 2 or (b1.lp + b2.lp + b3.lp) % 2:
        return []
    if not spin_orbit:
        ws, wm = _w3j(b1.l, b2.l, b3.l), _w3j(b1.lp, b2.lp, b3.lp)
        if ws is None or wm is None:
            return []
        t = np.einsum("ace,bdf->abcdef", ws, wm)  # (m1, m1', m2, m2', m3, m3')
        t = t.reshape(b1.size, b2.size, b3.size)
        return [t]
    out = []
    for J1, J2, J3 in itertools.product(*(_js(b) for b in (b1, b2, b3))):
        w = _w3j(J1, J2, J3)
        if w is None:
            continue
        t = np.zeros((b1.size, b2.size, b3.size))
        s1, s2, s3 = (_j_slice(b, J) for b, J in ((b1, J1), (b2, J2), (b3, J3)))
        t[s1, s2, s3] = w
        out.append(t)
    return out


def _pair_tensors(b1, b2, spin_orbit):
    """Degree-2 invariants of two blocks: nonzero only for equal (l, l') (non-SOC) / equal J."""
    if (b1.l + b2.l) % 2 or (b1.lp + b2.lp) % 2:
        return []
    if not spin_orbit:
        if (b1.l, b1.lp) != (b2.l, b2.lp):
            return []
        return [np.eye(b1.size)]
    out = []
    for J in set(_js(b1)) & set(_js(b2)):
        t = np.zeros((b1.size, b2.size))
        t[_j_slice(b1, J), _j_slice(b2, J)] = np.eye(2 * J + 1)
        out.append(t)
    return out


def _singles(b, spin_orbit):
    if b.l % 2 or b.lp % 2:
        return []
    if not spin_orbit:
        return [np.ones(1)] if b.l == 0 and b.lp == 0 else []
    if b.l != b.lp:
        return []
    t = np.zeros(b.size)
    t[_j_slice(b, 0)] = 1.0
    return [t]


def _new_direction(vals, basis):
    """Whether a candidate path, given by its values ``vals`` on random probes, is nonzero and
    linearly independent of the accepted ones (``basis``: orthonormal, extended in place)."""
    norm = np.linalg.norm(vals)
    if norm < 1e-8 * np.sqrt(len(vals)):
        return False
    res = vals / norm
    for q in basis:
        res = res - q * (q @ res)
    if np.linalg.norm(res) < 1e-7:
        return False
    basis.append(res / np.linalg.norm(res))
    return True


@dataclass
class CouplingSpec:
    """Sparse invariant tensors for ν = 1, 2, 3 on a D-dimensional atomic basis.

    Entries are in the block-flat index of :func:`make_blocks`. ``nu1``: (idx, val, path);
    ``nu2``: (a, b, val, path) with a ≤ b; ``nu3``: (a, b, c, val, path) with a ≤ b ≤ c after
    symmetrisation. ``n_paths = (P1, P2, P3)``; ``labels`` name the blocks of each path.
    """

    dim: int
    nu1: tuple
    nu2: tuple
    nu3: tuple
    n_paths: tuple
    labels: list


def _sym_entries(t, offsets, order):
    """Symmetrise an order-2/3 tensor over the flat index and return sorted-index entries."""
    entries = {}
    idx = np.argwhere(np.abs(t) > _TOL)
    for tup in idx:
        flat = tuple(int(o + i) for o, i in zip(offsets, tup))
        key = tuple(sorted(flat))
        entries[key] = entries.get(key, 0.0) + float(t[tuple(tup)])
    return {k: v for k, v in entries.items() if abs(v) > _TOL}


@functools.lru_cache(maxsize=16)
def build_coupling(l_pos: int, l_mag: int, correlation: int, spin_orbit: bool,
                   seed: int = 0) -> CouplingSpec:
    """Enumerate the invariant paths up to body order ``correlation`` (1..3).

    Paths whose symmetrised tensor vanishes, or that are linearly dependent on earlier paths of
    the same order (checked on random inputs, seeded), are dropped.
    """
    if correlation not in (1, 2, 3):
        raise ValueError(f"correlation order must be 1, 2 or 3, got {correlation}")
    blocks = make_blocks(l_pos, l_mag)
    dim = sum(b.size for b in blocks)
    rng = np.random.default_rng(seed)
    probe = rng.standard_normal((256, dim))
    labels = []

    def accept(entry_list, store, order, label, group):
        # drop paths that vanish or are linearly dependent on earlier ones (random probes)
        if not entry_list:
            return
        keys = np.array(list(entry_list.keys()), dtype=np.int64)
        coef = np.array(list(entry_list.values()))
        vals = np.prod(probe[:, keys], axis=2) @ coef
        # different block multisets have disjoint monomials, so dependence is checked per group
        if not _new_direction(vals, store["probe"].setdefault(group, [])):
            return
        p = store["count"]
        store["count"] += 1
        for key, v in entry_list.items():
            store["entries"].append(key + (v, p))
        labels.append((order,) + label)

    stores = [dict(probe={}, entries=[], count=0) for _ in range(3)]
    for b in blocks:
        for t in _singles(b, spin_orbit):
            accept({(b.offset + i,): float(v) for i, v in enumerate(t) if abs(v) > _TOL},
                   stores[0], 1, ((b.l, b.lp),), (b,))
    if correlation >= 2:
        for b1, b2 in itertools.combinations_with_replacement(blocks, 2):
            for t in _pair_tensors(b1, b2, spin_orbit):
                accept(_sym_entries(t, (b1.offset, b2.offset), 2), stores[1], 2,
                       ((b1.l, b1.lp), (b2.l, b2.lp)), (b1, b2))
    if correlation >= 3:
        for b1, b2, b3 in itertools.combinations_with_replacement(blocks, 3):
            for t in _triple_tensors(b1, b2, b3, spin_orbit):
                accept(_sym_entries(t, (b1.offset, b2.offset, b3.offset), 3), stores[2], 3,
                       ((b1.l, b1.lp), (b2.l, b2.lp), (b3.l, b3.lp)), (b1, b2, b3))

    def pack(store, order):
        e = store["entries"]
        if not e:
            return tuple(np.zeros(0, dtype=np.int64) for _ in range(order)) + (
                np.zeros(0), np.zeros(0, dtype=np.int64))
        arr = list(zip(*e))
        return tuple(np.array(x, dtype=np.int64) for x in arr[:order]) + (
            np.array(arr[order], dtype=np.float64), np.array(arr[order + 1], dtype=np.int64))

    nu1 = pack(stores[0], 1)
    return CouplingSpec(dim, (nu1[0], nu1[1], nu1[2]), pack(stores[1], 2), pack(stores[2], 3),
                        tuple(s["count"] for s in stores), labels)


# ---------------------------------------------------------------------- vector (1o) outputs
def _chain(ls, L):
    """Coupling tensors (2l_1+1, …, 2l_n+1, 2L+1) of l_1 ⊗ … ⊗ l_n → L, one per sequence of
    intermediate couplings ((l_1 l_2) L_12, (L_12 l_3) L_123, …), built from real 3j symbols
    (an invariant 3j tensor C^{abc} maps a ⊗ b → c because the real D^c are orthogonal)."""
    if len(ls) == 1:
        return [np.eye(2 * L + 1)] if ls[0] == L else []
    out = []
    for L12 in range(abs(ls[0] - ls[1]), ls[0] + ls[1] + 1):
        c = _w3j(ls[0], ls[1], L12)
        for rest in _chain([L12] + list(ls[2:]), L):
            out.append(np.tensordot(c, rest, axes=([2], [0])))
    return out


def _vector_tensors(blocks, spin_orbit):
    """Equivariant tensors (|b_1|, …, |b_n|, 3) of n blocks → a polar, time-reversal-even
    vector (l = 1, spin scalar for non-SOC; J = 1 of the joint rotation for SOC)."""
    if (sum(b.l for b in blocks) + 1) % 2 or sum(b.lp for b in blocks) % 2:
        return []
    sizes = [b.size for b in blocks]
    if not spin_orbit:
        out = []
        for sp in _chain([b.l for b in blocks], 1):
            for sm in _chain([b.lp for b in blocks], 0):
                n = len(blocks)
                # interleave (m_1, m'_1, m_2, m'_2, …) then merge each pair into the block index
                t = np.einsum(sp, list(range(n)) + [2 * n], sm[..., 0],
                              list(range(n, 2 * n)),
                              [x for i in range(n) for x in (i, n + i)] + [2 * n])
                out.append(t.reshape(*sizes, 3))
        return out
    out = []
    for Js in itertools.product(*(_js(b) for b in blocks)):
        for c in _chain(list(Js), 1):
            t = np.zeros(sizes + [3])
            t[tuple(_j_slice(b, J) for b, J in zip(blocks, Js))] = c
            out.append(t)
    return out


@functools.lru_cache(maxsize=16)
def build_vector_coupling(l_pos: int, l_mag: int, correlation: int, spin_orbit: bool,
                          seed: int = 0) -> CouplingSpec:
    """Vector-valued (1o) body-ordered features of the atomic basis, as a :class:`CouplingSpec`
    whose "path" index is 3·p + μ (μ: the l = 1 component in e3nn's real basis), so the
    sparse evaluation of the invariants applies unchanged. Orders ν = 1..``correlation``;
    vanishing or linearly dependent paths (random probes, all three components) are dropped."""
    if correlation not in (1, 2, 3):
        raise ValueError(f"correlation order must be 1, 2 or 3, got {correlation}")
    blocks = make_blocks(l_pos, l_mag)
    dim = sum(b.size for b in blocks)
    probe = np.random.default_rng(seed).standard_normal((64, dim))
    stores = [dict(probe={}, entries=[], count=0) for _ in range(correlation)]
    labels = []
    for order in range(1, correlation + 1):
        store = stores[order - 1]
        for group in itertools.combinations_with_replacement(blocks, order):
            offsets = [b.offset for b in group]
            for t in _vector_tensors(group, spin_orbit):
                per_mu = [_sym_entries(t[..., mu], offsets, order) if order > 1 else
                          {(offsets[0] + int(i),): float(t[i, mu])
                           for i in np.nonzero(np.abs(t[:, mu]) > _TOL)[0]}
                          for mu in range(3)]
                vals = np.concatenate([
                    np.prod(probe[:, np.array(list(e), dtype=np.int64)], axis=2)
                    @ np.array(list(e.values())) if e else np.zeros(len(probe))
                    for e in per_mu])
                if not _new_direction(vals, store["probe"].setdefault(group, [])):
                    continue
                p = store["count"]
                store["count"] += 1
                for mu, e in enumerate(per_mu):
                    for key, v in e.items():
                        store["entries"].append(key + (v, 3 * p + mu))
                labels.append((order,) + tuple((b.l, b.lp) for b in group))
    packed = []
    for order in (1, 2, 3):
        e = stores[order - 1]["entries"] if order <= correlation else []
        arr = list(zip(*e)) if e else [[]] * (order + 2)
        packed.append(tuple(np.array(x, dtype=np.int64) for x in arr[:order])
                      + (np.array(arr[order], dtype=np.float64),
                         np.array(arr[order + 1], dtype=np.int64)))
    counts = tuple(3 * stores[o - 1]["count"] if o <= correlation else 0 for o in (1, 2, 3))
    return CouplingSpec(dim, packed[0], packed[1], packed[2], counts, labels)
