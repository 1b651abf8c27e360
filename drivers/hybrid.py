"""Hybrid lattice MD / moment Monte Carlo: n MD steps with the moments frozen, then m Metropolis
sweeps of the moments at frozen positions, repeated.

Each half samples its conditional distribution at temperature T: thermostatted MD (Langevin or
Bussi, :mod:`.md`) leaves exp(−[E(R, m) + K(p)]/k_B T) invariant for fixed m, and a Metropolis
sweep (:func:`.montecarlo.sweep`) leaves exp(−E(R, m)/k_B T) invariant for fixed R; alternating
two kernels that each preserve the joint distribution preserves it too (a Gibbs-like
composition; e.g. Ma, Woo & Dudarev, Phys. Rev. B 78, 024434 (2008) for spin-lattice dynamics
of Fe, and Frenkel & Smit, *Understanding Molecular Simulation*, ch. 14 for hybrid MC schemes).
Without a thermostat the MD half is NVE and only the moments are at T.

Option ``relax_moments`` (adiabatic): before every MD segment the moments are relaxed to the
nearest minimum of E at the current positions with :func:`.minimise.minimise_moments` (Born–
Oppenheimer-like magnetism; this no longer samples the magnetic disorder, so combine it with
``mc_sweeps=0`` unless you know why you want both).

Bookkeeping: the MC running energy is reset from the MD energy after every MD segment (the
positions moved), and forces are recomputed after the sweeps (the moments moved). ``mc_heat``
accumulates the energy changes of accepted moves (and of relaxations), so the effective energy
E + K − heat − mc_heat stays constant up to the MD integration error.

Checkpoints (:func:`save_hybrid`/:func:`load_hybrid`) hold the positions, momenta, forces,
moments, counters, MC move steps, the records so far and the generator state, written
atomically (temporary file + rename) like :mod:`.checkpoint`; a resumed run gives the same
numbers, bit for bit, as an uninterrupted one with the same seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from spinlattice.errors import InputError
from spinlattice.spinmodel import local_spin_model

from . import md as mdmod
from .checkpoint import read_checkpoint, write_checkpoint
from .montecarlo import ChainState, MoveSet, adapt_steps, colour_sites, start_chain, sweep

_VERSION = 1


@dataclass
class HybridState:
    """Everything a hybrid run needs to continue: the MD state (whose ``state.moments`` are the
    current moments), the Monte Carlo chain (step sizes, acceptance counts), cycles done and the
    energy the MC moves and relaxations have changed so far (eV)."""

    md: mdmod.MDState
    chain: ChainState
    cycle: int = 0
    mc_heat: float = 0.0

    @property
    def conserved(self) -> float:
        """E + K − thermostat heat − mc_heat, eV."""
        return self.md.conserved - self.mc_heat


RECORDS = ("cycle", "time", "potential_energy", "kinetic_energy", "temperature", "conserved",
           "magnetisation", "acceptance")


@dataclass
class HybridRecords:
    """One row per cycle, taken after its MC sweeps.

    cycle; time fs; potential_energy, kinetic_energy, conserved eV; temperature (kinetic) K;
    magnetisation (C, 3) Σ_i m_i μB; acceptance: fraction of MC moves accepted in the cycle
    (NaN when no sweeps).
    """

    cycle: np.ndarray
    time: np.ndarray
    potential_energy: np.ndarray
    kinetic_energy: np.ndarray
    temperature: np.ndarray
    conserved: np.ndarray
    magnetisation: np.ndarray
    acceptance: np.ndarray


def _records(rows):
    out = {k: np.array(rows[k], dtype=float) for k in RECORDS}
    out["cycle"] = out["cycle"].astype(np.int64)
    out["magnetisation"] = out["magnetisation"].reshape(-1, 3)
    return HybridRecords(**out)


def start_hybrid(potential, state, temperature, rng, moves=None, zero_momentum=True,
                 stress=False, frozen=None):
    """A :class:`HybridState` at ``state``: momenta from ``state.momenta`` or Maxwell–Boltzmann at
    ``temperature`` from ``rng``; masses default to ASE's; ``stress`` for a barostat;
    ``frozen`` (N,) bool marks moments MC never moves (e.g. non-magnetic atoms)."""
    md = mdmod.start_md(potential, state, temperature, rng, zero_momentum=zero_momentum,
                        stress=stress)
    chain = start_chain(potential, md.state, moves, active=_active(frozen, state.n_atoms))
    return HybridState(md=md, chain=chain)


def _active(frozen, n_atoms):
    """Indices of the sites MC may move (None = all) from a (N,) bool ``frozen`` mask."""
    if frozen is None:
        return None
    frozen = np.asarray(frozen, dtype=bool)
    if frozen.shape != (n_atoms,):
        raise InputError(f"frozen must have shape ({n_atoms},), got {frozen.shape}")
    active = np.flatnonzero(~frozen)
    if active.size == 0:
        raise InputError("every site is frozen: nothing for Monte Carlo to move")
    return active


def _set_moments(potential, hs, moments):
    """New moments into the MD state: forces recomputed, energy change into ``mc_heat``."""
    old = hs.md.energy
    md = mdmod.refresh(potential, replace(hs.md, state=hs.md.state.replace(moments=moments)))
    hs.md = md
    hs.mc_heat += md.energy - old


def hybrid_cycle(potential, hs, temperature, rng, dt, md_steps, mc_sweeps, thermostat=None,
                 adapt=False, relax_moments=False, relax_options=None, barostat=None,
                 active=None, use_spin_model=True):
    """One cycle in place: [relax moments], ``md_steps`` MD steps, ``mc_sweeps`` MC sweeps at
    ``temperature`` (K), forces refreshed. ``adapt`` adapts the MC step sizes after the sweeps
    (equilibration only). ``active``: site indices MC moves (None = all). With
    ``use_spin_model`` and a potential that reduces to a ``LocalSpinModel`` at the current
    positions (rebuilt every cycle), the sweeps run entirely in numba. Returns the fraction of
    MC moves accepted (NaN without sweeps)."""
    if relax_moments:
        from .minimise import minimise_moments

        result = minimise_moments(potential, hs.md.state, **(relax_options or {}))
        _set_moments(potential, hs, result.state.moments)
    for _ in range(md_steps):
        hs.md = mdmod.md_step(potential, hs.md, dt, thermostat, rng, barostat)
    accepted = float("nan")
    if mc_sweeps > 0:
        chain = hs.chain
        chain.moments = hs.md.state.moments.copy()
        chain.energy = hs.md.energy
        chain.magnetisation = chain.moments.sum(axis=0)
        positions = hs.md.state.replace(moments=chain.moments)
        model = local_spin_model(potential, positions) if use_spin_model else None
        # colours from the current positions; a fixed generator keeps them reproducible without
        # touching the run's stream
        colours = None if model is not None else \
            colour_sites(potential, positions, np.random.default_rng(hs.cycle), active)
        before = chain.counts.sum(axis=0).copy()
        for _ in range(mc_sweeps):
            sweep(potential, positions, chain, colours, temperature, rng, spin_model=model,
                  active=active)
        done = chain.counts.sum(axis=0) - before
        accepted = done[1] / done[0] if done[0] else float("nan")
        if adapt:
            adapt_steps(chain)
        _set_moments(potential, hs, chain.moments.copy())
    hs.cycle += 1
    return accepted


def run_hybrid(potential, state, temperature, n_cycles, rng, *, dt, md_steps, mc_sweeps,
               thermostat=None, moves=None, n_equilibration=0, relax_moments=False,
               relax_options=None, checkpoint=None, checkpoint_every=10, on_cycle=None,
               barostat=None, frozen=None, use_spin_model=True):
    """Run ``n_cycles`` hybrid cycles; returns (:class:`HybridState`, :class:`HybridRecords`).

    potential : a ``LocalMomentPotential`` (Monte Carlo needs ``local_energy_changes``)
    state : ``SpinLatticeState`` (positions, moments; momenta or Maxwell–Boltzmann at T) or a
        :class:`HybridState` to continue
    temperature : K, for the MC sweeps and the initial momenta
    rng : ``numpy.random.Generator`` (the only source of randomness)
    dt : fs; md_steps, mc_sweeps : per cycle (either may be 0)
    thermostat : None (NVE), ``md.Langevin`` or ``md.Bussi`` (normally at ``temperature``)
    moves : :class:`~.montecarlo.MoveSet`; the first ``n_equilibration`` cycles adapt its steps
    relax_moments : relax the moments before every MD segment (:mod:`.minimise`, with
        ``relax_options`` passed to ``minimise_moments``, e.g. ``{"mode": "fixed"}``)
    checkpoint : path of a ``.npz``; if it exists the run resumes from it (same numbers as an
        uninterrupted run), and it is rewritten every ``checkpoint_every`` cycles and at the end
    on_cycle : optional ``on_cycle(hybrid_state)`` after every cycle (must not modify it)
    barostat : optional ``md.StochasticCellRescaling`` acting during the MD steps (NPT)
    frozen : (N,) bool, moments MC never moves (e.g. non-magnetic atoms)
    use_spin_model : whole MC sweeps in numba when the potential reduces to a LocalSpinModel
    """
    dt = mdmod._check_dt(dt)
    for name, value in (("n_cycles", n_cycles), ("md_steps", md_steps), ("mc_sweeps", mc_sweeps),
                        ("n_equilibration", n_equilibration)):
        if int(value) != value or value < 0:
            raise InputError(f"{name} must be a non-negative integer, got {value!r}")
    if int(checkpoint_every) != checkpoint_every or checkpoint_every < 1:
        raise InputError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    mdmod._check_temperature(temperature)
    active = _active(frozen, _n_atoms(state))
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if thermostat is not None and not isinstance(thermostat, mdmod.THERMOSTATS):
        raise InputError(f"unknown thermostat {thermostat!r}: use md.Langevin, md.Bussi or None")
    resumed = load_hybrid(checkpoint, rng) if checkpoint is not None else None
    if resumed is not None:
        hs, rows = resumed
        if hs.md.state.n_atoms != _n_atoms(state):
            raise InputError(f"checkpoint {checkpoint} holds {hs.md.state.n_atoms} atoms, "
                             f"the state has {_n_atoms(state)}")
    else:
        hs = state if isinstance(state, HybridState) else \
            start_hybrid(potential, state, temperature, rng, moves, stress=barostat is not None,
                         frozen=frozen)
        if barostat is not None and hs.md.pv == 0.0:
            hs.md = replace(hs.md, pv=barostat.pressure * hs.md.state.volume)
        rows = {k: [] for k in RECORDS}
    total = int(n_cycles)
    while hs.cycle < total:
        acc = hybrid_cycle(potential, hs, temperature, rng, dt, int(md_steps), int(mc_sweeps),
                           thermostat, adapt=hs.cycle < n_equilibration,
                           relax_moments=relax_moments, relax_options=relax_options,
                           barostat=barostat, active=active, use_spin_model=use_spin_model)
        obs = mdmod.observe(hs.md)
        for key, value in (("cycle", hs.cycle), ("time", hs.md.time),
                           ("potential_energy", hs.md.energy),
                           ("kinetic_energy", obs["kinetic_energy"]),
                           ("temperature", obs["temperature"]), ("conserved", hs.conserved),
                           ("magnetisation", hs.md.state.moments.sum(axis=0)), ("acceptance", acc)):
            rows[key].append(value)
        if on_cycle is not None:
            on_cycle(hs)
        if checkpoint is not None and (hs.cycle % checkpoint_every == 0 or hs.cycle == total):
            save_hybrid(checkpoint, hs, rows, rng)
    return hs, _records(rows)


def _n_atoms(state):
    return state.md.state.n_atoms if isinstance(state, HybridState) else state.n_atoms


# --- checkpoints ---------------------------------------------------------------------------
def save_hybrid(path, hs, rows, rng):
    """Write ``hs``, the record lists ``rows`` and ``rng``'s state to ``path`` (.npz) atomically."""
    md, chain, s = hs.md, hs.chain, hs.md.state
    meta = {"version": _VERSION, "cycle": hs.cycle, "mc_heat": hs.mc_heat,
            "energy": md.energy, "step": md.step, "time": md.time, "heat": md.heat,
            "zero_momentum": md.zero_momentum, "pv": md.pv, "chain_energy": chain.energy,
            "sweeps": chain.sweeps, "moves": asdict(chain.moves)}
    arrays = {"positions": s.positions, "momenta": s.momenta, "masses": s.masses,
              "moments": s.moments, "numbers": s.numbers, "cell": s.cell, "pbc": s.pbc,
              "forces": md.forces, "chain_moments": chain.moments,
              "chain_magnetisation": chain.magnetisation, "counts": chain.counts}
    if md.stress is not None:
        arrays["stress"] = md.stress
    for key in RECORDS:
        arrays["rec_" + key] = np.array(rows[key], dtype=float)
    write_checkpoint(path, "hybrid MD/MC", meta, arrays, rng)


def load_hybrid(path, rng):
    """(HybridState, record lists) from ``path`` with ``rng`` set to the saved state; None if
    the file does not exist. Raises FileFormatError for a damaged or foreign file."""
    from spinlattice.state import SpinLatticeState

    loaded = read_checkpoint(path, "hybrid MD/MC", _VERSION, rng)
    if loaded is None:
        return None
    meta, a = loaded
    state = SpinLatticeState(positions=a["positions"], numbers=a["numbers"], cell=a["cell"],
                             pbc=a["pbc"], moments=a["moments"], momenta=a["momenta"],
                             masses=a["masses"])
    md = mdmod.MDState(state=state, forces=a["forces"], energy=meta["energy"],
                       stress=a.get("stress"), step=meta["step"], time=meta["time"],
                       heat=meta["heat"], zero_momentum=meta["zero_momentum"], pv=meta["pv"])
    chain = ChainState(moments=a["chain_moments"], energy=meta["chain_energy"],
                       magnetisation=a["chain_magnetisation"], counts=a["counts"],
                       moves=MoveSet(**meta["moves"]), sweeps=meta["sweeps"])
    rows = {k: list(a["rec_" + k]) for k in RECORDS}
    rows["magnetisation"] = list(a["rec_magnetisation"].reshape(-1, 3))
    return HybridState(md=md, chain=chain, cycle=meta["cycle"], mc_heat=meta["mc_heat"]), rows


__all__ = ["HybridState", "HybridRecords", "start_hybrid", "hybrid_cycle", "run_hybrid",
           "save_hybrid", "load_hybrid", "RECORDS"]
