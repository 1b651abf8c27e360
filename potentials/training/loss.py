"""Batches as tensors, the training loss, and error metrics.

Loss of a batch (Ho et al., arXiv 2604.08143 and the MACE code: Huber, weights 1/100/1/100):

    L = w_E ⟨ρ(ΔE_f / N_f)⟩_f + w_F ⟨ρ(ΔF_ic)⟩_ic + w_σ ⟨ρ(Δσ_f,ab)⟩_fab + w_h ⟨ρ(Δh_ic)⟩_ic

ρ = Huber(δ) or the square; ⟨·⟩ are means over the *labelled* entries of the batch (a frame
without a label does not count in that term), each entry multiplied by its frame's weight
(``config_type_weights``, default 1). Units: E eV (per atom), F eV/Å, σ eV/Å³ (ASE sign),
h = −∂E/∂m eV/μB. Predictions come from one autograd pass of
``MagneticMACE.energy_and_derivatives`` (``create_graph=True`` while training, so the force
terms are differentiable in the weights); stress = sym(virial)/V.

Metrics (:func:`metrics`) are RMSE and MAE of E/atom (meV/atom), force components (meV/Å),
stress components (GPa) and magnetic-force components (meV/μB), plus the RMS of the
reference (same units; for energy the standard deviation of E/atom) and the relative RMSE
RMSE/RMS, overall and per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

EV_A3_TO_GPA = 160.21766208
PROPERTIES = ("energy", "forces", "stress", "magnetic_forces")
UNITS = {"energy": "meV/atom", "forces": "meV/Å", "stress": "GPa", "magnetic_forces": "meV/μB"}
_SCALE = {"energy": 1e3, "forces": 1e3, "stress": EV_A3_TO_GPA, "magnetic_forces": 1e3}


@dataclass
class Batch:
    """A graph and its labels. Per frame (B): energy, n_atoms, weight, has_energy, volume,
    stress (B,3,3), has_stress. Per atom (N): forces (N,3), has_forces, magnetic_forces (N,3),
    has_magnetic_forces."""

    graph: object
    energy: torch.Tensor
    n_atoms: torch.Tensor
    weight: torch.Tensor
    has_energy: torch.Tensor
    volume: torch.Tensor
    stress: torch.Tensor
    has_stress: torch.Tensor
    forces: torch.Tensor
    has_forces: torch.Tensor
    magnetic_forces: torch.Tensor
    has_magnetic_forces: torch.Tensor


def make_batch(frames, model, weights=None):
    """Frames → :class:`Batch` on the model's dtype and device (missing labels are zeros + mask)."""
    from spinlattice.potentials.mmace.graph import build_graph

    dt, dev = model.dtype, model.device
    graph = build_graph([f.state for f in frames], model.species_index, model.r_max, dt, dev)
    B = len(frames)
    w = np.ones(B) if weights is None else np.asarray(weights, dtype=np.float64)

    def per_frame(name, shape):
        vals = [getattr(f, name) for f in frames]
        arr = np.stack([np.zeros(shape) if v is None else np.asarray(v, float) for v in vals])
        return arr, np.array([v is not None for v in vals])

    def per_atom(name):
        vals = [getattr(f, name) for f in frames]
        arr = np.concatenate([np.zeros((f.n_atoms, 3)) if v is None else v
                              for f, v in zip(frames, vals)])
        has = np.concatenate([np.full(f.n_atoms, v is not None) for f, v in zip(frames, vals)])
        return arr, has

    e, has_e = per_frame("energy", ())
    s, has_s = per_frame("stress", (3, 3))
    fo, has_f = per_atom("forces")
    h, has_h = per_atom("magnetic_forces")
    vol = np.array([f.state.volume if f.state.pbc.all() else 0.0 for f in frames])
    has_s &= vol > 0

    def t(x, dtype=dt):
        return torch.as_tensor(x, dtype=dtype, device=dev)

    return Batch(graph, t(e), t([f.n_atoms for f in frames]), t(w), t(has_e, torch.bool),
                 t(np.where(vol > 0, vol, 1.0)), t(s), t(has_s, torch.bool), t(fo),
                 t(has_f, torch.bool), t(h), t(has_h, torch.bool))


def predict(model, batch, need, training):
    """Model outputs for the labels ``need`` (subset of PROPERTIES): energy (B,), forces,
    stress (B,3,3) eV/Å³, magnetic_forces."""
    out = model.energy_and_derivatives(batch.graph, forces="forces" in need,
                                       stress="stress" in need,
                                       magnetic="magnetic_forces" in need,
                                       create_graph=training)
    pred = dict(energy=out["energy"])
    for k in ("forces", "magnetic_forces"):
        if k in out:
            pred[k] = out[k]
    if "virial" in out:
        v = out["virial"]
        pred["stress"] = 0.5 * (v + v.transpose(1, 2)) / batch.volume[:, None, None]
    return pred


def _rho(x, kind, delta):
    if kind == "mse":
        return x * x
    return torch.nn.functional.huber_loss(x, torch.zeros_like(x), reduction="none", delta=delta)


def batch_loss(model, batch, weights, kind="huber", delta=0.01, training=True):
    """Total loss (scalar tensor) and its terms {name: float} for one batch (module docstring).

    weights : {"energy": w_E, "forces": w_F, "stress": w_σ, "magnetic_forces": w_h}; a zero
    weight skips that derivative (cheaper backward pass).
    """
    has = dict(energy=batch.has_energy, forces=batch.has_forces, stress=batch.has_stress,
               magnetic_forces=batch.has_magnetic_forces)
    need = [p for p in PROPERTIES if weights.get(p, 0.0) > 0 and bool(has[p].any())]
    pred = predict(model, batch, need, training)
    wf = batch.weight
    wa = wf[batch.graph.batch]
    total = pred["energy"].new_zeros(())
    terms = {}
    for p in need:
        if p == "energy":
            err = (pred["energy"] - batch.energy) / batch.n_atoms
            r, w, m = _rho(err, kind, delta), wf, batch.has_energy
        elif p == "stress":
            r = _rho(pred["stress"] - batch.stress, kind, delta).sum((1, 2)) / 9.0
            w, m = wf, batch.has_stress
        else:
            r = _rho(pred[p] - getattr(batch, p), kind, delta).sum(1) / 3.0
            w, m = wa, has[p]
        term = (r * w * m).sum() / m.sum().clamp(min=1)
        terms[p] = float(term.detach())
        total = total + weights[p] * term
    return total, terms


def collect_errors(model, frames, batch_size=8, group_key="config_type"):
    """Predictions vs references over ``frames`` (no parameter gradients).

    Returns a dict of numpy arrays: for each property "ref_<p>", "pred_<p>" (energy per atom
    eV, forces/magnetic forces per component, stress per component eV/Å³) and "group_<p>"
    (the group of each entry).
    """
    from .data import group_of

    acc = {f"{k}_{p}": [] for k in ("ref", "pred", "group") for p in PROPERTIES}
    for a in range(0, len(frames), batch_size):
        chunk = frames[a:a + batch_size]
        batch = make_batch(chunk, model)
        need = [p for p in PROPERTIES if any(getattr(f, p) is not None for f in chunk)]
        need = [p for p in need if p != "stress" or bool(batch.has_stress.any())]
        pred = predict(model, batch, need, training=False)
        pred = {k: v.detach().cpu().double().numpy() for k, v in pred.items()}
        start = np.concatenate([[0], np.cumsum([f.n_atoms for f in chunk])])
        for b, f in enumerate(chunk):
            g = str(group_of(f, group_key))
            if f.energy is not None:
                acc["ref_energy"].append([f.energy / f.n_atoms])
                acc["pred_energy"].append([pred["energy"][b] / f.n_atoms])
                acc["group_energy"].append([g])
            if f.stress is not None and bool(batch.has_stress[b]) and "stress" in pred:
                acc["ref_stress"].append(f.stress.ravel())
                acc["pred_stress"].append(pred["stress"][b].ravel())
                acc["group_stress"].append([g] * 9)
            for p in ("forces", "magnetic_forces"):
                ref = getattr(f, p)
                if ref is not None and p in pred:
                    acc[f"ref_{p}"].append(ref.ravel())
                    acc[f"pred_{p}"].append(pred[p][start[b]:start[b + 1]].ravel())
                    acc[f"group_{p}"].append([g] * ref.size)
    out = {}
    for k, v in acc.items():
        if k.startswith("group"):
            out[k] = np.array([x for part in v for x in part], dtype=object)
        else:
            out[k] = np.concatenate(v) if v else np.zeros(0)
    return out


def committee_errors(models, frames, batch_size=8, group_key="config_type"):
    """:func:`collect_errors` of the committee mean (:class:`spinlattice.CommitteePotential`):
    each "pred_<p>" is the mean over ``models``; "spread_energy" adds σ_E per frame, the sample
    standard deviation of the members' energies per atom (eV/atom)."""
    return combine_errors([collect_errors(m, frames, batch_size, group_key) for m in models])


def combine_errors(each):
    """The committee mean of several :func:`collect_errors` results on the same frames, with
    "spread_energy" (see :func:`committee_errors`)."""
    from spinlattice.potential import mean_and_spread

    mean, spread = mean_and_spread([{f"pred_{p}": e[f"pred_{p}"] for p in PROPERTIES}
                                    for e in each])
    return dict(each[0], **mean, spread_energy=spread["pred_energy"])


def spread_ranking(errors, top_fractions=(0.05, 0.1, 0.2)):
    """How well the committee spread σ_E ranks the energy errors |ΔE/N| of the frames:
    Spearman's rank correlation, and for the fraction q of frames with the largest σ_E the share
    of the squared error they carry and the RMSE (meV/atom) of the other frames."""
    from scipy.stats import spearmanr

    err = np.abs(errors["pred_energy"] - errors["ref_energy"]) * _SCALE["energy"]
    order = np.argsort(-errors["spread_energy"])
    rows = []
    for q in top_fractions:
        k = int(round(q * len(err)))
        top, rest = order[:k], order[k:]
        rows.append(dict(fraction=q, n_frames=k,
                         share_of_squared_error=float(np.sum(err[top] ** 2) / np.sum(err ** 2)),
                         rmse_of_rest=float(np.sqrt(np.mean(err[rest] ** 2)))))
    rho = spearmanr(err, errors["spread_energy"]).correlation if len(err) > 2 else float("nan")
    return dict(spearman=float(rho), n_frames=int(len(err)), top=rows)


def spread_ranking_text(ranking):
    """The result of :func:`spread_ranking` as lines of text."""
    lines = [f"committee spread σ_E vs |ΔE|: Spearman {ranking['spearman']:.2f} over "
             f"{ranking['n_frames']} frames"]
    for r in ranking["top"]:
        lines.append(f"  largest σ_E, {r['n_frames']} frames: "
                     f"{100 * r['share_of_squared_error']:.0f} % of the squared energy error; "
                     f"RMSE of the rest {r['rmse_of_rest']:.2f} meV/atom")
    return "\n".join(lines)


def _stats(ref, pred, prop):
    s = _SCALE[prop]
    d = (pred - ref) * s
    rms_ref = float(np.std(ref) * s) if prop == "energy" else float(np.sqrt(np.mean(ref**2)) * s)
    rmse = float(np.sqrt(np.mean(d**2)))
    return dict(rmse=rmse, mae=float(np.mean(np.abs(d))), rms_ref=rms_ref,
                rel_rmse=(rmse / rms_ref if rms_ref > 0 else None), n=int(len(d)))


def metrics(errors):
    """{"overall": {prop: stats}, "groups": {group: {prop: stats}}, "units": ...} from
    :func:`collect_errors` (stats: rmse, mae, rms_ref, rel_rmse, n)."""
    res = {"overall": {}, "groups": {}, "units": dict(UNITS)}
    for p in PROPERTIES:
        ref, pred, grp = errors[f"ref_{p}"], errors[f"pred_{p}"], errors[f"group_{p}"]
        if not len(ref):
            continue
        res["overall"][p] = _stats(ref, pred, p)
        for g in sorted(set(grp)):
            sel = grp == g
            res["groups"].setdefault(g, {})[p] = _stats(ref[sel], pred[sel], p)
    return res


def metrics_table(res, title=""):
    """A Markdown table of RMSE / MAE (and relative RMSE) per property, overall and per group."""
    cols = [p for p in PROPERTIES if p in res["overall"]]
    head = "| set | " + " | ".join(f"{p} RMSE / MAE [{UNITS[p]}] (rel.)" for p in cols) + " |"
    lines = ([f"**{title}**", ""] if title else []) + [head, "|" + "---|" * (len(cols) + 1)]

    def row(name, stats):
        cells = []
        for p in cols:
            s = stats.get(p)
            if s is None:
                cells.append("–")
            else:
                rel = f" ({s['rel_rmse']:.3f})" if s.get("rel_rmse") is not None else ""
                cells.append(f"{s['rmse']:.3g} / {s['mae']:.3g}{rel}")
        return f"| {name} | " + " | ".join(cells) + " |"

    lines.append(row("all", res["overall"]))
    for g, stats in res["groups"].items():
        lines.append(row(g, stats))
    return "\n".join(lines)
