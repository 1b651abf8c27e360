"""The :class:`~spinlattice.potential.Potential` adapter of :class:`MagneticMACE` (numpy in/out).

``compute`` runs one autograd pass over (positions, strain, moments) for whatever is
requested; ``compute_batch`` does the same for several structures in one graph;
``local_energy_changes`` evaluates many independent single-site moment proposals exactly:
single-layer models by incremental updates of a cached atomic basis (:mod:`.local`), others
on receptive-field subgraphs (:func:`local_energy_changes`).
"""

from __future__ import annotations

import numpy as np
import torch

from spinlattice.errors import InputError
from spinlattice.properties import (ENERGIES, ENERGY, FORCES, MAGNETIC_FORCES, STRESS,
                                    check_properties)

from . import local
from .graph import build_graph


class MMACEPotential:
    """Wrap a :class:`~.model.MagneticMACE` as a ``LocalMomentPotential``.

    Attributes: ``cutoff`` = r_max (Å), ``receptive_field`` = n_layers · r_max (Å),
    ``spin_orbit``, ``max_moment`` {Z: m_max} (μB; beyond it the basis saturates and the
    wall κ (|m| − m_max)³ acts), ``broken_symmetries`` = ∅ (spin rotation is broken by SOC
    and declared through ``spin_orbit``).
    """

    broken_symmetries = frozenset()

    def __init__(self, model, incremental=True):
        """``incremental``: single-layer models evaluate ΔE from a cached atomic basis updated
        by the changed sender (:mod:`.local`); False (or several layers) → receptive-field
        subgraphs (:func:`local_energy_changes`)."""
        self.model = model
        self.incremental = bool(incremental)
        self.cutoff = model.r_max
        self.receptive_field = model.receptive_field
        self.spin_orbit = model.spin_orbit
        self.max_moment = {int(z): float(v) for z, v in model.config["m_max"].items()}
        self._cache = None
        self._inc = None  # (static key, incremental base) of :mod:`.local`

    def __repr__(self):
        c = self.model.config
        return (f"MMACEPotential(species={c['species']}, channels={c['channels']}, "
                f"layers={c['n_layers']}, spin_orbit={c['spin_orbit']})")

    def _graph(self, states):
        return build_graph(states, self.model.species_index, self.model.r_max, self.model.dtype,
                           self.model.device)

    def compute(self, state, properties=(ENERGY,)) -> dict:
        """Properties of one state (names of :mod:`spinlattice.properties`), float64 numpy."""
        return self.compute_batch([state], properties)[0]

    def compute_batch(self, states, properties=(ENERGY,)) -> list:
        """One graph, one autograd pass for several structures; a list of property dicts."""
        properties = check_properties(properties)
        if not states:
            return []
        graph = self._graph(states)
        want_f, want_s, want_m = (p in properties for p in (FORCES, STRESS, MAGNETIC_FORCES))
        if want_f or want_s or want_m:
            out = self.model.energy_and_derivatives(graph, want_f, want_s, want_m)
        else:
            with torch.no_grad():
                energies = self.model.site_energies(graph)
            out = dict(energies=energies)
        batch = graph.batch.cpu().numpy()
        arrays = {k: v.detach().cpu().double().numpy() for k, v in out.items()}
        results = []
        for b, st in enumerate(states):
            sel = batch == b
            res = {}
            e_i = arrays["energies"][sel]
            if ENERGY in properties:
                res[ENERGY] = float(e_i.sum())
            if ENERGIES in properties:
                res[ENERGIES] = e_i.copy()
            if want_f:
                res[FORCES] = arrays["forces"][sel]
            if want_m:
                res[MAGNETIC_FORCES] = arrays["magnetic_forces"][sel]
            if want_s:
                vol = st.volume
                if not vol > 0:
                    raise InputError("stress needs a cell with positive volume")
                v = arrays["virial"][b]
                res[STRESS] = 0.5 * (v + v.T) / vol
            results.append(res)
        return results

    # ------------------------------------------------------------------ local ΔE for MC
    def _tensor_versions(self):
        """Identity and in-place ``_version`` counters of every model tensor (training steps,
        ``set_one_body``, ``.to()`` all change them)."""
        return np.array([(t.data_ptr(), t._version)
                         for t in (*self.model.parameters(), *self.model.buffers())])

    def _base(self, state):
        """No-grad full pass of ``state``, cached while the state's arrays and the model's
        tensors are unchanged."""
        key = (state.positions, state.numbers, state.cell, np.asarray(state.pbc), state.moments,
               self._tensor_versions())
        if self._cache is not None and all(
                a.shape == b.shape and np.array_equal(a, b) for a, b in zip(self._cache[0], key)):
            return self._cache[1]
        graph = self._graph([state])
        with torch.no_grad():
            energies, hs, es = self.model.site_energies(graph, return_layers=True)
        base = dict(graph=graph, hs=hs, es=es, energies=energies,
                    senders=graph.senders.cpu().numpy(), mask=graph.mask.cpu().numpy())
        self._cache = (tuple(np.array(a, copy=True) for a in key), base)
        return base

    def local_energy_changes(self, state, sites, new_moments) -> np.ndarray:
        """ΔE_k (K,) eV of m[sites[k]] → new_moments[k] (K, 3), each against ``state``."""
        sites = np.asarray(sites, dtype=np.int64).reshape(-1)
        new = np.asarray(new_moments, dtype=np.float64)
        if new.shape != (len(sites), 3):
            raise InputError(f"new_moments must have shape ({len(sites)}, 3), got {new.shape}")
        if not np.all(np.isfinite(new)):
            raise InputError("new_moments contain NaN or inf")
        if len(sites) and (sites.min() < 0 or sites.max() >= state.n_atoms):
            raise InputError(f"sites must lie in [0, {state.n_atoms}), got {sites}")
        if not len(sites):
            return np.zeros(0)
        with torch.no_grad():
            if self.incremental and local.supported(self.model):
                base = self._incremental_base(state)
                new_t = torch.as_tensor(new, dtype=self.model.dtype, device=self.model.device)
                de = local.energy_changes(self.model, base, sites, new_t)
            else:
                de = local_energy_changes(self.model, self._base(state), sites, new)
        return de.cpu().double().numpy()

    def _incremental_base(self, state):
        """The :mod:`.local` base of ``state``: reused while positions, species, cell, pbc and
        the model's tensors are unchanged, updated in place where only moments changed, else
        (or when :func:`.local.update_base` declines) rebuilt by one full pass."""
        key = (state.positions, state.numbers, state.cell, np.asarray(state.pbc),
               self._tensor_versions())
        moments = torch.as_tensor(np.asarray(state.moments, dtype=np.float64),
                                  dtype=self.model.dtype, device=self.model.device)
        if self._inc is not None and moments.shape == self._inc[1]["moments"].shape and all(
                a.shape == b.shape and np.array_equal(a, b) for a, b in zip(self._inc[0], key)):
            if local.update_base(self.model, self._inc[1], moments):
                return self._inc[1]
        base = local.build_base(self.model, self._graph([state]))
        self._inc = (tuple(np.array(a, copy=True) for a in key), base)
        return base


def _grow(keys, n_atoms, senders, mask):
    """Keys k·N + i of a set per proposal → the set plus all neighbours (sorted, unique)."""
    atoms = keys % n_atoms
    prop = keys // n_atoms
    nb = senders[atoms]
    ok = mask[atoms]
    more = (prop[:, None] * n_atoms + nb)[ok]
    return np.unique(np.concatenate([keys, more]))


def local_energy_changes(model, base, sites, new):
    """Exact ΔE of K independent single-site proposals on receptive-field subgraphs.

    Let C_0(k) = {s_k} and C_t(k) = C_{t−1}(k) ∪ neighbours(C_{t−1}(k)): only h^{(t)} on
    C_t(k) can change. Layer t is evaluated for the receivers C_t(k) of every proposal at once;
    their senders read proposal-local features for atoms in C_{t−1}(k) and the cached base
    features otherwise. ΔE_k = Σ_t Σ_{i∈C_t(k)} (e_t,new − e_t,base)_i + ΔE_one-body(s_k).
    Cost per proposal ≈ |C_T| site evaluations (1 + neighbours for one layer), not N.
    """
    g = base["graph"]
    N, dev = g.n_atoms, g.positions.device
    K = len(sites)
    z_all = g.species
    new_t = torch.as_tensor(new, dtype=model.dtype, device=dev)
    sites_t = torch.as_tensor(sites, device=dev)
    T_all, S_all = model.moment_features(g.moments, z_all)
    de = (model.one_body(new_t, z_all[sites_t]) - model.one_body(g.moments[sites_t], z_all[sites_t]))
    prev_keys = np.arange(K, dtype=np.int64) * N + sites
    T_new, S_new = model.moment_features(new_t, z_all[sites_t])
    local_table_in = None  # (rows of prev_keys) local sender features
    h_prev_local = None
    for t in range(model.T):
        keys = _grow(prev_keys, N, base["senders"], base["mask"])
        rk, ra = keys // N, keys % N
        rk_t, ra_t = torch.as_tensor(rk, device=dev), torch.as_tensor(ra, device=dev)
        is_site = torch.as_tensor(ra == sites[rk], device=dev)
        moms = torch.where(is_site[:, None], new_t[rk_t], g.moments[ra_t])
        z = z_all[ra_t]
        T, S = model.moment_features(moms, z)
        h_base = base["hs"][t - 1] if t > 0 else None
        base_table = model.sender_table(t, z_all, T_all, S_all, h_base)
        if t == 0:
            local_table = model.sender_table(0, z_all[sites_t], T_new, S_new)
        else:
            local_table = local_table_in
        table = torch.cat([base_table, local_table], dim=0)
        snd = base["senders"][ra]
        look = rk[:, None] * N + snd
        pos = np.searchsorted(prev_keys, look)
        pos = np.minimum(pos, len(prev_keys) - 1)
        found = prev_keys[pos] == look
        nbr = torch.as_tensor(np.where(found, N + pos, snd), device=dev)
        vec = model.edge_vectors(g.positions, g.cells, g.batch, g.senders, g.shifts, ra_t)
        B = model.layer(t, vec, g.mask[ra_t], nbr, table, z, T, S)
        e = model.readout(t, B) - base["es"][t][ra_t]
        de = de + torch.zeros(K, dtype=e.dtype, device=dev).index_add(0, rk_t, e)
        if t < model.T - 1:
            if t == 0:
                h_in = None
            else:  # h^{(t)} of each receiver: local where it changed, base otherwise
                p = np.minimum(np.searchsorted(prev_keys, keys), len(prev_keys) - 1)
                f = torch.as_tensor(prev_keys[p] == keys, device=dev)
                h_in = torch.where(f[:, None], h_prev_local[torch.as_tensor(p, device=dev)],
                                   base["hs"][t - 1][ra_t])
            h_new = model.node_update(t, B, h_in)
            local_table_in = model.sender_table(t + 1, z, T, S, h_new)
            h_prev_local = h_new
        prev_keys = keys
    return de
