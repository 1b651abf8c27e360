"""Parity plots and learning curves (matplotlib, Agg backend; files only, no display)."""

from __future__ import annotations

import numpy as np

from .loss import PROPERTIES, UNITS, _SCALE


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def parity_plots(errors, path):
    """One panel per property present: predicted vs reference for each set in ``errors``
    ({set name: :func:`.loss.collect_errors` output}), in the units of :data:`.loss.UNITS`
    (energy per atom shifted by the reference mean)."""
    plt = _pyplot()
    props = [p for p in PROPERTIES if any(len(e[f"ref_{p}"]) for e in errors.values())]
    if not props:
        return None
    fig, axes = plt.subplots(1, len(props), figsize=(4.2 * len(props), 4.0), squeeze=False)
    for ax, p in zip(axes[0], props):
        s = _SCALE[p] if p != "energy" else 1e3
        shift = None
        for name, e in errors.items():
            ref, pred = e[f"ref_{p}"], e[f"pred_{p}"]
            if not len(ref):
                continue
            if p == "energy":
                shift = float(np.mean(ref)) if shift is None else shift
                ref, pred = ref - shift, pred - shift
            rmse = np.sqrt(np.mean((pred - ref) ** 2)) * s
            ax.scatter(ref * s, pred * s, s=4, alpha=0.5, label=f"{name} RMSE {rmse:.3g}")
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        unit = "meV/atom (shifted)" if p == "energy" else UNITS[p]
        ax.set_xlabel(f"reference {p} [{unit}]")
        ax.set_ylabel(f"predicted {p} [{unit}]")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def learning_curves(history, path):
    """Training loss (and its terms) and validation loss against the step, log scale."""
    plt = _pyplot()
    tr = [h for h in history if h.get("event") == "train"]
    ev = [h for h in history if h.get("event") == "eval"]
    if not tr and not ev:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    if tr:
        ax.plot([h["step"] for h in tr], [h["loss"] for h in tr], label="train loss (batch)")
        for p in PROPERTIES:
            if any(p in h for h in tr):
                ax.plot([h["step"] for h in tr if p in h], [h[p] for h in tr if p in h],
                        lw=0.7, alpha=0.7, label=f"train {p} term")
    if ev:
        ax.plot([h["step"] for h in ev], [h["valid_loss"] for h in ev], "o-", label="valid loss (EMA)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
