"""Padded receiver-major neighbour graphs for mMACE (numpy bookkeeping, torch tensors out).

Every site i owns a row of M = max_i n_i slots: ``senders[i, s]`` (global atom index),
``shifts[i, s]`` (integer cell shifts S, D_ij = r_j − r_i + S·cell) and ``mask[i, s]``. Padded
slots point at the receiver itself with a zero shift and are masked out, so the edge basis
is evaluated on dense (n, M, …) arrays and the atomic basis is one batched matrix product
per site (no per-edge channel tensors, no scatter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spinlattice.errors import InputError
from spinlattice.neighbors import neighbor_list


@dataclass
class Graph:
    """A batch of structures as torch tensors.

    positions (N,3) Å, moments (N,3) μB, species (N,) model species index, batch (N,)
    structure index, cells (B,3,3) Å, senders (N,M), shifts (N,M,3), mask (N,M) bool.
    """

    positions: torch.Tensor
    moments: torch.Tensor
    species: torch.Tensor
    batch: torch.Tensor
    cells: torch.Tensor
    senders: torch.Tensor
    shifts: torch.Tensor
    mask: torch.Tensor

    @property
    def n_atoms(self):
        return self.positions.shape[0]


def padded_neighbors(i, j, shifts, n_atoms):
    """Directed pair list (P,) (P,) (P,3) → (senders (N,M), shifts (N,M,3), mask (N,M))."""
    order = np.lexsort((j, i))
    i, j, shifts = i[order], j[order], shifts[order]
    counts = np.bincount(i, minlength=n_atoms)
    width = max(int(counts.max()) if len(counts) else 0, 1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(i)) - start[i]
    senders = np.repeat(np.arange(n_atoms)[:, None], width, axis=1)
    shift_arr = np.zeros((n_atoms, width, 3), dtype=np.float64)
    mask = np.zeros((n_atoms, width), dtype=bool)
    senders[i, slot] = j
    shift_arr[i, slot] = shifts
    mask[i, slot] = True
    return senders, shift_arr, mask


def build_graph(states, species_index, r_max, dtype, device) -> Graph:
    """Neighbour graphs of several :class:`SpinLatticeState` within ``r_max`` as one batch.

    ``species_index`` maps atomic number → model species index; unknown elements raise
    :class:`InputError`.
    """
    pos, mom, spec, bat, cells, snd, shf, msk = [], [], [], [], [], [], [], []
    offset = 0
    for b, st in enumerate(states):
        unknown = sorted(set(int(z) for z in np.unique(st.numbers)) - set(species_index))
        if unknown:
            raise InputError(f"elements {unknown} are not among the model's species "
                             f"{sorted(species_index)}")
        nl = neighbor_list(st.positions, st.cell, st.pbc, r_max)
        s, sh, m = padded_neighbors(nl.i, nl.j, nl.shifts.astype(np.float64), st.n_atoms)
        pos.append(st.positions)
        mom.append(st.moments)
        spec.append(np.array([species_index[int(z)] for z in st.numbers], dtype=np.int64))
        bat.append(np.full(st.n_atoms, b, dtype=np.int64))
        cells.append(np.asarray(st.cell, dtype=np.float64))
        snd.append(s + offset)
        shf.append(sh)
        msk.append(m)
        offset += st.n_atoms
    width = max(x.shape[1] for x in snd)
    for n in range(len(snd)):  # pad every structure to the same width (self, masked)
        extra = width - snd[n].shape[1]
        if extra:
            rows = snd[n].shape[0]
            own = (np.arange(rows) + (sum(x.shape[0] for x in snd[:n])))[:, None]
            snd[n] = np.concatenate([snd[n], np.repeat(own, extra, axis=1)], axis=1)
            shf[n] = np.concatenate([shf[n], np.zeros((rows, extra, 3))], axis=1)
            msk[n] = np.concatenate([msk[n], np.zeros((rows, extra), dtype=bool)], axis=1)

    def t(x, dt=dtype):
        return torch.as_tensor(np.concatenate(x), dtype=dt, device=device)

    return Graph(t(pos), t(mom), t(spec, torch.long), t(bat, torch.long),
                 torch.as_tensor(np.stack(cells), dtype=dtype, device=device),
                 t(snd, torch.long), t(shf), t(msk, torch.bool))
