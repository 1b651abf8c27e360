"""Training configuration: defaults, validation (unknown keys are errors), LR schedule.

A configuration is a nested dict (JSON on the command line). Every key is optional except
``data.path``; :func:`resolve_config` merges the user's dict into :data:`DEFAULTS` and raises
:class:`spinlattice.errors.InputError` naming any unknown key (``loss.enrgy`` → "unknown
configuration key 'loss.enrgy'; allowed: ...").

Fine-tuning defaults follow Ho et al., arXiv 2604.08143 (lr 5e-4, gradient clip 10);
loss weights E/F/σ/h = 1/100/1/100 follow their code.
"""

from __future__ import annotations

import copy
import math

from spinlattice.errors import InputError

DEFAULTS = {
    "data": {
        "path": None,            # extxyz(.gz) with the training (and split-off) frames
        "keys": {},              # energy_key / forces_key / stress_key / moment_key / magnetic_forces_key
        "cache": None,           # pickle cache of the parsed frames (path)
        "zero_moments": False,   # non-magnetic baseline: all moments (and h labels) removed
        "test_path": None,       # optional separate test file (added to the test split)
        # unconstrained self-consistent DFT: label h = 0 where a frame has no magnetic forces
        "stationary_moments": False,
        # {group: δ eV/atom added to its energy labels, or {"match": reference group,
        # "max_strain": 0.01}: minus the offset measured on twin structures of the training
        # frames (labels.twin_energy_offset)} -- data from several sets of DFT settings
        "energy_shifts": {},
    },
    "split": {
        "group_key": "config_type",  # or any info key, e.g. "source_file"
        "test_groups": [], "valid_groups": [], "exclude_groups": [], "only_groups": None,
        "test_fraction": 0.0, "valid_fraction": 0.1, "max_train": None, "seed": 0,
    },
    "model": {
        "channels": 16, "n_layers": 1, "correlation": 2, "r_max": 4.5, "l_pos_max": 2,
        "l_mag_max": 1, "n_bessel": 8, "n_mag_basis": 6, "m_max": "auto", "spin_orbit": False,
        "radial_hidden": 16, "readout_hidden": 0, "avg_num_neighbors": "auto",
        "wall_strength": 1.0, "chunk_size": 4096, "dtype": "float32", "seed": 0,
        "vector_channels": 0,
    },
    # magnetic "auto": fit E0_z(|m|) only when the training frames carry magnetic forces
    "one_body": {"fit": True, "magnetic": "auto", "smoothness": 1e-6, "ridge": 1e-8,
                 "n_grid": 200, "scale": "auto"},
    "loss": {"kind": "huber", "huber_delta": 0.01, "energy": 1.0, "forces": 100.0,
             "stress": 1.0, "magnetic_forces": 100.0, "group_weights": {}},
    "optim": {"optimizer": "adamw", "amsgrad": True, "lr": 0.01, "weight_decay": 0.0,
              "clip": 10.0, "schedule": "cosine", "warmup_steps": 0, "lr_min_factor": 0.02,
              "ema_decay": 0.99, "batch_size": 4, "max_steps": 1000, "max_time_s": None,
              # {group: k}: the training frames of that group are drawn k times per epoch
              "group_repeats": {}},
    # MACE-style second stage (Batatia et al., NeurIPS 2022, training protocol): from step
    # start_fraction·max_steps on, the loss weights in "loss" replace the first-stage ones
    # (typically a much larger energy weight) and, if "lr" is set, the lr is that constant;
    # "kind" / "huber_delta", if set, replace the loss form (e.g. "mse": the RMSE is what is
    # reported, and a Huber loss with a small delta fits the median, not the tails).
    "stage_two": {"start_fraction": None, "loss": {}, "lr": None, "kind": None,
                  "huber_delta": None},
    "finetune": {"freeze": [], "refit_one_body": "shift"},  # "shift" | true (full refit) | false
    "augment_spin_rotation": "auto",
    # threads: torch *and* numba threads (loop.set_threads); None leaves both as they are.
    # device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when torch sees one): where the model,
    # the batches and the optimiser state live (loop.resolve_device)
    "device": "cpu",
    "eval_every": 100, "eval_batch_size": 8, "checkpoint_every": 100, "log_every": 10,
    "seed": 0, "threads": None, "output": "train-run", "plots": True, "resume": True,
    "evaluate_sets": ["train", "valid", "test"],
}

#: Sections whose keys are free-form (user names).
_FREE = {("data", "keys"), ("data", "energy_shifts"), ("loss", "group_weights"),
         ("stage_two", "loss"), ("optim", "group_repeats")}

FINETUNE_OPTIM = {"lr": 5e-4, "clip": 10.0}


def _merge(base, user, path=""):
    out = copy.deepcopy(base)
    for k, v in user.items():
        where = f"{path}{k}"
        if k not in base:
            raise InputError(f"unknown configuration key {where!r}; allowed: {sorted(base)}")
        if isinstance(base[k], dict) and tuple(where.split(".")) not in _FREE:
            if not isinstance(v, dict):
                raise InputError(f"configuration key {where!r} must be an object")
            out[k] = _merge(base[k], v, where + ".")
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_config(user, finetune=False):
    """Defaults ⊕ ``user`` (dict), validated. ``finetune`` uses lr 5e-4 and clip 10 unless the
    user sets them."""
    if not isinstance(user, dict):
        raise InputError("the configuration must be a JSON object")
    base = copy.deepcopy(DEFAULTS)
    if finetune:
        base["optim"].update(FINETUNE_OPTIM)
    cfg = _merge(base, user)
    if not cfg["data"]["path"]:
        raise InputError("configuration needs data.path (an extxyz file)")
    o, lo = cfg["optim"], cfg["loss"]
    if o["optimizer"] not in ("adamw", "adam"):
        raise InputError(f"optim.optimizer must be 'adamw' or 'adam', got {o['optimizer']!r}")
    if o["schedule"] not in ("constant", "cosine", "exponential"):
        raise InputError("optim.schedule must be 'constant', 'cosine' or 'exponential'")
    s2 = cfg["stage_two"]
    for where, kind in (("loss.kind", lo["kind"]), ("stage_two.kind", s2["kind"] or "mse")):
        if kind not in ("huber", "mse"):
            raise InputError(f"{where} must be 'huber' or 'mse', got {kind!r}")
    for k in ("energy", "forces", "stress", "magnetic_forces"):
        if float(lo[k]) < 0:
            raise InputError(f"loss.{k} must be ≥ 0")
    if int(o["batch_size"]) < 1 or int(o["max_steps"]) < 0 or float(o["lr"]) <= 0:
        raise InputError("need optim.batch_size ≥ 1, optim.max_steps ≥ 0, optim.lr > 0")
    if not 0.0 <= float(o["ema_decay"]) < 1.0:
        raise InputError("optim.ema_decay must lie in [0, 1)")
    if cfg["model"]["dtype"] not in ("float32", "float64"):
        raise InputError("model.dtype must be 'float32' or 'float64'")
    if cfg["augment_spin_rotation"] not in ("auto", True, False):
        raise InputError("augment_spin_rotation must be 'auto', true or false")
    if s2["start_fraction"] is not None and not 0.0 <= float(s2["start_fraction"]) <= 1.0:
        raise InputError("stage_two.start_fraction must lie in [0, 1] (or be null)")
    for k, v in s2["loss"].items():
        if k not in ("energy", "forces", "stress", "magnetic_forces") or float(v) < 0:
            raise InputError(f"stage_two.loss.{k}: need a weight ≥ 0 of energy, forces, "
                             "stress or magnetic_forces")
    for k in ("eval_every", "checkpoint_every", "log_every"):
        if int(cfg[k]) < 1:
            raise InputError(f"{k} must be ≥ 1")
    return cfg


def stage_two_start(cfg):
    """First step of the second stage (an int), or None when there is none."""
    f = cfg["stage_two"]["start_fraction"]
    return None if f is None else int(round(float(f) * int(cfg["optim"]["max_steps"])))


def loss_weights(step, cfg):
    """{property: weight} in force at ``step`` (pure function of the step, like the lr)."""
    w = {k: float(cfg["loss"][k]) for k in ("energy", "forces", "stress", "magnetic_forces")}
    start = stage_two_start(cfg)
    if start is not None and step >= start:
        w.update({k: float(v) for k, v in cfg["stage_two"]["loss"].items()})
    return w


def loss_form(step, cfg):
    """(kind, huber_delta) of the loss at ``step``: "loss" or, inside the second stage,
    ``stage_two``'s kind / huber_delta where set."""
    kind, delta = cfg["loss"]["kind"], float(cfg["loss"]["huber_delta"])
    start, s2 = stage_two_start(cfg), cfg["stage_two"]
    if start is not None and step >= start:
        kind = s2["kind"] or kind
        delta = float(s2["huber_delta"]) if s2["huber_delta"] is not None else delta
    return kind, delta


def stage_learning_rate(step, cfg):
    """:func:`learning_rate`, or the constant ``stage_two.lr`` inside the second stage."""
    start, lr2 = stage_two_start(cfg), cfg["stage_two"]["lr"]
    if start is not None and step >= start and lr2 is not None:
        return float(lr2)
    return learning_rate(step, cfg["optim"])


def learning_rate(step, optim):
    """lr at ``step`` (pure function of the step, so resuming needs no scheduler state).

    constant: lr. cosine: lr·[f + (1 − f)(1 + cos(π s/S))/2] with f = lr_min_factor,
    S = max_steps. exponential: lr · f^(s/S). A linear warm-up over ``warmup_steps`` multiplies
    all three.
    """
    lr, S, f = float(optim["lr"]), max(int(optim["max_steps"]), 1), float(optim["lr_min_factor"])
    s = min(step, S)
    if optim["schedule"] == "cosine":
        val = lr * (f + (1.0 - f) * 0.5 * (1.0 + math.cos(math.pi * s / S)))
    elif optim["schedule"] == "exponential":
        val = lr * f ** (s / S)
    else:
        val = lr
    w = int(optim["warmup_steps"])
    if w > 0 and step < w:
        val *= (step + 1) / w
    return val
