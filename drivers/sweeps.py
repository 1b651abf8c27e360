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
    """Samples of one temperature and the moments it ended with (N, 3)."""

    temperature: float
    samples: Samples
    final_moments: np.ndarray
    acceptance: dict


def _save(path, run):
    np.savez(path, temperature=run.temperature, energy=run.samples.energy,
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
            acceptance=dict(zip(d["acceptance_names"].tolist(), d["acceptance_values"].tolist())))


def temperature_sweep(potential, state, temperatures, n_sweeps, rng, n_equilibration=100,
                      moves=None, sample_every=1, sublattice_signs=None, directory=None,
                      progress=None, frozen=None):
    """Run a chain at every temperature (K) and return a list of :class:`TemperatureRun`.

    ``moves`` is copied for every temperature (its steps adapt during each equilibration).
    ``progress(i, temperature, run)`` is called after each temperature. ``frozen`` (N,) bool
    marks sites that never move. With ``directory`` the
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
    runs, moments = [], state.moments
    for i, (temperature, seed) in enumerate(zip(temperatures, seeds)):
        done = None if directory is None else directory / f"T{i:03d}_samples.npz"
        if done is not None and done.exists():
            run = _load(done)
        else:
            chain, samples = run_chain(
                potential, state.replace(moments=moments), temperature, n_sweeps,
                np.random.default_rng(seed), moves=replace(moves, weights=dict(moves.weights)),
                n_equilibration=n_equilibration, sample_every=sample_every,
                sublattice_signs=sublattice_signs, frozen=frozen,
                checkpoint=None if directory is None else directory / f"T{i:03d}_chain.npz")
            run = TemperatureRun(temperature, samples, chain.moments.copy(), chain.acceptance())
            if done is not None:
                _save(done, run)
        runs.append(run)
        moments = run.final_moments
        if progress is not None:
            progress(i, temperature, run)
    return runs
