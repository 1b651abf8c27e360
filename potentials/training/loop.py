"""The training loop: train, fine-tune, resume, evaluate (see docs/accuracy.md for recipes).

``train(config)`` runs in ``config["output"]``:

1. frames (:func:`.data.load_frames`), split (:func:`.data.split_frames`; ``split.json``);
2. a new :class:`MagneticMACE` (species, m_max = 1.1 × the largest |m| per element and
   n̄ = mean neighbour count of the training frames when "auto"), or the model being
   fine-tuned; E0s and E0_z(|m|) by regularised least squares (:mod:`.onebody`), frozen;
   readout scale = RMS of the training force components (eV/Å) when ``one_body.scale`` is "auto";
3. AdamW/Adam (AMSGrad optional), lr schedule (:func:`.config.learning_rate`; an optional
   second stage with other loss weights, :func:`.config.loss_weights`), gradient-norm
   clipping, an exponential moving average (EMA) of the weights (used for validation, the best
   model and the final metrics), random global spin rotations of each training frame
   (moments and magnetic forces) for non-SOC models;
4. every ``eval_every`` steps the validation loss with the EMA weights; ``best.pt`` keeps the best;
   every ``checkpoint_every`` steps, on Ctrl-C (KeyboardInterrupt) and at the end
   ``checkpoint.pt`` holds model, EMA, optimiser, step and history. All randomness after
   initialisation is a pure function of (seed, step) — batch order by (seed, epoch),
   rotations by (seed, step) — so a resumed run repeats the uninterrupted one bit for bit;
5. ``log.jsonl`` (one JSON line per log/eval event), ``metrics.json`` and ``metrics.md``
   (RMSE/MAE per property, overall and per group, for train/valid/test), parity plots and
   learning curves (``plots.py``), ``model.pt`` (EMA weights of the best step, loadable by
   :func:`spinlattice.potentials.mmace.load_model`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from spinlattice.errors import InputError

from . import data as D
from .config import (loss_form, loss_weights, resolve_config, stage_learning_rate,
                     stage_two_start)
from .loss import (batch_loss, collect_errors, committee_errors, make_batch, metrics,
                   metrics_table, spread_ranking, spread_ranking_text)
from .onebody import apply_one_body, fit_one_body

TRAIN_FORMAT = "spinlattice-train"


# ---------------------------------------------------------------------- setup helpers
def set_threads(n):
    """Run torch ops and numba kernels on ``n`` threads. Both counts must be set: numba's
    OpenMP threading layer shares libgomp with torch, and a numba parallel launch (the
    neighbour list) leaves the calling thread's OpenMP thread count at numba's, which torch
    then uses for its own ops -- a one-thread run would silently go on with all cores."""
    import numba

    # numba first: starting its thread pool resets the OpenMP count to all cores
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    torch.set_num_threads(n)


def resolve_device(name):
    """The torch device of the configuration key ``device``: "cpu", "cuda", "cuda:N" or "auto"
    (CUDA if torch sees a GPU, else CPU). Asking for CUDA without one is an error, not a
    silent fall-back to a run 50x slower than planned."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise InputError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r}: torch sees no CUDA device (torch "
                             f"{torch.__version__}; a CPU build, or no GPU on this machine)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s)")
    return device


def _dtype(name):
    return torch.float64 if name == "float64" else torch.float32


def mean_neighbours(frames, r_max, limit=200):
    """Mean number of neighbours within r_max over (up to ``limit``) frames."""
    from spinlattice.neighbors import neighbor_list

    counts = []
    for f in frames[:limit]:
        nl = neighbor_list(f.state.positions, f.state.cell, f.state.pbc, r_max)
        counts.append(len(nl.i) / max(f.n_atoms, 1))
    return float(np.mean(counts)) if counts else 1.0


def auto_m_max(frames, species, factor=1.1, floor=0.5):
    """{Z: μB} = factor × the largest |m| of element Z in ``frames`` (at least ``floor``)."""
    out = {z: floor for z in species}
    for f in frames:
        mags = np.linalg.norm(f.state.moments, axis=1)
        for z in species:
            sel = f.state.numbers == z
            if sel.any():
                out[z] = max(out[z], factor * float(mags[sel].max()))
    return out


def build_model(cfg, frames):
    """A new MagneticMACE from ``cfg["model"]`` with data-derived species, m_max and n̄."""
    from spinlattice.potentials.mmace import MagneticMACE

    mc = dict(cfg["model"])
    species = D.species_of(frames)
    if mc["m_max"] == "auto":
        mc["m_max"] = auto_m_max(frames, species)
    elif isinstance(mc["m_max"], dict):
        mc["m_max"] = {int(k): float(v) for k, v in mc["m_max"].items()}
    if mc["avg_num_neighbors"] == "auto":
        mc["avg_num_neighbors"] = mean_neighbours(frames, mc["r_max"])
    dtype = _dtype(mc.pop("dtype"))
    return MagneticMACE(species=species, dtype=dtype, **mc)


def fit_and_freeze_one_body(model, frames, ocfg, log=print):
    """Least-squares E0s / E0_z(|m|) into the model's buffers; readout scale; returns the fit.

    ``magnetic: "auto"`` fits E0_z(|m|) only if some frame has magnetic forces. From total
    energies alone the magnitude term is confounded with everything that correlates with |m|
    across a data set: on fe_npj2021 (no magnetic forces; |m| shrinks under compression) it
    took up −1.8 eV at 2.2 μB, which the network then had to cancel between frames that differ
    only in magnetic order (docs/accuracy.md).
    """
    magnetic = ocfg["magnetic"]
    if magnetic == "auto":
        magnetic = any(f.magnetic_forces is not None for f in frames)
    fit = fit_one_body(frames, model.species, model.config["m_max"],
                       model.onebody.shape[1], magnetic=bool(magnetic),
                       smoothness=ocfg["smoothness"], ridge=ocfg["ridge"], n_grid=ocfg["n_grid"])
    apply_one_body(model, fit)
    scale = ocfg["scale"]
    if scale == "auto":
        f = np.concatenate([fr.forces.ravel() for fr in frames if fr.forces is not None] or [[1.0]])
        scale = float(np.sqrt(np.mean(f**2))) or 1.0
    with torch.no_grad():
        model.scale.fill_(float(scale))
    log(f"one-body fit (magnetic {bool(magnetic)}) on {fit['n_frames']} frames: E0 = {fit['e0']} eV, residual RMSE "
        f"{1e3 * fit['rmse_per_atom']:.1f} meV/atom; readout scale {float(scale):.4g}")
    return fit


def shift_e0(model, frames, log=print, batch_size=16):
    """Fine-tuning: E0_z += ΔE0_z, the least-squares per-element shift of the model's energy
    residuals on ``frames``: minimise Σ_f (r_f/N_f − Σ_z n_fz ΔE0_z/N_f)², r_f = E_f − E_model,f.
    Corrects a different energy reference (or an extrapolating one-body level) on the new data
    without touching what the network learned. Returns {Z: ΔE0_z}."""
    from spinlattice.potentials.mmace.graph import build_graph

    used = [f for f in frames if f.energy is not None]
    if not used:
        return {}
    pred = []
    with torch.no_grad():
        for a in range(0, len(used), batch_size):
            chunk = used[a:a + batch_size]
            g = build_graph([f.state for f in chunk], model.species_index, model.r_max,
                            model.dtype, model.device)
            e = model.site_energies(g)
            pred += torch.zeros(len(chunk), dtype=e.dtype, device=e.device).index_add(
                0, g.batch, e).tolist()
    A = np.array([[np.sum(f.state.numbers == z) / f.n_atoms for z in model.species] for f in used])
    r = np.array([(f.energy - p) / f.n_atoms for f, p in zip(used, pred)])
    delta, *_ = np.linalg.lstsq(A, r, rcond=None)
    for z, d in zip(model.species, delta):
        model.set_one_body(z, e0=float(model.e0[model.species_index[z]]) + float(d))
    log(f"fine-tuning E0 shift on {len(used)} frames: {dict(zip(model.species, delta.round(4)))} eV "
        f"(residual RMS per atom before {1e3 * np.sqrt(np.mean(r**2)):.1f} meV)")
    return dict(zip(model.species, delta))


def _check_species(model, frames):
    have = set(model.species)
    need = set(D.species_of(frames))
    if not need <= have:
        raise InputError(f"the data hold elements {sorted(need - have)} that the model "
                         f"(species {sorted(have)}) does not know; fine-tune it on frames "
                         "containing them first (new elements get fresh embeddings)")


def grow_species(model, train_frames, other_frames, seed, log=print):
    """Fine-tuning: the model with fresh embeddings for elements of ``train_frames`` it does
    not know (:func:`~spinlattice.potentials.mmace.add_species`; m_max from the frames as for
    a new model); an element only in ``other_frames`` (valid/test) is an error."""
    from spinlattice.potentials.mmace import add_species

    new = sorted(set(D.species_of(train_frames)) - set(model.species))
    if new:
        model = add_species(model, new, auto_m_max(train_frames, new), seed=seed)
        log(f"fine-tuning: new elements {new} get fresh embeddings (species now {model.species})")
    _check_species(model, other_frames)
    return model


def freeze(model, prefixes):
    """Set requires_grad=False on parameters whose names start with any of ``prefixes``."""
    names = [n for n, _ in model.named_parameters()]
    for p in prefixes:
        if not any(n.startswith(p) for n in names):
            raise InputError(f"finetune.freeze: no parameter starts with {p!r}; names: {names}")
    for n, prm in model.named_parameters():
        if any(n.startswith(p) for p in prefixes):
            prm.requires_grad_(False)


# ---------------------------------------------------------------------- EMA
def ema_update(ema, params, decay, step):
    """shadow ← d·shadow + (1 − d)·θ with d = min(decay, (1 + step)/(10 + step))."""
    d = min(decay, (1.0 + step) / (10.0 + step))
    with torch.no_grad():
        for e, p in zip(ema, params):
            e.mul_(d).add_(p.detach(), alpha=1.0 - d)


class _Swap:
    """Context: the model's trainable parameters temporarily replaced by ``ema``."""

    def __init__(self, params, ema):
        self.params, self.ema = params, ema

    def __enter__(self):
        self.saved = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, e in zip(self.params, self.ema):
                p.copy_(e)

    def __exit__(self, *exc):
        with torch.no_grad():
            for p, s in zip(self.params, self.saved):
                p.copy_(s)


# ---------------------------------------------------------------------- checkpoints
def _model_config_json(model):
    cfg = dict(model.config)
    cfg["m_max"] = {str(z): v for z, v in cfg["m_max"].items()}
    return json.dumps(dict(config=cfg, dtype=str(model.dtype).replace("torch.", "")))


def save_training_state(path, model, ema, optimizer, step, history, best, extra):
    payload = dict(format=TRAIN_FORMAT, version=1, step=int(step), model_json=_model_config_json(model),
                   model=model.state_dict(), ema=[e.detach().clone() for e in ema],
                   ema_names=json.dumps(extra.get("param_names", [])),
                   optimizer=optimizer.state_dict(), history_json=json.dumps(history),
                   best_json=json.dumps(best), extra_json=json.dumps(extra),
                   torch_rng=torch.get_rng_state())
    tmp = Path(str(path) + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_training_state(path):
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"{path}: not a readable training checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != TRAIN_FORMAT:
        raise InputError(f"{path}: not a spinlattice training checkpoint")
    return payload


def model_from_training_state(payload, device="cpu"):
    from spinlattice.potentials.mmace import MagneticMACE

    meta = json.loads(payload["model_json"])
    cfg = dict(meta["config"])
    cfg["m_max"] = {int(z): float(v) for z, v in cfg["m_max"].items()}
    model = MagneticMACE(**cfg, dtype=getattr(torch, meta["dtype"]), device=device)
    model.load_state_dict(payload["model"])
    return model


def load_any_model(path, dtype=None):
    """A MagneticMACE from a model file (``save_model``) or a training checkpoint (EMA weights)."""
    from spinlattice.potentials.mmace import load_model

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"checkpoint {path} does not exist") from None
    except Exception as exc:
        raise InputError(f"{path}: not a readable checkpoint ({exc})") from exc
    if isinstance(payload, dict) and payload.get("format") == TRAIN_FORMAT:
        model = model_from_training_state(payload)
        names = json.loads(payload["ema_names"])
        named = dict(model.named_parameters())
        with torch.no_grad():
            for n, e in zip(names, payload["ema"]):
                named[n].copy_(e)
    else:
        model = load_model(path)
    if dtype is not None:
        model = model.to(_dtype(dtype))
    return model


# ---------------------------------------------------------------------- the loop
def _progress(step, total, loss, lr, rate):
    n = 24
    done = int(n * step / max(total, 1))
    eta = (total - step) / rate if rate > 0 else float("nan")
    return (f"[{'#' * done}{'.' * (n - done)}] {step}/{total} loss {loss:.4g} lr {lr:.2e} "
            f"{rate:.2f} step/s ETA {eta / 60:.1f} min")


def _weights(frames, cfg):
    gw = cfg["loss"]["group_weights"]
    key = cfg["split"]["group_key"]
    return np.array([float(gw.get(str(D.group_of(f, key)), 1.0)) for f in frames])


def _set_loss(model, frames, cfg, bs, step):
    """Mean loss (float) over ``frames`` in batches with the weights and form in force at
    ``step`` (no gradients kept)."""
    lw, (kind, delta) = loss_weights(step, cfg), loss_form(step, cfg)
    tot, n = 0.0, 0
    for a in range(0, len(frames), bs):
        chunk = frames[a:a + bs]
        batch = make_batch(chunk, model, _weights(chunk, cfg))
        loss, _ = batch_loss(model, batch, lw, kind, delta, training=False)
        tot += float(loss.detach()) * len(chunk)
        n += len(chunk)
    return tot / max(n, 1)


_SHIFT_FORMS = "a number (eV/atom) or {'match': group, 'max_strain': 0.01}"


def resolve_energy_shifts(spec, train, others=(), key="config_type", log=print):
    """{group: δ eV/atom} from the configuration's ``data.energy_shifts``.

    A number is used as it is; ``{"match": reference, "max_strain": 0.01}`` is minus the
    offset of the group's labels relative to the reference group's, measured on twin
    structures among the frames ``train`` only (:func:`.labels.twin_energy_offset`; in
    training, the training split, so the held-out labels play no part in it). Every named
    group must occur in ``train`` or ``others``.
    """
    from .labels import twin_energy_offset

    present = {str(D.group_of(f, key)) for f in list(train) + list(others)}
    shifts = {}
    for group, value in spec.items():
        if group not in present:
            raise InputError(f"data.energy_shifts: no frames of group {group!r}; groups: "
                             f"{sorted(present)}")
        if isinstance(value, dict):
            bad = set(value) - {"match", "max_strain"}
            if bad or "match" not in value:
                raise InputError(f"data.energy_shifts[{group!r}] must be {_SHIFT_FORMS}; "
                                 f"got {value!r}")
            delta, spread, n = twin_energy_offset(train, group, value["match"],
                                                  float(value.get("max_strain", 0.01)), key=key)
            log(f"energy labels of {group!r} sit {1e3 * delta:+.2f} ± {1e3 * spread:.2f} "
                f"meV/atom from {value['match']!r} ({n} training twin pairs): shifted by "
                f"{-1e3 * delta:+.2f} meV/atom")
            shifts[group] = -delta
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            shifts[group] = float(value)
        else:
            raise InputError(f"data.energy_shifts[{group!r}] must be {_SHIFT_FORMS}; "
                             f"got {value!r}")
    return shifts


def train(config, init_model=None, finetune=False, callback=None, log=print):
    """Train (or fine-tune ``init_model``) as described by ``config``; returns a results dict.

    callback(step, model) is called after every optimiser step (tests use it to interrupt).
    A run directory that already holds ``checkpoint.pt`` resumes from it (``resume``: true).
    """
    cfg = resolve_config(config, finetune=finetune)
    out = Path(cfg["output"])
    out.mkdir(parents=True, exist_ok=True)
    if cfg["threads"]:
        set_threads(int(cfg["threads"]))
    device = resolve_device(cfg["device"])
    dc, sc, oc = cfg["data"], cfg["split"], cfg["optim"]
    frames = D.load_frames(dc["path"], dc["keys"], dc["cache"], dc["zero_moments"])
    split = D.split_frames(frames, sc["group_key"], sc["test_groups"], sc["valid_groups"],
                           sc["exclude_groups"], sc["only_groups"], sc["test_fraction"],
                           sc["valid_fraction"], sc["max_train"], sc["seed"])
    sets = {k: [frames[i] for i in v] for k, v in split.items()}
    if dc["test_path"]:
        sets["test"] += D.load_frames(dc["test_path"], dc["keys"], None, dc["zero_moments"])
    if dc["energy_shifts"]:
        shifts = resolve_energy_shifts(dc["energy_shifts"], sets["train"],
                                       sets["valid"] + sets["test"], sc["group_key"], log)
        sets = {k: D.shift_energies(v, shifts, sc["group_key"]) for k, v in sets.items()}
        (out / "energy_shifts.json").write_text(json.dumps(shifts, indent=1))
    (out / "split.json").write_text(json.dumps({k: v.tolist() for k, v in split.items()}))
    (out / "config.json").write_text(json.dumps(cfg, indent=1))
    log(f"data {dc['path']}: train {len(sets['train'])}, valid {len(sets['valid'])}, "
        f"test {len(sets['test'])} frames")

    ckpt_path = out / "checkpoint.pt"
    state = load_training_state(ckpt_path) if (cfg["resume"] and ckpt_path.exists()) else None
    if state is not None:
        model = model_from_training_state(state, device)
        log(f"resuming from {ckpt_path} at step {state['step']}")
    elif init_model is not None:
        model = grow_species(init_model.to(_dtype(cfg["model"]["dtype"])), sets["train"],
                             sets["valid"] + sets["test"], int(cfg["seed"]), log).to(device)
        if cfg["finetune"]["refit_one_body"] == "shift":
            shift_e0(model, sets["train"], log)
        elif cfg["finetune"]["refit_one_body"]:
            fit_and_freeze_one_body(model, sets["train"], cfg["one_body"], log)
    else:
        model = build_model(cfg, sets["train"]).to(device)
        if cfg["one_body"]["fit"]:
            fit_and_freeze_one_body(model, sets["train"], cfg["one_body"], log)
    if dc["stationary_moments"]:  # after the one-body fit: its "auto" must not see these labels
        sets = {k: D.with_stationary_moments(v) for k, v in sets.items()}
    if cfg["finetune"]["freeze"]:
        freeze(model, cfg["finetune"]["freeze"])
    param_names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if oc["optimizer"] == "adamw" else torch.optim.Adam
    optimizer = opt_cls(params, lr=float(oc["lr"]), weight_decay=float(oc["weight_decay"]),
                        amsgrad=bool(oc["amsgrad"]))
    ema = [p.detach().clone() for p in params]
    step, history, best = 0, [], {"loss": None, "step": None}
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        ema = [e.to(device).clone() for e in state["ema"]]
        step, history = int(state["step"]), json.loads(state["history_json"])
        best = json.loads(state["best_json"])
        torch.set_rng_state(state["torch_rng"])
    augment = D.augmentation_default(cfg["augment_spin_rotation"], model.spin_orbit)
    log(f"model: {model.n_parameters()} parameters, species {model.species}, "
        f"spin_orbit {model.spin_orbit}, dtype {model.dtype}, device {device}; "
        f"spin-rotation augmentation {augment}")
    train_frames = D.repeat_groups(sets["train"], oc["group_repeats"], sc["group_key"])
    bs = int(oc["batch_size"])
    n_batches = math.ceil(len(train_frames) / bs)
    eval_frames = sets["valid"] or sets["train"]
    max_steps, seed = int(oc["max_steps"]), int(cfg["seed"])
    stage2 = stage_two_start(cfg)
    t0, last_t, last_step = time.time(), time.time(), step
    stopped_on_time = False
    logf = open(out / "log.jsonl", "a")

    def checkpoint():
        save_training_state(ckpt_path, model, ema, optimizer, step, history, best,
                            dict(n_train=len(train_frames), param_names=param_names))

    def evaluate_now():
        # the validation loss uses the weights in force, so a second stage starts a new "best"
        if stage2 is not None and step >= stage2 and (best["step"] or 0) < stage2:
            best.update(loss=None, step=None)
        with _Swap(params, ema):
            vloss = _set_loss(model, eval_frames, cfg, int(cfg["eval_batch_size"]), step)
            if best["loss"] is None or vloss < best["loss"]:
                best.update(loss=vloss, step=step)
                from spinlattice.potentials.mmace import save_model
                save_model(model, out / "best.pt")
        rec = dict(event="eval", step=step, valid_loss=vloss, best_step=best["step"],
                   time_s=time.time() - t0)
        history.append(rec)
        logf.write(json.dumps(rec) + "\n")
        logf.flush()
        log(f"step {step}: valid loss {vloss:.5g} (best {best['loss']:.5g} at {best['step']})")

    try:
        while step < max_steps:
            epoch, b = divmod(step, n_batches)
            idx = D.epoch_batches(len(train_frames), bs, seed, epoch)[b]
            chunk = [train_frames[i] for i in idx]
            if augment:
                chunk = D.augment_batch(chunk, seed, step)
            batch = make_batch(chunk, model, _weights(chunk, cfg))
            lr = stage_learning_rate(step, cfg)
            for g in optimizer.param_groups:
                g["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss, terms = batch_loss(model, batch, loss_weights(step, cfg),
                                     *loss_form(step, cfg), training=True)
            loss.backward()
            gnorm = (float(torch.nn.utils.clip_grad_norm_(params, float(oc["clip"])))
                     if oc["clip"] else float("nan"))
            optimizer.step()
            ema_update(ema, params, float(oc["ema_decay"]), step)
            step += 1
            if callback is not None:
                callback(step, model)
            if step % int(cfg["log_every"]) == 0 or step == max_steps:
                now = time.time()
                rate = (step - last_step) / max(now - last_t, 1e-9)
                last_t, last_step = now, step
                rec = dict(event="train", step=step, epoch=epoch, loss=float(loss.detach()),
                           lr=lr, grad_norm=gnorm, time_s=now - t0, **terms)
                history.append(rec)
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                log(_progress(step, max_steps, rec["loss"], lr, rate))
            if step % int(cfg["eval_every"]) == 0 or step == max_steps:
                evaluate_now()
            if step % int(cfg["checkpoint_every"]) == 0:
                checkpoint()
            if oc["max_time_s"] and time.time() - t0 > float(oc["max_time_s"]):
                stopped_on_time = True
                log(f"stopping at step {step}: max_time_s reached")
                break
    except KeyboardInterrupt:
        checkpoint()
        logf.close()
        log(f"interrupted at step {step}; checkpoint written to {ckpt_path} (rerun to resume)")
        return dict(interrupted=True, step=step, output=str(out), model=model, ema=ema)
    if best["step"] != step:
        evaluate_now()
    checkpoint()
    logf.close()
    return finish(cfg, out, sets, model, ema, params, step, history, best, stopped_on_time, log)


def finish(cfg, out, sets, model, ema, params, step, history, best, stopped_on_time, log):
    """Final model (best EMA weights) → model.pt, metrics.json/.md, plots."""
    from spinlattice.potentials.mmace import load_model, save_model

    final = load_model(out / "best.pt", device=model.device) if (out / "best.pt").exists() else model
    save_model(final, out / "model.pt")
    res = dict(step=step, best_step=best["step"], best_valid_loss=best["loss"],
               n_parameters=final.n_parameters(), stopped_on_time=stopped_on_time,
               sets={k: len(v) for k, v in sets.items()}, metrics={})
    tables = []
    errors = {}
    for name in cfg["evaluate_sets"]:
        if not sets.get(name):
            continue
        errors[name] = collect_errors(final, sets[name], int(cfg["eval_batch_size"]),
                                      cfg["split"]["group_key"])
        res["metrics"][name] = metrics(errors[name])
        tables.append(metrics_table(res["metrics"][name], f"{name} ({len(sets[name])} frames)"))
    (out / "metrics.json").write_text(json.dumps(res, indent=1))
    (out / "metrics.md").write_text("\n\n".join(tables) + "\n")
    log("\n\n".join(tables))
    if cfg["plots"]:
        from .plots import learning_curves, parity_plots
        parity_plots(errors, out / "parity.png")
        learning_curves(history, out / "learning_curves.png")
    res["model"], res["output"], res["interrupted"] = final, str(out), False
    return res


def evaluate(checkpoint, data_path, keys=None, output=None, batch_size=8, group_key="config_type",
             zero_moments=False, cache=None, plots=True, stationary_moments=False, device="cpu",
             energy_shifts=None, log=print):
    """Metrics of a saved model (or training checkpoint) on an extxyz file; writes
    metrics.json / metrics.md / parity.png into ``output`` when given. A list of several
    ``checkpoint`` paths evaluates their committee mean (:func:`.loss.committee_errors`) and adds
    the key "committee" (:func:`.loss.spread_ranking`) to the metrics. ``stationary_moments``:
    frames without magnetic forces are labelled h = 0 (:func:`.data.with_stationary_moments`),
    so the magnetic-force metric is the model's h at converged DFT moments. ``device`` as the
    training key (:func:`resolve_device`); ``energy_shifts`` {group: eV/atom} harmonises the
    energy labels as ``data.energy_shifts`` does in training (a "match" is measured on the
    evaluated frames here)."""
    paths = [checkpoint] if isinstance(checkpoint, (str, Path)) else list(checkpoint)
    models = [load_any_model(p).to(resolve_device(device)) for p in paths]
    frames = D.load_frames(data_path, keys, cache, zero_moments)
    if stationary_moments:
        frames = D.with_stationary_moments(frames)
    if energy_shifts:
        frames = D.shift_energies(frames, resolve_energy_shifts(
            energy_shifts, frames, key=group_key, log=log), group_key)
    for model in models:
        _check_species(model, frames)
    title = f"{data_path} ({len(frames)} frames)"
    if len(models) == 1:
        errors = collect_errors(models[0], frames, batch_size, group_key)
        res = metrics(errors)
    else:
        errors = committee_errors(models, frames, batch_size, group_key)
        res = dict(metrics(errors), committee=dict(spread_ranking(errors), members=[
            str(p) for p in paths]))
        title = f"committee of {len(models)} {title}"
    table = metrics_table(res, title)
    log(table)
    if "committee" in res:
        log(spread_ranking_text(res["committee"]))
    if output:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(res, indent=1))
        (out / "metrics.md").write_text(table + "\n")
        if plots:
            from .plots import parity_plots
            parity_plots({"data": errors}, out / "parity.png")
    return res
