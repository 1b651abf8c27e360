"""``spinlattice minimise [CONFIG]``: magnetic ground-state search end to end.

Random-start moment minimisation (drivers/groundstate.py), ranking and clustering of the minima,
a collinear search for the best collinear competitor, a ``results.json`` and a picture of the
moment arrangement (``moments.png``) in the output directory. Without CONFIG it runs the Mn₃Pt
model of :mod:`spinlattice.potentials.mn3pt` (a SYNTHETIC model Hamiltonian, no DFT).

CONFIG is a JSON file; every key is optional:

    {"model": "mn3pt",                   built-in Mn3Pt model, or "package.module:function"
                                         returning a Potential (then "structure" is needed)
     "model_parameters": {"j1": -2.5e-3, "kappa": 2.5e-5, "landau_b": 0.01, "moment": 3.0},
     "a": 3.83, "repeat": [2, 2, 2],      Mn3Pt cell
     "structure": null | "file.extxyz",   start structure with moments (first frame)
     "magnetic_species": null | ["Mn"],   free sites (default: atoms with a non-zero moment)
     "mode": "variable" | "fixed", "n_starts": 20, "seed": 2026,
     "tol": 1e-7, "max_steps": 5000, "energy_tol": 1e-6,   (eV/μB or eV; eV per site)
     "field": null | [Bx, By, Bz],       tesla
     "collinear_starts": 50, "collinear_axis": [0, 0, 1],   random ± starts (plus every ±
                                         pattern of whole sublattices when the model has them)
     "output": "minimise-run"}
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import numpy as np

from .config import read_config

DEFAULTS = {"model": "mn3pt", "model_parameters": {}, "a": 3.83, "repeat": [2, 2, 2],
            "structure": None, "magnetic_species": None, "mode": "variable", "n_starts": 20,
            "seed": 2026, "tol": 1e-7, "max_steps": 5000, "energy_tol": 1e-6, "field": None,
            "collinear_starts": 50, "collinear_axis": [0.0, 0.0, 1.0], "output": "minimise-run"}


def load_config(path):
    """DEFAULTS updated with the JSON file at ``path`` (None: DEFAULTS). ValueError on bad keys."""
    config = read_config(path, DEFAULTS)
    if config["mode"] not in ("variable", "fixed"):
        raise ValueError(f"mode must be 'variable' or 'fixed', got {config['mode']!r}")
    return config


def build(config):
    """(potential, state, free mask (N,), sublattice labels (N,) or None, description)."""
    from spinlattice.errors import InputError

    model = config["model"]
    if model == "mn3pt":
        from spinlattice.potentials.mn3pt import mn3pt_potential, mn3pt_state

        params = dict(config["model_parameters"])
        unknown = set(params) - {"j1", "kappa", "landau_b", "moment"}
        if unknown:
            raise InputError(f"unknown Mn3Pt model parameters {sorted(unknown)}")
        potential = mn3pt_potential(a=config["a"], **params)
        state, labels = mn3pt_state(a=config["a"], repeat=config["repeat"],
                                    moment=params.get("moment", 3.0))
        description = ("SYNTHETIC Mn3Pt model Hamiltonian (Heisenberg J1 + Néel Mn-Pt pair "
                       "anisotropy + Landau; potentials/mn3pt.py), not DFT")
    else:
        if ":" not in str(model):
            raise InputError(f"model must be 'mn3pt' or 'package.module:function', got {model!r}")
        module, func = str(model).split(":", 1)
        potential = getattr(importlib.import_module(module), func)()
        labels = None
        description = f"potential from {model}"
    if config["structure"] is not None:
        from spinlattice.io import read_extxyz

        state = read_extxyz(config["structure"], index=0)[0].state
        labels = None
    elif model != "mn3pt":
        raise InputError("a model other than 'mn3pt' needs a 'structure' file")
    if config["magnetic_species"] is not None:
        from spinlattice.potentials.pairs import species_number

        zs = [species_number(s) for s in config["magnetic_species"]]
        mask = np.isin(state.numbers, zs)
    else:
        mask = np.linalg.norm(state.moments, axis=1) > 1e-12
    return potential, state, mask, labels, description


def plot_moments(path, state, mask, labels=None, title=None):
    """Two panels: the moments of the free sites as arrows in the cell (3D), and their directions
    projected onto the plane they span best (normal = least principal axis of Σ m mᵀ)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    m = state.moments[mask]
    r = state.positions[mask]
    colours = (["C0", "C1", "C2", "C3", "C4"] * 4)
    lab = np.zeros(len(m), dtype=int) if labels is None else np.asarray(labels)[mask]
    col = [colours[int(k) % len(colours)] for k in lab]
    fig = plt.figure(figsize=(11, 5))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    scale = 0.35 * float(np.min(np.linalg.norm(state.cell, axis=1))) / max(
        len(state.positions) ** (1 / 3), 1.0) / max(float(np.max(np.linalg.norm(m, axis=1))), 1e-9)
    others = ~mask
    if others.any():
        p = state.positions[others]
        ax.scatter(p[:, 0], p[:, 1], p[:, 2], c="0.6", s=20)
    ax.quiver(r[:, 0], r[:, 1], r[:, 2], scale * m[:, 0], scale * m[:, 1], scale * m[:, 2],
              colors=col, arrow_length_ratio=0.3)
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.set_zlabel("z (Å)")
    ax.set_title("moments in the cell")
    ax2 = fig.add_subplot(1, 2, 2)
    w, v = np.linalg.eigh(m.T @ m)
    e1, e2, normal = v[:, 2], v[:, 1], v[:, 0]
    for k in range(len(m)):
        ax2.annotate("", xy=(m[k] @ e1, m[k] @ e2), xytext=(0, 0),
                     arrowprops=dict(arrowstyle="->", color=col[k], lw=1.5))
    big = 1.2 * float(np.max(np.linalg.norm(m, axis=1)))
    ax2.set_xlim(-big, big)
    ax2.set_ylim(-big, big)
    ax2.set_aspect("equal")
    ax2.set_xlabel("μB")
    ax2.set_title(f"directions in the plane ⊥ [{normal[0]:.2f}, {normal[1]:.2f}, {normal[2]:.2f}]")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(config, log=print):
    """Run the search described by ``config``; writes results.json and moments.png; returns the
    results dict."""
    from spinlattice.drivers.groundstate import collinear_search, search_ground_state

    potential, state, mask, labels, description = build(config)
    out = Path(config["output"])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config["seed"])
    kwargs = dict(tol=config["tol"], max_steps=config["max_steps"], field=config["field"])
    t0 = time.perf_counter()
    found = search_ground_state(potential, state, rng, config["n_starts"], mode=config["mode"],
                                mask=mask, sublattices=labels, energy_tol=config["energy_tol"],
                                **kwargs)
    t_search = time.perf_counter() - t0
    n = found.n_sites
    best = found.reports[0]
    log(f"{description}")
    log(f"{config['n_starts']} random starts ({config['mode']} length): {len(found.clusters)} "
        f"distinct minima; {found.fraction_global:.0%} reach the lowest "
        f"(E = {found.clusters[0]['energy_per_site']:.7f} eV/site) in {t_search:.1f} s")
    results = {
        "description": description, "synthetic": config["model"] == "mn3pt",
        "config": config, "n_sites": n, "fraction_global": found.fraction_global,
        "clusters": [dict(c, report=r) for c, r in zip(found.clusters, found.reports)],
        "starts": [{"start": mn.start, "energy": mn.energy, "cluster": mn.cluster,
                    "steps": mn.result.steps, "evaluations": mn.result.evaluations,
                    "residual": mn.result.residual, "converged": mn.result.converged}
                   for mn in found.minima],
        "search_seconds": t_search,
        "best_state": {"positions": found.best.state.positions.tolist(),
                       "numbers": found.best.state.numbers.tolist(),
                       "cell": found.best.state.cell.tolist(),
                       "moments": found.best.state.moments.tolist()},
    }
    if "max_triangle_deviation_from_120_deg" in best:
        log(f"lowest minimum: max |angle − 120°| over {best['n_triangles']} triangles = "
            f"{best['max_triangle_deviation_from_120_deg']:.4f}°, net moment "
            f"{best['net_moment_per_site']:.5f} μB/site")
    if config["collinear_starts"]:
        t0 = time.perf_counter()
        col = collinear_search(potential, state, rng, config["collinear_starts"],
                               axis=config["collinear_axis"], mask=mask, sublattices=labels,
                               energy_tol=config["energy_tol"], **kwargs)
        gap = col.clusters[0]["energy_per_site"] - found.clusters[0]["energy_per_site"]
        results["collinear"] = {"best_energy": col.clusters[0]["energy"],
                                "best_energy_per_site": col.clusters[0]["energy_per_site"],
                                "clusters": col.clusters,
                                "gap_per_site_eV": gap,
                                "seconds": time.perf_counter() - t0}
        log(f"best collinear state ({len(col.minima)} starts"
            + (", sublattice patterns included" if labels is not None else "") + "): "
            f"{gap * 1e3:.3f} meV/site above the lowest minimum")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot_moments(out / "moments.png", found.best.state, mask, labels,
                 title=f"lowest minimum, E = {found.clusters[0]['energy_per_site']:.6f} eV/site"
                 + (" (synthetic Mn3Pt model)" if results["synthetic"] else ""))
    log(f"wrote {out / 'results.json'} and {out / 'moments.png'}")
    return results


def main(args):
    config = load_config(args.config)
    if args.output:
        config["output"] = args.output
    if getattr(args, "n_starts", None):
        config["n_starts"] = args.n_starts
    if getattr(args, "seed", None) is not None:
        config["seed"] = args.seed
    run(config)
    return 0
