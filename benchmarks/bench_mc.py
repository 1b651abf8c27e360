"""Monte Carlo sweep speed: batched local ΔE per colour against full recomputation per move.

Built-in bcc Fe Heisenberg model (TB2J exchange to 6 Å, 58 neighbours), cone + uniform moves at
1200 K. For each size and both sweep paths (batched ΔE per colour class through the Potential protocol,
and whole sequential sweeps inside numba for a LocalSpinModel): sweeps/s and moves/s, and the
baseline measured
in the same run — one full energy evaluation per proposed move (the naive scheme), whose cost per
sweep is N × t(full energy). One line per case with the speed-up over that baseline.

    python benchmarks/bench_mc.py [--sizes 4 8 12] [--sweeps 20]
"""

import argparse
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 12])
    parser.add_argument("--sweeps", type=int, default=20)
    args = parser.parse_args()
    from ase.build import bulk

    from spinlattice.drivers.montecarlo import MoveSet, colour_sites, start_chain, sweep
    from spinlattice.potentials.models import load_model, reference_structure
    from spinlattice.spinmodel import local_spin_model
    from spinlattice.state import SpinLatticeState

    pot = load_model("fe-tb2j-abacus")
    _, _, a, moment = reference_structure("fe-tb2j-abacus")
    print(f"# bench_mc: {pot!r}, T = 1200 K, moves cone 0.7 / uniform 0.3")
    for size in args.sizes:
        atoms = bulk("Fe", "bcc", a=a, cubic=True).repeat(size)
        state = SpinLatticeState.from_atoms(atoms, moments=np.tile([0, 0, moment], (len(atoms), 1)))
        rng = np.random.default_rng(0)
        chain = start_chain(pot, state, MoveSet(weights={"cone": 0.7, "uniform": 0.3}))
        colours = colour_sites(pot, state, rng)
        model = local_spin_model(pot, state)
        pot.compute(state)
        t0 = time.perf_counter()
        for _ in range(3):
            pot.compute(state.replace(moments=chain.moments))
        full = (time.perf_counter() - t0) / 3
        n = state.n_atoms
        for name, spin_model in (("batched-colours", None), ("numba-sweep", model)):
            sweep(pot, state, chain, colours, 1200.0, rng, spin_model=spin_model)  # warm-up
            t0 = time.perf_counter()
            for _ in range(args.sweeps):
                sweep(pot, state, chain, colours, 1200.0, rng, spin_model=spin_model)
            per_sweep = (time.perf_counter() - t0) / args.sweeps
            print(f"mc {name:15s} bccFe N={n:5d} colours={len(colours):3d} "
                  f"{1 / per_sweep:9.2f} sweeps/s {n / per_sweep:10.0f} moves/s  "
                  f"naive {1 / (n * full):8.4f} sweeps/s  speed-up x{n * full / per_sweep:8.0f}")


if __name__ == "__main__":
    main()
