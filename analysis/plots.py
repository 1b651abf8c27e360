"""Figures of a Curie-temperature run (matplotlib, Agg backend, files only)."""

from __future__ import annotations

import numpy as np


def _figure(n_panels):
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, 3.6), constrained_layout=True)
    return plt, fig, np.atleast_1d(axes)


def plot_curie(path, by_size, fit=None, t_c=None, title=None):
    """Four panels: |m|(T) with the power-law fit, U4(T), χ(T), C_v(T), one curve per size.

    by_size : dict size label → list of observable dicts (keys of
    :class:`~spinlattice.analysis.observables.Observables`); fit : result of
    :func:`~spinlattice.analysis.curie.fit_power_law` (drawn on the |m| panel);
    t_c : dict name → temperature drawn as vertical lines. Writes ``path`` (PNG/PDF).
    """
    plt, fig, axes = _figure(4)
    panels = (("magnetisation", "|m| (μB/site)"), ("binder", "Binder U4"),
              ("susceptibility", "χ (μB²/eV per site)"), ("heat_capacity", "C_v (k_B/site)"))
    for (key, label), ax in zip(panels, axes):
        for size, rows in by_size.items():
            t = np.array([r["temperature"] for r in rows])
            y = np.array([r[key] for r in rows])
            e = np.array([r[key + "_err"] for r in rows])
            order = np.argsort(t)
            ax.errorbar(t[order], y[order], yerr=e[order], marker="o", ms=3, capsize=2,
                        label=str(size))
        ax.set_xlabel("T (K)")
        ax.set_ylabel(label)
        for name, value in (t_c or {}).items():
            if value is not None:
                ax.axvline(value, ls=":", lw=1, color="k")
    if fit is not None:
        t = np.linspace(fit["window"][0], fit["T_C"], 200)
        axes[0].plot(t, fit["amplitude"] * (fit["T_C"] - t) ** fit["beta"], "k-", lw=1,
                     label=f"fit T_C={fit['T_C']:.0f} K, β={fit['beta']:.2f}")
    axes[1].axhline(2 / 3, ls="--", lw=0.8, color="grey")
    axes[1].axhline(4 / 9, ls="--", lw=0.8, color="grey")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
