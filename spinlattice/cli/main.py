"""The ``spinlattice`` command line. Subcommands import the wings lazily; nothing imports this.

    spinlattice info                 versions, threads, devices
    spinlattice check-data FILE      summarise an extxyz file with moments; check its labels
    spinlattice curie [CONFIG]       Curie temperature by Monte Carlo temperature sweeps
    spinlattice minimise [CONFIG]    magnetic ground state by random-start minimisation (Mn3Pt)
    spinlattice neb [CONFIG]         Bain path by solid-state NEB with relaxed moments, and c/a scan
    spinlattice exchange [CONFIG]    Heisenberg J by shell from energies of rotated moments
    spinlattice anisotropy [CONFIG]  energy vs common spin axis, uniaxial and cubic K1, K2
    spinlattice train CONFIG         train mMACE on extxyz DFT data
    spinlattice finetune CONFIG --from CHECKPOINT   fine-tune a pre-trained mMACE
    spinlattice evaluate CHECKPOINT DATA            RMSE/MAE of a model on an extxyz file
"""

from __future__ import annotations

import argparse
import sys


def _info(args):
    import numba
    import numpy

    import spinlattice

    print(f"spinlattice {spinlattice.__version__}")
    print(f"numpy {numpy.__version__}, numba {numba.__version__} "
          f"({numba.get_num_threads()} threads)")
    try:
        import torch
        cuda = torch.cuda.is_available()
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
              f"CUDA {'available: ' + torch.cuda.get_device_name(0) if cuda else 'not available'}")
    except ImportError:
        print("torch not installed (needed for mMACE only)")
    return 0


def _check_data(args):
    import numpy as np

    from spinlattice.io import read_extxyz

    keys = {k: v for k, v in (("moment_key", args.moment_key),
                              ("magnetic_forces_key", args.magnetic_forces_key)) if v}
    frames = read_extxyz(args.file, **keys)  # keys left at their defaults are optional
    n_atoms = np.array([f.state.n_atoms for f in frames])
    moments = np.concatenate([np.linalg.norm(f.state.moments, axis=1) for f in frames])
    with_h = sum(f.magnetic_forces is not None for f in frames)
    print(f"{args.file}: {len(frames)} frames, {n_atoms.sum()} atoms "
          f"({n_atoms.min()}–{n_atoms.max()} per frame)")
    print(f"|m|: min {moments.min():.3f}, mean {moments.mean():.3f}, max {moments.max():.3f} μB; "
          f"frames with magnetic forces: {with_h}")
    if any(f.energy is not None and f.stress is not None for f in frames):
        _print_label_consistency(frames, args.max_strain)
    return 0


def _print_label_consistency(frames, max_strain):
    """Stress vs energy labels per config type, and energy offsets between config types
    (:func:`spinlattice.potentials.training.labels.consistency_by_group`)."""
    from spinlattice.potentials.training.labels import consistency_by_group, offset_text

    c = consistency_by_group(frames, max_strain)
    if not c["groups"] and not c["cross"]:
        print(f"stress vs energy labels: no frames related by a strain ‖F − 1‖ ≤ {max_strain:g}")
    for g, r in c["groups"].items():
        print(f"stress vs energy labels, {g}: {r['n_same_branch']} strain pairs, "
              f"RMS ΔE {r['rms_energy_change']:.3f}, RMS (ΔE − work of stress and forces) "
              f"{r['rms_residual']:.3f} meV/atom; isotropic stress offset {offset_text(r)}")
    for g1, g2, n, mean, std in c["cross"]:
        print(f"energy offset {g2} − {g1}: {mean:+.2f} ± {std:.2f} meV/atom over {n} pairs of "
              "the same structure (different DFT settings? one model cannot fit both)")


def _lazy(module, function="main"):
    """A handler that imports ``spinlattice.cli.<module>`` only when its subcommand runs."""
    def run(args):
        import importlib
        return getattr(importlib.import_module(f"spinlattice.cli.{module}"), function)(args)
    return run


def _workflow(sub, name, help, doc, handler, quick_test=False):
    """A subcommand taking an optional JSON CONFIG and --output (the workflow convention)."""
    p = sub.add_parser(name, help=help)
    p.add_argument("config", nargs="?", help=f"JSON configuration (see {doc})")
    p.add_argument("--output", help="output directory (default from the configuration)")
    if quick_test:
        p.add_argument("--quick-test", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=handler)
    return p


def build_parser():
    parser = argparse.ArgumentParser(prog="spinlattice", description="Spin-lattice simulations "
                                     "of magnetic materials.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("info", help="versions, threads and devices")
    p.set_defaults(func=_info)
    p = _workflow(sub, "curie", "Curie temperature by Monte Carlo (quick bcc Fe run without "
                  "CONFIG)", "docs/curie.md", _lazy("curie"), quick_test=True)
    p.add_argument("--quality", choices=["quick", "production"], default="quick",
                   help="preset: quick (2 CPU cores, minutes) or production (paper-sized, GPU)")
    p = _workflow(sub, "minimise", "magnetic ground-state search by random-start moment "
                  "minimisation (synthetic Mn3Pt model without CONFIG)", "docs/minimisation.md",
                  _lazy("minimise"))
    p.add_argument("--n-starts", type=int, help="number of random starts")
    p.add_argument("--seed", type=int, help="random seed")
    _workflow(sub, "neb", "Bain path bcc -> fcc by solid-state NEB with moments relaxed per "
              "image, and a c/a scan (analytic stand-in Fe model without CONFIG)",
              "docs/neb.md", _lazy("neb"), quick_test=True)
    _workflow(sub, "exchange", "Heisenberg exchange constants by shell from energies of rotated "
              "moments, mean-field T_C (built-in bcc Fe model without CONFIG)",
              "docs/exchange.md", _lazy("exchange", "main_exchange"))
    _workflow(sub, "anisotropy", "energy against the common spin axis, fitted to uniaxial and "
              "cubic K1, K2", "docs/exchange.md", _lazy("exchange", "main_anisotropy"))
    p = sub.add_parser("train", help="train mMACE on extxyz DFT data (JSON CONFIG, see "
                       "spinlattice/cli/train.py)")
    p.add_argument("config", help="JSON configuration (data.path required)")
    p.add_argument("--output", help="output directory (default from the configuration)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the configuration's)")
    p.set_defaults(func=_lazy("train", "main_train"))
    p = sub.add_parser("finetune", help="fine-tune a pre-trained mMACE checkpoint (lr 5e-4, "
                       "clip 10 by default)")
    p.add_argument("config", help="JSON configuration (data.path required)")
    p.add_argument("--from", dest="from_checkpoint", required=True,
                   help="model file or training checkpoint to start from")
    p.add_argument("--output", help="output directory (default from the configuration)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the configuration's)")
    p.set_defaults(func=_lazy("train", "main_finetune"))
    p = sub.add_parser("evaluate", help="RMSE/MAE of an mMACE model on an extxyz file")
    p.add_argument("checkpoint", nargs="+",
                   help="model file or training checkpoint; several: their committee mean, and "
                        "how well the committee spread ranks the energy errors")
    p.add_argument("data", help="extxyz file with reference labels")
    p.add_argument("--output", help="directory for metrics.json, metrics.md, parity.png")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--group-key", default="config_type", help="per-group metrics by this key")
    p.add_argument("--zero-moments", action="store_true", help="set all moments to zero")
    p.add_argument("--stationary-moments", action="store_true",
                   help="label h = 0 where a frame has no magnetic forces (converged "
                        "unconstrained DFT): report the model's h at the DFT moments")
    p.add_argument("--energy-shift", action="append", default=[], metavar="GROUP=EV_PER_ATOM",
                   help="add this to the energy labels of a group before comparing (labels "
                        "harmonised as in training: data.energy_shifts); repeatable")
    for k in ("energy", "forces", "stress", "moment", "magnetic-forces"):
        p.add_argument(f"--{k}-key")
    p.set_defaults(func=_lazy("train", "main_evaluate"))
    p = sub.add_parser("check-data", help="summarise an extxyz file with moments and check "
                       "its stress labels against its energies")
    p.add_argument("file")
    p.add_argument("--moment-key", help="per-atom moment column (default REF_magmom)")
    p.add_argument("--magnetic-forces-key",
                   help="per-atom magnetic-force column, then required in every frame "
                        "(default REF_magforces, optional)")
    p.add_argument("--max-strain", type=float, default=0.01,
                   help="largest ‖F − 1‖ of the frame pairs of the stress/energy label check")
    p.set_defaults(func=_check_data)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        import spinlattice
        print(spinlattice.__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except ValueError as exc:  # InputError and friends: a clear message, no traceback
        print(f"spinlattice: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
