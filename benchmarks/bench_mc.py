"""Monte Carlo speed. One line per case, with a baseline measured in the same run.

(a) analytic Heisenberg, bcc Fe nearest neighbours (8 per site), 8192 sites, single thread:
    single-spin cone moves per second of the whole-sweep numba kernel, against a plain
    Python/numpy Metropolis loop (one move per Python iteration) — target ≥ 1e7 moves/s per core.
(b) the built-in ``fe-tb2j-abacus`` model (58 neighbours to 6 Å) at 128 … 3456 sites: the numba
    sweep and the batched-ΔE-per-colour path (what a non-analytic potential uses), against the
    naive scheme of one full energy evaluation per proposed move.
    mMACE at the paper's Fe setting (1 layer, 64x0e, r_max 4.5 Å, l_pos 3, l_mag 3, ν = 3,
    non-SOC, random weights, float64, 2 torch threads) on 1024-atom bcc Fe (a = 2.83 Å): the
    cost of one MC sweep (1024 proposals through the driver's batched colour-class path, with
    the incremental atomic-basis updates of potentials/mmace/local.py) divided by one energy
    evaluation (no gradients) — target ≤ 30. A sweep at this setting takes ~1/2 hour on a busy
    2-core machine, so the sweep is timed over the first colour classes covering
    ``--mmace-proposals`` sites (after one class that builds the cached base) and scaled to
    1024 proposals. Baseline in the same run: the receptive-field subgraph path (re-sums every
    edge of the ≈ 27 receivers per proposal), timed with its base pass cached; in a real sweep
    it also redoes a full base pass after every colour class with an accepted move.

    python benchmarks/bench_mc.py [--sizes 4 8 12] [--sweeps 20]
                                  [--mmace-proposals 64] [--mmace-feal]
"""

import argparse
import time

import numpy as np


def timed(fn, repeats):
    fn()  # warm-up (numba compile, caches)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def python_metropolis(moments, first, neighbours, exchange, beta, rng, n_moves):
    """The baseline: a plain Python loop, numpy for the neighbour sum, one cone move a time."""
    n = moments.shape[0]
    for k in range(n_moves):
        s = k % n
        m = moments[s]
        size = np.linalg.norm(m)
        trial = m + 0.3 * size * rng.standard_normal(3)
        trial *= size / np.linalg.norm(trial)
        nb = neighbours[first[s]:first[s + 1]]
        delta = -np.dot(exchange[first[s]:first[s + 1]], moments[nb] @ (trial - m))
        if delta <= 0 or rng.random() < np.exp(-beta * delta):
            moments[s] = trial


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 12])
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument("--mmace-proposals", type=int, default=64,
                        help="proposals timed for the mMACE sweep estimate (0: skip mMACE)")
    parser.add_argument("--mmace-feal", action="store_true",
                        help="also the paper's FeAl setting (r_max 5, l_mag 1) on the same cell")
    args = parser.parse_args()
    import numba
    from ase.build import bulk

    from spinlattice.drivers.montecarlo import MoveSet, colour_sites, start_chain, sweep
    from spinlattice.potentials import Heisenberg, ShellTable
    from spinlattice.potentials.models import load_model, reference_structure
    from spinlattice.spinmodel import local_spin_model
    from spinlattice.state import SpinLatticeState
    from spinlattice.units import K_B

    numba.set_num_threads(1)

    def fe(size, a, moment):
        atoms = bulk("Fe", "bcc", a=a, cubic=True).repeat(size)
        return SpinLatticeState.from_atoms(atoms, moments=np.tile([0, 0, moment], (len(atoms), 1)))

    # (a) nearest-neighbour Heisenberg
    state = fe(16, 2.866, 2.2)
    pot = Heisenberg(ShellTable({("Fe", "Fe"): [(2.482, 0.007)]}))
    model = local_spin_model(pot, state)
    chain = start_chain(pot, state, MoveSet(weights={"cone": 1.0}))
    rng = np.random.default_rng(0)
    per_sweep = timed(lambda: sweep(pot, state, chain, None, 1000.0, rng, spin_model=model),
                      args.sweeps)
    moments = chain.moments.copy()
    n_py = 20000
    per_py = timed(lambda: python_metropolis(moments, model.first, model.neighbours,
                                             model.exchange, 1 / (K_B * 1000), rng, n_py), 1)
    fast, slow = state.n_atoms / per_sweep, n_py / per_py
    print(f"# bench_mc (1 thread)\nmc-a heisenberg-nn bccFe N={state.n_atoms} numba-sweep "
          f"{fast:12.0f} moves/s  python-loop {slow:9.0f} moves/s  ratio x{fast / slow:7.0f}")

    # (b) TB2J Fe model, both sweep paths against one full evaluation per move
    pot = load_model("fe-tb2j-abacus")
    _, _, a, moment = reference_structure("fe-tb2j-abacus")
    for size in args.sizes:
        state = fe(size, a, moment)
        chain = start_chain(pot, state, MoveSet(weights={"cone": 0.7, "uniform": 0.3}))
        colours = colour_sites(pot, state, rng)
        full = timed(lambda: pot.compute(state.replace(moments=chain.moments)), 3)
        n = state.n_atoms
        for name, spin_model in (("batched-colours", None),
                                 ("numba-sweep", local_spin_model(pot, state))):
            per_sweep = timed(lambda: sweep(pot, state, chain, colours, 1200.0, rng,
                                            spin_model=spin_model), args.sweeps)
            print(f"mc-b {name:15s} tb2j-Fe N={n:5d} {n / per_sweep:10.0f} moves/s  "
                  f"naive {1 / full:8.1f} moves/s  speed-up x{n * full / per_sweep:8.0f}")
    if args.mmace_proposals:
        settings = [("Fe-setting l_mag3", 4.5, 3)]
        if args.mmace_feal:
            settings.append(("FeAl-setting l_mag1", 5.0, 1))
        for label, r_max, l_mag in settings:
            mmace_case(args.mmace_proposals, label, r_max, l_mag)


def mmace_case(n_proposals, label="Fe-setting l_mag3", r_max=4.5, l_mag_max=3):
    """(b) mMACE on 1024-atom bcc Fe: sweep / energy evaluation, incremental and subgraph paths
    (default: the paper's Fe setting)."""
    import os

    import torch
    from ase.build import bulk

    from spinlattice.drivers.montecarlo import MoveSet, colour_sites, start_chain, sweep
    from spinlattice.potentials.mmace import MagneticMACE, MMACEPotential
    from spinlattice.state import SpinLatticeState

    torch.set_num_threads(2)
    model = MagneticMACE([26], channels=64, n_layers=1, correlation=3, r_max=r_max, l_pos_max=3,
                         l_mag_max=l_mag_max, spin_orbit=False, m_max=3.0, seed=0)
    rng = np.random.default_rng(1)
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(8)
    d = rng.normal(size=(len(atoms), 3))
    state = SpinLatticeState.from_atoms(  # paramagnetic start, |m| = 2.2 μB
        atoms, moments=2.2 * d / np.linalg.norm(d, axis=1)[:, None])
    n = state.n_atoms
    pot = MMACEPotential(model)
    chain = start_chain(pot, state, MoveSet(weights={"cone": 0.7, "uniform": 0.3}))  # warm-up
    colours = colour_sites(pot, state, rng)

    def energy_time():  # one call (start_chain was the warm-up), before and after the sweep
        t0 = time.perf_counter()
        pot.compute(state.replace(moments=chain.moments))
        return time.perf_counter() - t0

    energies = [energy_time()]
    sweep(pot, state, chain, colours[-1:], 1200.0, rng)  # builds the cached base
    sub, total = [], 0
    for c in colours[:-1]:
        if total >= n_proposals:
            break
        sub.append(c)
        total += len(c)
    t0 = time.perf_counter()
    sweep(pot, state, chain, sub, 1200.0, rng)
    per_sweep = (time.perf_counter() - t0) / total * n
    energies.append(energy_time())
    energy = float(np.mean(energies))
    # baseline: subgraph path, one batched call of the same sites with its base pass cached
    old = MMACEPotential(model, incremental=False)
    current = state.replace(moments=chain.moments)
    sites = np.concatenate(sub)[:max(1, total // 4)]
    new = np.roll(chain.moments[sites], 1, axis=1)
    old.local_energy_changes(current, sites[:1], new[:1])  # builds its base
    t0 = time.perf_counter()
    old.local_energy_changes(current, sites, new)
    per_old = (time.perf_counter() - t0) / len(sites) * n
    load = os.getloadavg()[0]
    print(f"mc-b mmace {label} bccFe N={n} (2 threads, load {load:.1f}): "
          f"sweep {per_sweep:7.1f} s (from {total} proposals, {len(colours)} colour classes)  "
          f"energy {energy:6.1f} s "
          f"({energies[0]:.1f}, {energies[1]:.1f})  "
          f"ratio {per_sweep / energy:5.1f} (target <= 30)  subgraph path (base cached, "
          f"{len(sites)} proposals) ratio {per_old / energy:5.1f}")


if __name__ == "__main__":
    main()
