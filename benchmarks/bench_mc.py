"""Monte Carlo speed. One line per case, with a baseline measured in the same run.

(a) analytic Heisenberg, bcc Fe nearest neighbours (8 per site), 8192 sites, single thread:
    single-spin cone moves per second of the whole-sweep numba kernel, against a plain
    Python/numpy Metropolis loop (one move per Python iteration) — target ≥ 1e7 moves/s per core.
(b) the built-in ``fe-tb2j-abacus`` model (58 neighbours to 6 Å) at 128 … 3456 sites: the numba
    sweep and the batched-ΔE-per-colour path (what a non-analytic potential uses), against the
    naive scheme of one full energy evaluation per proposed move.

    python benchmarks/bench_mc.py [--sizes 4 8 12] [--sweeps 20]
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


if __name__ == "__main__":
    main()
