"""Throughput and peak memory of the mMACE model (issue 3 "Must show").

    python benchmarks/bench_model.py                 # default cases, jemalloc if installed
    python benchmarks/bench_model.py --quick         # 128-atom cases only
    python benchmarks/bench_model.py --pretrain      # pre-training setting: 128x0e vs +128x1o
    python benchmarks/bench_model.py --kernels       # contraction: blocked torch vs numba kernels
    python benchmarks/bench_model.py --allocator glibc
    python benchmarks/bench_model.py --gpu           # CUDA vs the 2-thread CPU, same run

Every case runs in its own subprocess (so peak RSS = ``ru_maxrss`` of that process alone) with
torch threads = 2, on bcc Fe (a = 2.83 Å) supercells with every fourth atom Al (2 elements),
random moments of 2.2 μB. One line per case: atoms/s of ``MMACEPotential.compute`` (neighbour
list + graph + model, after one warm-up call), peak RSS, parameter count, and the ratio to the
baseline of the same size measured in the same run (full = E+F+stress+magnetic forces in
float64; energy-only and float32 are reported relative to it). With ``--gpu`` the model runs on
CUDA (timings after ``torch.cuda.synchronize``; "peak" is then the CUDA allocator's peak) and
the baseline is the same case on the 2-thread CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
PAPER = dict(channels=64, n_layers=1, correlation=3, r_max=5.0, l_pos_max=3, l_mag_max=1,
             n_bessel=8, n_mag_basis=8)
PRETRAIN = dict(channels=128, n_layers=2, correlation=3, r_max=6.0, l_pos_max=3, l_mag_max=1,
                n_bessel=8, n_mag_basis=8)
# the paper's pre-training hidden irreps 128x0e + 128x1o
PRETRAIN_1O = dict(PRETRAIN, vector_channels=128)
SIZES = {128: (4, 4, 4), 1024: (8, 8, 8), 3456: (12, 12, 12), 8192: (16, 16, 16)}


def child(spec):
    import numpy as np
    import torch
    from ase.build import bulk

    from spinlattice.potentials.mmace import MagneticMACE, MMACEPotential
    from spinlattice.state import SpinLatticeState

    torch.set_num_threads(2)
    if not spec.get("kernels", True):
        from spinlattice.potentials.mmace import folded
        folded.USE_KERNELS = False
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(SIZES[spec["atoms"]])
    numbers = atoms.numbers.copy()
    numbers[::4] = 13
    rng = np.random.default_rng(0)
    m = rng.normal(size=(len(atoms), 3))
    m *= 2.2 / np.linalg.norm(m, axis=1, keepdims=True)
    state = SpinLatticeState(atoms.positions, numbers, atoms.cell[:], [True] * 3, m)
    dtype = getattr(torch, spec["dtype"])
    device = spec.get("device", "cpu")
    model = MagneticMACE([26, 13], **spec["config"], spin_orbit=spec["soc"], dtype=dtype,
                         device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    pot = MMACEPotential(model)
    props = ("energy",) if spec["mode"] == "energy" else (
        "energy", "forces", "stress", "magnetic_forces")
    if spec["mode"] == "local":  # batched MC proposals; the base pass is cached by the potential
        sites = rng.choice(len(atoms), size=spec["proposals"], replace=False)
        new = rng.normal(size=(len(sites), 3))

        def work():
            pot.local_energy_changes(state, sites, new)
            sync()
    else:
        def work():
            pot.compute(state, props)
            sync()
    work()  # warm-up (and, for "local", the cached base pass)
    times, t_end = [], time.perf_counter() + spec["budget"]
    while not times or (time.perf_counter() < t_end and len(times) < 5):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB
    if device == "cuda":
        rss = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(dict(seconds=min(times), reps=len(times), rss_mib=rss,
                          params=model.n_parameters(), n=len(atoms))))


def run_case(spec, allocator):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    if allocator == "jemalloc":
        env["LD_PRELOAD"] = JEMALLOC
        env["MALLOC_CONF"] = "dirty_decay_ms:-1,muzzy_decay_ms:-1,retain:true"
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        return dict(error=proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def gpu_cases(quick):
    """CUDA against the 2-thread CPU: the paper model, full and energy-only, float64/float32,
    and 128 batched MC proposals; the first (CPU float64) case of a size is the baseline."""
    out = []
    for n in [1024] if quick else [1024, 3456, 8192]:
        out.append(dict(name="paper-cpu", config=PAPER, soc=False, atoms=n, dtype="float64",
                        mode="full", budget=5 if quick else 20))
        for dtype, mode in (("float64", "full"), ("float32", "full"), ("float64", "energy")):
            out.append(dict(name="paper-cuda", config=PAPER, soc=False, atoms=n, dtype=dtype,
                            mode=mode, budget=5, device="cuda"))
    for name, device in (("paper-cpu", "cpu"), ("paper-cuda", "cuda")):
        out.append(dict(name=name, config=PAPER, soc=False, atoms=1024, dtype="float64",
                        mode="local", budget=5, proposals=128, device=device))
    return out


def cases(quick, local=False, pretrain=False, kernels=False):
    if kernels:  # baseline: the blocked torch contraction (the CUDA path) on CPU
        return [dict(name=f"paper-{tag}", config=PAPER, soc=False, atoms=n, dtype="float64",
                     mode=mode, budget=20, kernels=k)
                for n in ([128] if quick else [1024])
                for tag, k in (("torch-contr", False), ("numba-contr", True))
                for mode in ("full", "energy")]
    if pretrain:  # baseline: the scalar-only (128x0e) model of the same size
        return [dict(name=name, config=cfg, soc=False, atoms=n, dtype="float64", mode=mode,
                     budget=1)
                for n in ([128] if quick else [128, 1024])
                for name, cfg in (("pretrain-0e", PRETRAIN), ("pretrain-0e+1o", PRETRAIN_1O))
                for mode in ("full", "energy")]
    if local:  # rate = proposals/s (reported in the atoms/s column), ratio vs energy-only
        return [dict(name="paper-nonSOC", config=PAPER, soc=False, atoms=n, dtype="float64",
                     mode=mode, budget=20, proposals=128)
                for n in ([128] if quick else [1024]) for mode in ("energy", "local")]
    out = []
    sizes = [128] if quick else [128, 1024, 3456]
    for n in sizes:
        for dtype, mode in (("float64", "full"), ("float64", "energy"), ("float32", "full")):
            out.append(dict(name="paper-nonSOC", config=PAPER, soc=False, atoms=n, dtype=dtype,
                            mode=mode, budget=20))
    for n in sizes[:2]:
        out.append(dict(name="paper-SOC", config=PAPER, soc=True, atoms=n, dtype="float64",
                        mode="full", budget=20))
        out.append(dict(name="paper-SOC", config=PAPER, soc=True, atoms=n, dtype="float64",
                        mode="energy", budget=20))
    return out + cases(quick, pretrain=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--local", action="store_true",
                    help="only the MC case: 128 single-site proposals per call vs one energy")
    ap.add_argument("--pretrain", action="store_true",
                    help="only the pre-training setting, 128x0e and 128x0e+128x1o")
    ap.add_argument("--kernels", action="store_true",
                    help="only the paper setting with the torch vs the numba contraction")
    ap.add_argument("--gpu", action="store_true",
                    help="the paper model on CUDA against the 2-thread CPU (needs a GPU)")
    ap.add_argument("--allocator", choices=["jemalloc", "glibc"],
                    default="jemalloc" if os.path.exists(JEMALLOC) else "glibc")
    args = ap.parse_args()
    if args.child:
        return child(json.loads(args.child))
    print(f"# mMACE benchmark, torch threads = 2, allocator = {args.allocator}, "
          f"load average at start = {os.getloadavg()[0]:.1f}")
    base = {}
    specs = gpu_cases(args.quick) if args.gpu else cases(args.quick, args.local, args.pretrain,
                                                         args.kernels)
    for spec in specs:
        res = run_case(spec, args.allocator)
        label = f"{spec['name']:16s} N={spec['atoms']:5d} {spec['dtype']:7s} {spec['mode']:6s}"
        if "error" in res:
            print(f"{label} ERROR {res['error']}", flush=True)
            continue
        rate = (spec["proposals"] if spec["mode"] == "local" else res["n"]) / res["seconds"]
        key = ("pretrain" if "pretrain" in spec["name"] else "kernels" if "contr" in spec["name"]
               else spec["name"], spec["atoms"])
        if args.gpu:  # the CPU case of the same size and kind (full or local) is the baseline
            key = ("gpu", spec["atoms"], spec["mode"] == "local")
            if spec.get("device", "cpu") == "cpu":
                base[key] = rate
        elif (spec["dtype"] == "float64" and spec["mode"] == ("energy" if args.local else "full")
                and key not in base):  # the first such case of a size is the baseline
            base[key] = rate
        ratio = rate / base[key] if key in base else float("nan")
        unit = "props/s" if spec["mode"] == "local" else "atoms/s"
        versus = "cpu" if args.gpu else "energy" if args.local else "f64-full"
        print(f"{label} {rate:9.1f} {unit}  peak {res['rss_mib']:7.0f} MiB  "
              f"params {res['params']:7d}  x{ratio:5.2f} vs {versus}  reps {res['reps']}",
              flush=True)


if __name__ == "__main__":
    main()
