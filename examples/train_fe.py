"""Train mMACE on the Fe data of Nikolov et al. (npj Comput. Mater. 7, 153 (2021)); ≤ 1 h on 2 cores.

    python examples/train_fe.py [--data ../shared/data/fe_npj2021/fe_npj2021.extxyz.gz]
                                [--variant magnetic|nonmagnetic] [--minutes 45] [--output DIR]

Split (docs/accuracy.md): the whole config types MD-bcc_Te300K (40 frames) and point_def (8)
plus a random 10 % of the rest are the held-out test set; 5 % of the remainder is validation;
seed 0. ``--variant nonmagnetic`` sets every moment to zero (the same architecture without
magnetic information). Non-SOC model (collinear data), spin-rotation augmentation on.
Presets (``--preset``):
* ``small``: 1 layer, 16 channels, ν = 2, l_pos 2, l_mag 1, r_max 4.5 Å, float32, loss weights
  E/F/σ = 1/100/1 (the first-session runs);
* ``paper-fe``: the paper's Fe setting (1 layer, 64x0e, r_max 4.5 Å, l_pos 3, l_mag 3,
  8 magnitude functions) with body order ν = 2 instead of 3 (ν = 3 with l_mag = 3 trains at
  ≈ 5 atoms/s on one core here against ≈ 600 for ν = 2), and loss weights E/F/σ = 50/100/50
  (energy and stress were under-weighted in the small runs);
* ``default-model``: the shipped ``fe-npj2021`` model, ``paper-fe`` with l_mag = 1. The data
  are collinear: a collinear pair only probes P_l'(cos θ) at cos θ = ±1, where P_3 = P_1 and
  P_2 = P_0, so the l' = 2, 3 parts of the moment dependence are not identified by the data and
  the l_mag = 3 model's energy of non-collinear states is arbitrary (docs/curie.md); with
  l_mag = 1 the interpolation between collinear states is the bilinear (Heisenberg) one;
* ``default-model-long``: the shipped model's recipe (45 000 steps, second stage E/F/σ =
  1000/100/100 for the last 25 %);
* ``accurate``: ν = 3 and r_max 5.0 Å, second stage on the mean-squared loss with E/F/σ =
  1000/100/1000 (24 000 steps: 73 min on one core; docs/accuracy.md);
* ``two-layer``: ``default-model`` with two message-passing layers (scalar hidden features)
  and the ``accurate`` second stage (≈ 3.3 steps/s on one core against ≈ 10 for one layer).
``--polish-from MODEL --steps 10000`` fine-tunes a trained model on the mean-squared loss
(:data:`POLISH`; the `default-model-long` model: 10 000 steps, ≈ 11 min on one core);
``--energy-weight``, ``--stress-weight`` and ``--lr`` override its weights and start lr, and
``--variant nonmagnetic`` polishes a non-magnetic model on moment-free data.
``--stationary-moments`` adds the label h = −∂E/∂m = 0 on every magnetic frame: the data are
converged unconstrained DFT, whose moments are stationary points of E(R, m) (weight 100 per
eV/μB component, as for measured magnetic forces; ``--magnetic-force-weight`` changes it).
``--batch-size`` sets the frames per step (default 4) and ``--device cuda`` trains on a GPU.
``--elastic-repeats K`` draws the 2-atom elastic cells K times per epoch (``optim.group_repeats``):
they hold most of the energy error and ≈ 4 % of the atoms, and trained alone they keep
improving well past the epochs a full run gives them (``examples/fe_capacity_check.py``).
``--harmonise-eos`` shifts the EOS_100 energy labels onto EOS_001_Jun2020's
(``data.energy_shifts``): the two types hold the same 54-atom structures 5.08 meV/atom apart
(two sets of DFT settings; measured on the training twins, ``labels.twin_energy_offset``), which
no single model can fit; EOS_001 is the reference because it is the larger set.
Stops after ``--minutes`` (wall clock) or ``--steps``; resumes if the output directory has a
checkpoint. Writes metrics.json / metrics.md / parity.png / learning_curves.png / model.pt.
"""

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "fe_npj2021" / "fe_npj2021.extxyz.gz"
TEST_TYPES = ["MD-bcc_Te300K", "point_def"]
# the same structures at two sets of DFT settings: EOS_100's energy labels moved onto EOS_001's
HARMONISED_EOS = {"EOS_100": {"match": "EOS_001_Jun2020"}}
ELASTIC = "CCMC-bcc-hcp-elastic_Jun2020"  # the 2-atom elastic cells: 54 % of frames, 4 % of atoms


PRESETS = {
    "small": dict(model={"channels": 16, "correlation": 2, "l_pos_max": 2, "l_mag_max": 1,
                         "n_mag_basis": 6, "radial_hidden": 16, "readout_hidden": 0},
                  loss={"energy": 1.0, "stress": 1.0}),
    "paper-fe": dict(model={"channels": 64, "correlation": 2, "l_pos_max": 3,
                            "l_mag_max": 3, "n_mag_basis": 8, "radial_hidden": 32,
                            "readout_hidden": 16},
                     loss={"energy": 50.0, "stress": 50.0}),
}
# the shipped model: as paper-fe but l_mag = 1 (collinear data cannot identify l_mag > 1 terms)
PRESETS["default-model"] = dict(model={**PRESETS["paper-fe"]["model"], "l_mag_max": 1},
                                loss=PRESETS["paper-fe"]["loss"])
# default-model trained ~6x longer with a MACE-style second stage (last 25 %: energy weight
# 1000, stress 100) -- the 9000-step run saw 17 epochs and was under-fitted (train ≈ test error)
PRESETS["default-model-long"] = dict(model=PRESETS["default-model"]["model"],
                                     loss=PRESETS["paper-fe"]["loss"],
                                     stage_two={"start_fraction": 0.75,
                                                "loss": {"energy": 1000.0, "stress": 100.0}})
# aimed at the accuracy targets rather than MC speed: body order ν = 3 and r_max 5.0 Å
# (the paper's FeAl setting), and a mean-squared second stage -- the reported figure is the
# RMSE, which the first stage's Huber loss (δ = 10 meV/atom, 10 meV/Å) does not minimise
PRESETS["accurate"] = dict(model={**PRESETS["default-model"]["model"], "correlation": 3,
                                  "r_max": 5.0},
                           loss=PRESETS["paper-fe"]["loss"],
                           stage_two={"start_fraction": 0.75, "kind": "mse",
                                      "loss": {"energy": 1000.0, "stress": 1000.0}})
# MACE's usual depth: two message-passing layers (scalar hidden features, receptive field
# 2 r_max = 9 Å) on the shipped model's layer settings, mean-squared second stage
PRESETS["two-layer"] = dict(model={**PRESETS["default-model"]["model"], "n_layers": 2},
                            loss=PRESETS["paper-fe"]["loss"],
                            stage_two=PRESETS["accurate"]["stage_two"])


# the mean-squared loss of the polish, of ``--mse`` (from the first step: no Huber stage, no
# stage two) and of examples/fe_capacity_check.py
MSE_LOSS = {"kind": "mse", "energy": 1000.0, "stress": 1000.0}
# a mean-squared "polish" of a trained model (``--polish-from``): all weights, lr 1e-3 → 5e-5
# (cosine), E/F/σ = 1000/100/1000 -- the reported figures are RMSEs, which the Huber loss of the
# main run (δ = 10 meV/atom, 10 meV/Å) does not minimise
POLISH = dict(loss=MSE_LOSS,
              optim={"lr": 1e-3, "clip": 10.0, "schedule": "cosine", "lr_min_factor": 0.05})


def polish_config(data, output, minutes, steps, threads, cache, variant="magnetic",
                  energy_weight=None, stress_weight=None, lr=None, magnetic_force_weight=None):
    """Fine-tuning configuration of the polish (same split; the model comes from the file);
    ``energy_weight`` / ``stress_weight`` / ``magnetic_force_weight`` / ``lr`` override the
    weights of :data:`POLISH` and the base configuration."""
    cfg = config(data, variant, output, minutes, steps, threads, cache,
                 preset="default-model-long")
    del cfg["stage_two"], cfg["model"]
    cfg["loss"].update(POLISH["loss"])
    cfg["optim"].update(POLISH["optim"])
    for key, value in (("energy", energy_weight), ("stress", stress_weight),
                       ("magnetic_forces", magnetic_force_weight)):
        if value is not None:
            cfg["loss"][key] = value
    if lr is not None:
        cfg["optim"]["lr"] = lr
    return cfg


def config(data, variant="magnetic", output=None, minutes=40.0, steps=100000, threads=None,
           cache=None, channels=None, stress_weight=None, preset="small"):
    cfg = base_config(data, variant, output, minutes, steps, threads, cache)
    cfg["model"].update(PRESETS[preset]["model"])
    cfg["loss"].update(PRESETS[preset]["loss"])
    if "stage_two" in PRESETS[preset]:
        cfg["stage_two"] = PRESETS[preset]["stage_two"]
    if channels:
        cfg["model"]["channels"] = channels
    if stress_weight is not None:
        cfg["loss"]["stress"] = stress_weight
    return cfg


def base_config(data, variant, output, minutes, steps, threads, cache):
    return {
        "data": {"path": str(data), "cache": cache, "zero_moments": variant == "nonmagnetic"},
        "split": {"group_key": "config_type", "test_groups": TEST_TYPES, "test_fraction": 0.1,
                  "valid_fraction": 0.05, "seed": 0},
        "model": {"n_layers": 1, "r_max": 4.5, "n_bessel": 8, "spin_orbit": False,
                  "dtype": "float32", "seed": 0},  # the preset may override
        "loss": {"kind": "huber", "huber_delta": 0.01, "forces": 100.0,
                 "magnetic_forces": 100.0},
        "optim": {"lr": 0.01, "amsgrad": True, "batch_size": 4, "max_steps": steps,
                  "schedule": "cosine", "lr_min_factor": 0.02, "ema_decay": 0.99, "clip": 10.0,
                  "max_time_s": 60.0 * minutes},
        "eval_every": 250, "checkpoint_every": 250, "log_every": 50, "eval_batch_size": 16,
        "threads": threads, "seed": 0,
        "output": str(output or f"runs/fe_{variant}"),
    }


def _run_options(cfg, a):
    """``cfg`` with the command line's h = 0 labels, device and batch size (train and polish)."""
    cfg["data"]["stationary_moments"] = a.stationary_moments
    cfg["device"] = a.device
    if a.batch_size:
        cfg["optim"]["batch_size"] = a.batch_size
    if a.elastic_repeats:
        cfg["optim"]["group_repeats"] = {ELASTIC: a.elastic_repeats}
    if a.mse:
        cfg["loss"].update(MSE_LOSS)
        cfg.pop("stage_two", None)
    if a.correlation:
        cfg["model"]["correlation"] = a.correlation
    if a.r_max:
        cfg["model"]["r_max"] = a.r_max
    if a.weight_decay is not None:
        cfg["optim"]["weight_decay"] = a.weight_decay
    if a.harmonise_eos:
        cfg["data"]["energy_shifts"] = dict(HARMONISED_EOS)
    return cfg


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--variant", choices=["magnetic", "nonmagnetic"], default="magnetic")
    p.add_argument("--output")
    p.add_argument("--minutes", type=float, default=45.0)
    p.add_argument("--steps", type=int, default=5000, help="cosine schedule length")
    p.add_argument("--threads", type=int)
    p.add_argument("--preset", choices=sorted(PRESETS), default="small")
    p.add_argument("--channels", type=int, help="override the preset's channel count")
    p.add_argument("--cache", default="runs/cache/fe.pkl", help="pickle cache of the parsed data")
    p.add_argument("--stress-weight", type=float,
                   help="override the preset's loss weight of the stress (eV/Å³) term")
    p.add_argument("--energy-weight", type=float,
                   help="with --polish-from: override the polish's energy (eV/atom) weight")
    p.add_argument("--lr", type=float, help="with --polish-from: override the polish's start lr")
    p.add_argument("--stationary-moments", action="store_true",
                   help="label h = -dE/dm = 0 on every magnetic frame (the data are converged "
                        "unconstrained DFT: data.stationary_moments)")
    p.add_argument("--magnetic-force-weight", type=float,
                   help="with --polish-from: override the loss weight of h (eV/μB), default 100")
    p.add_argument("--device", default="cpu",
                   help="cpu, cuda, cuda:N or auto (the training key 'device')")
    p.add_argument("--batch-size", type=int,
                   help="frames per optimiser step (default 4; 16 is ≈ 1.4x the frames/s)")
    p.add_argument("--elastic-repeats", type=int,
                   help="draw the 2-atom elastic cells this many times per epoch "
                        "(optim.group_repeats; they are ≈ 4 %% of the atoms)")
    p.add_argument("--mse", action="store_true",
                   help="mean-squared loss E/σ 1000/1000 from the first step, no stage two")
    p.add_argument("--correlation", type=int,
                   help="override the preset's body order ν (correlation order)")
    p.add_argument("--r-max", type=float,
                   help="override the cutoff radius r_max [Å] (default 4.5)")
    p.add_argument("--weight-decay", type=float,
                   help="decoupled AdamW weight decay (optim.weight_decay, default 0)")
    p.add_argument("--harmonise-eos", action="store_true",
                   help="shift the EOS_100 energy labels onto EOS_001_Jun2020's by the offset "
                        "measured on their twin structures (data.energy_shifts)")
    p.add_argument("--polish-from", metavar="MODEL",
                   help="instead of training: polish MODEL (e.g. runs/fe_long_magnetic/model.pt) "
                        "with the mean-squared loss for --steps steps")
    a = p.parse_args(argv)
    from spinlattice.potentials.training import finetune, train
    if a.polish_from:
        if a.correlation or a.r_max:
            p.error("--correlation and --r-max change the architecture; a polish keeps the "
                    "model's own")
        out = a.output or f"runs/fe_polish_{a.variant}"
        cfg = polish_config(a.data, out, a.minutes, a.steps, a.threads, a.cache, a.variant,
                            a.energy_weight, a.stress_weight, a.lr, a.magnetic_force_weight)
        res = finetune(_run_options(cfg, a), a.polish_from)
        print(json.dumps(res["metrics"].get("test", {}).get("overall"), indent=1))
        return
    cfg = config(a.data, a.variant, a.output, a.minutes, a.steps, a.threads, a.cache, a.channels,
                 a.stress_weight, a.preset)
    res = train(_run_options(cfg, a))
    print(json.dumps({k: res["metrics"].get("test", {}).get("overall") for k in ["test"]}, indent=1))


if __name__ == "__main__":
    main()
