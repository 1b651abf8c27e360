"""Temperature sweeps of Metropolis chains, resumable.

Temperatures are run in the given order (usually descending, an annealing schedule); each starts
from the final moments of the previous one. Every temperature gets its own generator, seeded
from ``rng`` at the start, so finished temperatures, the one in progress (its chain checkpoint)
and those still to come are all reproducible: an interrupted sweep rerun with the same
arguments and an equally seeded ``rng`` resumes and gives the same numbers.

Files in ``directory`` (optional): ``T{i:03d}_chain.npz`` (checkpoint of the running chain) and
``T{i:03d}_samples.npz`` (samples and final moments of a finished temperature).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .montecarlo import MoveSet, Samples, run_chain


@dataclass
class TemperatureRun:
    """Samples of one temperature and the moments (N, 3) — and, for hybrid MD/MC, positions and
    cell — it ended with."""

    temperature: float
    samples: Samples
    final_moments: np.ndarray
    acceptance: dict
    final_positions: np.ndarray | None = None
    final_cell: np.ndarray | None = None


@dataclass
class HybridSchedule:
    """Hybrid MD/MC at every temperature: per cycle ``md_steps`` Langevin MD steps of ``dt`` fs
    (friction γ in 1/fs) then ``mc_sweeps`` Metropolis sweeps; one sample per cycle, and the
    sweep's ``n_sweeps``/``n_equilibration`` count cycles."""

    dt: float = 1.0
    md_steps: int = 10
    mc_sweeps: int = 1
    friction: float = 0.01


def _save(path, run):
    extra = {} if run.final_positions is None else {"final_positions": run.final_positions,
                                                     "final_cell": run.final_cell}
    np.savez(path, **extra, temperature=run.temperature, energy=run.samples.energy,
             magnetisation=run.samples.magnetisation, staggered=run.samples.staggered,
             final_moments=run.final_moments,
             acceptance_names=np.array(list(run.acceptance), dtype=str),
             acceptance_values=np.array(list(run.acceptance.values()), dtype=float))


def _load(path):
    with np.load(path) as d:
        return TemperatureRun(
            temperature=float(d["temperature"]),
            samples=Samples(d["energy"], d["magnetisation"], d["staggered"]),
            final_moments=d["final_moments"],
            acceptance=dict(zip(d["acceptance_names"].tolist(), d["acceptance_values"].tolist())),
            final_positions=d["final_positions"] if "final_positions" in d.files else None,
            final_cell=d["final_cell"] if "final_cell" in d.files else None)


def temperature_sweep(potential, state, temperatures, n_sweeps, rng, n_equilibration=100,
                      moves=None, sample_every=1, sublattice_signs=None, directory=None,
                      progress=None, frozen=None, hybrid=None):
    """Run a chain at every temperature (K) and return a list of :class:`TemperatureRun`.

    ``moves`` is copied for every temperature (its steps adapt during each equilibration).
    ``progress(i, temperature, run)`` is called after each temperature. ``frozen`` (N,) bool
    marks sites that never move. With ``hybrid`` (a :class:`HybridSchedule`) every temperature
    runs hybrid MD/MC (:func:`.hybrid.run_hybrid`, Langevin thermostat at T) and the next
    temperature starts from the final positions, cell and moments. With ``directory`` the
    sweep checkpoints and resumes (see the module docstring).
    """
    from dataclasses import replace

    temperatures = [float(t) for t in temperatures]
    if not temperatures or min(temperatures) < 0:
        raise ValueError("temperatures must be a non-empty list of values ≥ 0 K")
    seeds = rng.integers(0, 2**63 - 1, size=len(temperatures))
    moves = MoveSet() if moves is None else moves
    directory = None if directory is None else Path(directory)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    runs, current = [], state
    for i, (temperature, seed) in enumerate(zip(temperatures, seeds)):
        done = None if directory is None else directory / f"T{i:03d}_samples.npz"
        chain_file = None if directory is None else directory / f"T{i:03d}_chain.npz"
        if done is not None and done.exists():
            run = _load(done)
        else:
            step_moves = replace(moves, weights=dict(moves.weights))
            run_one = _run_chain if hybrid is None else _run_hybrid
            run = run_one(potential, current, temperature, n_sweeps, np.random.default_rng(seed),
                          step_moves, n_equilibration, sample_every, sublattice_signs, frozen,
                          chain_file, hybrid)
            if done is not None:
                _save(done, run)
        runs.append(run)
        current = current.replace(moments=run.final_moments)
        if run.final_positions is not None:
            current = current.replace(positions=run.final_positions, cell=run.final_cell)
        if progress is not None:
            progress(i, temperature, run)
    return runs


def _run_chain(potential, state, temperature, n_sweeps, rng, moves, n_equilibration,
               sample_every, sublattice_signs, frozen, checkpoint, hybrid):
    chain, samples = run_chain(potential, state, temperature, n_sweeps, rng, moves=moves,
                               n_equilibration=n_equilibration, sample_every=sample_every,
                               sublattice_signs=sublattice_signs, frozen=frozen,
                               checkpoint=checkpoint)
    return TemperatureRun(temperature, samples, chain.moments.copy(), chain.acceptance())


def _run_hybrid(potential, state, temperature, n_cycles, rng, moves, n_equilibration,
                sample_every, sublattice_signs, frozen, checkpoint, hybrid):
    """Hybrid MD/MC at one temperature; samples are the cycles after ``n_equilibration``."""
    from .hybrid import run_hybrid
    from .md import Langevin

    hs, records = run_hybrid(
        potential, state, temperature, n_equilibration + n_cycles, rng, dt=hybrid.dt,
        md_steps=hybrid.md_steps, mc_sweeps=hybrid.mc_sweeps, moves=moves,
        thermostat=Langevin(temperature, hybrid.friction), n_equilibration=n_equilibration,
        checkpoint=checkpoint, frozen=frozen)
    if sublattice_signs is not None:
        raise ValueError("staggered magnetisation is not recorded by hybrid MD/MC runs yet")
    keep = slice(n_equilibration, None, sample_every)
    final = hs.md.state
    magnetisation = records.magnetisation[keep]
    samples = Samples(energy=records.potential_energy[keep], magnetisation=magnetisation,
                      staggered=np.zeros_like(magnetisation))
    acceptance = {"all": float(np.nanmean(records.acceptance[keep]))} \
        if hybrid.mc_sweeps > 0 else {}
    return TemperatureRun(temperature, samples, final.moments.copy(), acceptance,
                          final_positions=final.positions.copy(), final_cell=final.cell.copy())
