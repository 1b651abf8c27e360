"""Neighbour-list speed: spinlattice's numba cell list against ase.neighborlist.neighbor_list.

bcc Fe (a = 2.83 Å), r_cut = 5 Å; best of several repeats after a warm-up (numba compile).
One line per case: atoms, pairs, our time, ASE's time, speed-up (ASE time / our time).

    python benchmarks/bench_neighbors.py [--sizes 12 24] [--threads 2]
"""

import argparse
import os
import time


def best_time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 24],
                        help="cubic bcc repeats (2 atoms each): 12 → 3456, 24 → 27648 atoms")
    parser.add_argument("--cutoff", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    from ase.build import bulk
    from ase.neighborlist import neighbor_list as ase_neighbor_list
    import numba

    from spinlattice.neighbors import neighbor_list

    numba.set_num_threads(args.threads)
    warm = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(3)
    neighbor_list(warm.positions, warm.cell[:], warm.pbc, args.cutoff)
    print(f"# bench_neighbors: r_cut {args.cutoff} Å, numba threads {numba.get_num_threads()}")
    for rep in args.sizes:
        atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(rep)
        cell = atoms.cell[:]
        ours = best_time(lambda: neighbor_list(atoms.positions, cell, atoms.pbc, args.cutoff), 5)
        theirs = best_time(lambda: ase_neighbor_list("ijSDd", atoms, args.cutoff), 2)
        pairs = len(neighbor_list(atoms.positions, cell, atoms.pbc, args.cutoff))
        print(f"neighbors bccFe N={len(atoms):6d} pairs={pairs:8d}  spinlattice {ours * 1e3:8.1f} ms"
              f"  ase {theirs * 1e3:8.1f} ms  speed-up x{theirs / ours:5.1f}")


if __name__ == "__main__":
    main()
