"""``spinlattice train CONFIG``, ``spinlattice finetune CONFIG --from CHECKPOINT`` and
``spinlattice evaluate CHECKPOINT [CHECKPOINT ...] DATA``: mMACE training on extxyz DFT data
(several checkpoints: the metrics of their committee mean, ``spinlattice.CommitteePotential``).

CONFIG is a JSON object; only ``data.path`` is required. The keys and defaults are those of
``spinlattice.potentials.training.config.DEFAULTS`` (data, split, model, one_body, loss, optim,
finetune, augment_spin_rotation, eval_every, checkpoint_every, log_every, seed, threads, device,
output, plots, resume); an unknown key is an error. ``--device cuda`` (or the key ``"device"``:
"cpu", "cuda", "cuda:N", "auto") trains on a GPU; asking for CUDA where torch sees none is an
error. Example:

    {"data": {"path": "fe.extxyz.gz", "cache": "runs/cache/fe.pkl"},
     "split": {"test_groups": ["MD-bcc_Te300K"], "test_fraction": 0.1, "valid_fraction": 0.05},
     "model": {"channels": 16, "r_max": 4.5, "spin_orbit": false},
     "loss": {"energy": 1, "forces": 100, "stress": 1, "magnetic_forces": 100},
     "optim": {"lr": 0.01, "batch_size": 4, "max_steps": 5000},
     "output": "runs/fe"}

Data from converged *unconstrained* spin-polarised DFT (no magnetic forces) can set
``"data": {"stationary_moments": true}``: its moments are stationary points of E, so h = 0 is
an exact label (docs/accuracy.md: it halves the point-defect errors of the Fe model; it pins
the slope of E(m) at the DFT moments, not its curvature, so they become stationary, not
necessarily minimal).

The output directory receives checkpoint.pt (resumed automatically when the run is started
again), best.pt, model.pt, log.jsonl, metrics.json, metrics.md, parity.png and
learning_curves.png. Ctrl-C writes a checkpoint and exits with status 130.
"""

from __future__ import annotations

from spinlattice.errors import InputError

from .config import read_json_object


def _load(args):
    cfg = read_json_object(args.config)
    if args.output:
        cfg["output"] = args.output
    if args.device:
        cfg["device"] = args.device
    return cfg


def _report(res):
    if res.get("interrupted"):
        return 130
    print(f"results in {res['output']} (step {res['step']}, best step {res['best_step']})")
    return 0


def main_train(args):
    from spinlattice.potentials.training import train
    return _report(train(_load(args)))


def main_finetune(args):
    from spinlattice.potentials.training import finetune
    return _report(finetune(_load(args), args.from_checkpoint))


def main_evaluate(args):
    from spinlattice.potentials.training import evaluate
    keys = {k: v for k, v in (("energy_key", args.energy_key), ("forces_key", args.forces_key),
                              ("stress_key", args.stress_key), ("moment_key", args.moment_key),
                              ("magnetic_forces_key", args.magnetic_forces_key)) if v}
    evaluate(args.checkpoint, args.data, keys=keys, output=args.output,
             batch_size=args.batch_size, group_key=args.group_key,
             zero_moments=args.zero_moments, stationary_moments=args.stationary_moments,
             device=args.device, energy_shifts=_energy_shifts(args.energy_shift))
    return 0


def _energy_shifts(items):
    """{group: eV/atom} from ``["GROUP=VALUE", ...]`` (the --energy-shift options)."""
    shifts = {}
    for item in items:
        group, _, value = item.rpartition("=")
        try:
            if not group:
                raise ValueError
            shifts[group] = float(value)
        except ValueError:
            raise InputError(f"--energy-shift {item!r}: expected GROUP=EV_PER_ATOM") from None
    return shifts
