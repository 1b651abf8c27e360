"""``spinlattice neb [CONFIG]``: the Bain path bcc → fcc by solid-state NEB and by c/a scan.

For every magnetic start (FM, AFM, NM) it runs the NEB of :func:`spinlattice.drivers.bain.bain_neb`
(moments relaxed at every force call of every image) and the constrained c/a scan of
:func:`~spinlattice.drivers.bain.ca_scan`, compares them, and writes ``results.json`` and
``bain.png`` (energy, c/a and moments along the path; energy against c/a with the scans) in the
output directory. Without CONFIG it uses the analytic magnetic Fe STAND-IN
(:mod:`spinlattice.potentials.fe_standin`; no mMACE Fe model exists yet).

CONFIG is a JSON file; every key is optional:

    {"model": "fe_standin",              built-in stand-in, a built-in model ("fe-npj2021"),
                                         or "package.module:function" returning a Potential
     "model_parameters": {},             keywords of bain_standin_fe (alpha, gamma, delta, ...),
                                         of load_model (dtype) or of the function
     "element": "Fe",
     "starts": ["FM", "AFM", "NM", "FM->AFM"],   magnetic state of both end points, or
                                         "X->Y": bcc in state X, fcc in state Y
     "volume": null,                     null: end points at their relaxed volumes, cell free;
                                         a number (Å³/atom): every image at that volume
     "n_images": 9, "k": 0.1, "fmax": 1e-4, "max_steps": 3000, "climb": true,
     "moments": "relax",                 relaxed at every force call, or "coordinates" (band rows)
     "scan_points": 21, "moment_size": 2.2, "hmax": 1e-8,  (scans also at the images' c/a)
     "reference_fcc_minus_bcc_meV": 83.5,   PBE (shared/data/README.md)
     "output": "neb-run"}

Energies in results.json are eV/atom unless the key says meV; "relative_meV" values are measured
from the lowest bcc energy over all starts (the model's bcc ground state).
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import numpy as np

from .config import read_config

DEFAULTS = {"model": "fe_standin", "model_parameters": {}, "element": "Fe",
            "starts": ["FM", "AFM", "NM", "FM->AFM"], "volume": None, "n_images": 9, "k": 0.1,
            "fmax": 1e-4, "max_steps": 3000, "climb": True, "moments": "relax", "scan_points": 21,
            "moment_size": 2.2, "hmax": 1e-8, "reference_fcc_minus_bcc_meV": 83.5,
            "output": "neb-run"}
QUICK = {"starts": ["FM"], "n_images": 5, "fmax": 1e-3, "scan_points": 6}


def load_config(path, quick=False):
    """DEFAULTS (updated by QUICK for ``quick``) updated with the JSON file at ``path``."""
    config = read_config(path, {**DEFAULTS, **QUICK} if quick else DEFAULTS)
    starts = config["starts"]
    if not isinstance(starts, list) or not starts or any(
            not set(str(s).upper().split("->")) <= {"FM", "AFM", "NM"} or str(s).count("->") > 1
            for s in starts):
        raise ValueError(f"starts must be a non-empty list of 'FM', 'AFM', 'NM' or 'X->Y' (bcc in "
                         f"state X, fcc in state Y), got {starts!r}")
    if config["moments"] not in ("relax", "coordinates"):
        raise ValueError(f"moments must be 'relax' or 'coordinates', got {config['moments']!r}")
    if config["volume"] is not None and not float(config["volume"]) > 0:
        raise ValueError(f"volume must be null or a positive number (Å³/atom), got {config['volume']!r}")
    if int(config["n_images"]) != config["n_images"] or config["n_images"] < 3:
        raise ValueError(f"n_images must be an integer ≥ 3, got {config['n_images']!r}")
    if int(config["scan_points"]) != config["scan_points"] or config["scan_points"] < 4:
        raise ValueError(f"scan_points must be an integer ≥ 4, got {config['scan_points']!r}")
    return config


def build_potential(config):
    """(potential, description)."""
    model = config["model"]
    if model == "fe_standin":
        from spinlattice.potentials.fe_standin import bain_standin_fe

        return (bain_standin_fe(**config["model_parameters"]),
                "analytic magnetic Fe STAND-IN (Finnis-Sinclair EAM + Bethe-Slater Heisenberg + "
                "Landau; potentials/fe_standin.py), hand-chosen parameters, not fitted to DFT; "
                "used until the default mMACE Fe model exists")
    from spinlattice.potentials.models import BUILTIN_MODELS, load_model
    if model in BUILTIN_MODELS:
        return load_model(model, **config["model_parameters"]), f"built-in model {model}"
    if ":" not in str(model):
        raise ValueError(f"model must be 'fe_standin', a built-in model name or "
                         f"'package.module:function', got {model!r}")
    module, func = str(model).split(":", 1)
    return (getattr(importlib.import_module(module), func)(**config["model_parameters"]),
            f"potential from {model}")


def _switch_profiles(potential, result, hmax):
    """resolve_switch for every magnetic switch of ``result`` (JSON-ready, eV per atom)."""
    from spinlattice.drivers.bain import c_over_a
    from spinlattice.drivers.magpath import resolve_switch

    n = result.images[0].n_atoms
    out = []
    for sw in result.switches:
        if not sw["magnetic"]:
            continue
        a, b = (result.images[k] for k in sw["between"])
        prof = resolve_switch(potential, a, b, n_points=21, mode="variable", collinear=True,
                              axis=(0.0, 0.0, 1.0), tol=hmax)
        entry = {"between": list(sw["between"]), "t": prof["t"].tolist(),
                 "energy_branch_a": (prof["energies"][0] / n).tolist(),
                 "energy_branch_b": (prof["energies"][1] / n).tolist(),
                 "crossing_t": prof["crossing_t"], "crossing_energy": None,
                 "crossing_c_over_a": None}
        if prof["crossing_t"] is not None:
            t = prof["crossing_t"]
            entry["crossing_energy"] = prof["crossing_energy"] / n
            entry["crossing_c_over_a"] = c_over_a(a.replace(cell=(1 - t) * a.cell + t * b.cell))
        out.append(entry)
    return out


def _per_start(result, ca, vol, scans, comparison, e_ref, profiles=()):
    n = result.images[0].n_atoms
    e = result.energies / n
    d = result.descriptors
    crossings = [p["crossing_energy"] for p in profiles if p["crossing_energy"] is not None]
    return {
        "switch_profiles": [dict(p, crossing_relative_meV=None if p["crossing_energy"] is None
                                 else (p["crossing_energy"] - e_ref) * 1e3) for p in profiles],
        "barrier_with_switch_crossings_meV": (max([float(np.max(e))] + crossings) - e[0]) * 1e3,
        "neb": {"c_over_a": ca.tolist(), "volume": vol.tolist(), "energy": e.tolist(),
                "relative_meV": ((e - e_ref) * 1e3).tolist(),
                "path": (result.path / result.path[-1]).tolist(),
                "moments": result.moments.tolist(),
                "mean_abs_moment": d["mean_abs"].tolist(), "net_moment": d["net"].tolist(),
                "staggered_moment": d["staggered"].tolist(), "labels": d["label"],
                "converged": result.converged, "max_force": result.max_force,
                "steps": result.steps, "evaluations": result.evaluations,
                "climb_index": result.climb_index,
                "barrier_meV": result.barrier / n * 1e3,
                "fcc_minus_bcc_meV": result.reaction_energy / n * 1e3,
                "switches": [dict(s, between=list(s["between"])) for s in result.switches],
                "message": result.message},
        "scan": {label: {"c_over_a": scan.c_over_a.tolist(), "volume": scan.volume.tolist(),
                         "energy": scan.energy.tolist(),
                         "relative_meV": ((scan.energy - e_ref) * 1e3).tolist(),
                         "moments_z": scan.moments[:, :, 2].tolist()}
                 for label, scan in scans.items()},
        "comparison": {"c_over_a": comparison["c_over_a"].tolist(),
                       "difference_meV": (comparison["difference"] * 1e3).tolist(),
                       "max_abs_difference_meV": None if comparison["max_abs_difference"] is None
                       else comparison["max_abs_difference"] * 1e3,
                       "c_over_a_monotonic": comparison["valid"],
                       "scan_maximum": comparison["scan_maximum"],
                       "compared_labels": [result.descriptors["label"][k]
                                           for k in comparison["index"]],
                       "neb_maximum": comparison["neb_maximum"]},
    }


def plot(path, runs, e_ref, title):
    """Four panels: E, c/a and moments against the normalised path coordinate; E against c/a
    (NEB images as markers, scans as lines)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (a_e, a_ca), (a_m, a_scan) = axes
    drawn = set()
    for k, (start, run) in enumerate(runs.items()):
        c = f"C{k}"
        neb = run["neb"]
        s = np.array(neb["path"])
        a_e.plot(s, neb["relative_meV"], "o-", color=c, label=start)
        if neb["climb_index"] is not None:
            i = neb["climb_index"]
            a_e.plot(s[i], neb["relative_meV"][i], "*", color=c, ms=14)
        a_ca.plot(s, neb["c_over_a"], "o-", color=c, label=start)
        a_m.plot(s, neb["mean_abs_moment"], "o-", color=c, label=f"{start} mean |m|")
        a_m.plot(s, neb["net_moment"], "s--", color=c, label=f"{start} net", alpha=0.6)
        for sw in neb["switches"]:
            if sw["magnetic"]:
                lo, hi = sw["between"]
                a_e.axvspan(s[lo], s[hi], color=c, alpha=0.15)
        for p in run["switch_profiles"]:
            if p["crossing_relative_meV"] is not None:
                lo, hi = p["between"]
                a_e.plot(s[lo] + p["crossing_t"] * (s[hi] - s[lo]), p["crossing_relative_meV"],
                         "x", color=c, ms=10, mew=2, label=f"{start} branch crossing")
        a_scan.plot(neb["c_over_a"], neb["relative_meV"], "o", color=c, label=f"{start} NEB")
        for label, scan in run["scan"].items():
            if label not in drawn:
                drawn.add(label)
                a_scan.plot(scan["c_over_a"], scan["relative_meV"], color="0.3",
                            ls={"FM": "-", "AFM": "--", "NM": ":"}[label], label=f"{label} scan")
    low = {k: r for k, r in runs.items() if min(r["neb"]["relative_meV"]) < 300.0}
    if low and len(low) < len(runs):  # keep the low-energy paths readable
        top = max(max(r["neb"]["relative_meV"]) for r in low.values())
        for ax in (a_e, a_scan):
            ax.set_ylim(-0.1 * top - 5, 1.3 * top + 10)
        notes = [f"{k}: {min(r['neb']['relative_meV']):.0f} to {max(r['neb']['relative_meV']):.0f}"
                 f" meV/atom (off scale)" for k, r in runs.items() if k not in low]
        a_e.text(0.02, 0.97, "\n".join(notes), transform=a_e.transAxes, va="top", fontsize=7)
    a_e.set_ylabel("E − E(bcc ground state) (meV/atom)")
    a_ca.set_ylabel("c/a")
    a_ca.axhline(1.0, color="0.7", lw=0.8)
    a_ca.axhline(np.sqrt(2), color="0.7", lw=0.8)
    a_m.set_ylabel("moment (μB/atom)")
    for ax in (a_e, a_ca, a_m):
        ax.set_xlabel("normalised path coordinate")
    a_scan.set_xlabel("c/a")
    a_scan.set_ylabel("E − E(bcc ground state) (meV/atom)")
    for ax in axes.flat:
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(config, log=print):
    """Run the Bain workflow of ``config``; writes results.json and bain.png; returns the dict."""
    from spinlattice.drivers.bain import SQRT2, bain_neb, ca_scan, compare_with_scan
    from spinlattice.potentials.pairs import species_number

    potential, description = build_potential(config)
    number = species_number(config["element"])
    out = Path(config["output"])
    out.mkdir(parents=True, exist_ok=True)
    log(description)
    raw, scans = {}, {}
    t0 = time.perf_counter()
    starts = [str(s).upper() for s in config["starts"]]
    for label in sorted({x for s in starts for x in s.split("->")}):
        scans[label] = ca_scan(potential, np.linspace(1.0, SQRT2, config["scan_points"]),
                               start=label, volume=config["volume"],
                               moment_size=config["moment_size"], number=number,
                               hmax=config["hmax"])
    for start in starts:
        t1 = time.perf_counter()
        ends = tuple(start.split("->")) if "->" in start else start
        result, ca, vol = bain_neb(
            potential, start=ends, volume=config["volume"], n_images=config["n_images"],
            moment_size=config["moment_size"], number=number, hmax=config["hmax"],
            k=config["k"], fmax=config["fmax"], max_steps=config["max_steps"],
            climb=config["climb"], moments=config["moments"])
        involved = {}
        for label in start.split("->"):  # add scan points at the images' own c/a
            ks = [k for k, x in enumerate(result.descriptors["label"]) if x == label]
            extra = ca[ks]
            if len(extra) >= 2 and np.all(np.diff(extra) > 0):
                involved[label] = scans[label].merged(ca_scan(
                    potential, extra, start=label, volume=config["volume"],
                    moment_size=config["moment_size"], number=number, hmax=config["hmax"]))
            else:
                involved[label] = scans[label]
        raw[start] = (result, ca, vol, involved, compare_with_scan(result, ca, involved),
                      _switch_profiles(potential, result, config["hmax"]))
        log(f"{start}: {result.summary()} [{time.perf_counter() - t1:.1f} s]")
    e_bcc = {s: r[0].energies[0] / r[0].images[0].n_atoms for s, r in raw.items()}
    e_fcc = {s: r[0].energies[-1] / r[0].images[0].n_atoms for s, r in raw.items()}
    e_ref = min(e_bcc.values())
    runs = {s: _per_start(*r[:5], e_ref, r[5]) for s, r in raw.items()}
    best_bcc = min(e_bcc, key=e_bcc.get)
    best_fcc = min(e_fcc, key=e_fcc.get)
    ground_bcc = raw[best_bcc][0].descriptors["label"][0]
    ground_fcc = raw[best_fcc][0].descriptors["label"][-1]
    diff = (e_fcc[best_fcc] - e_ref) * 1e3
    results = {
        "description": description, "stand_in": config["model"] == "fe_standin",
        "config": config,
        "bcc_ground_state": ground_bcc, "fcc_lowest_state": ground_fcc,
        "bcc_ground_run": best_bcc, "fcc_lowest_run": best_fcc,
        "fcc_minus_bcc_meV": diff,
        "reference_fcc_minus_bcc_meV": config["reference_fcc_minus_bcc_meV"],
        "fcc_minus_bcc_by_start_meV": {s: (e_fcc[s] - e_ref) * 1e3 for s in runs},
        "bcc_by_start_meV": {s: (e_bcc[s] - e_ref) * 1e3 for s in runs},
        "barrier_meV": {s: runs[s]["neb"]["barrier_meV"] for s in runs},
        "barrier_from_ground_meV": {s: max(runs[s]["neb"]["relative_meV"]) for s in runs},
        "runs": runs, "seconds": time.perf_counter() - t0,
    }
    for s in runs:
        for p in runs[s]["switch_profiles"]:
            if p["crossing_relative_meV"] is not None:
                log(f"{s}: magnetic switch between images {p['between']}: branches cross at "
                    f"c/a = {p['crossing_c_over_a']:.4f}, {p['crossing_relative_meV']:.2f} "
                    f"meV/atom above the bcc ground state (straight segment)")
        c = runs[s]["comparison"]
        log(f"{s}: bcc {results['bcc_by_start_meV'][s]:+.2f}, fcc "
            f"{results['fcc_minus_bcc_by_start_meV'][s]:+.2f} meV/atom from the bcc ground state; "
            f"barrier {results['barrier_meV'][s]:.2f} meV/atom; NEB − scan max "
            f"{c['max_abs_difference_meV'] if c['max_abs_difference_meV'] is not None else float('nan'):.3f}"
            f" meV/atom over {len(c['c_over_a'])} images")
    log(f"E(fcc, {ground_fcc}) − E(bcc, {ground_bcc}) = {diff:.1f} meV/atom (PBE: "
        f"{config['reference_fcc_minus_bcc_meV']} meV/atom)")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot(out / "bain.png", runs, e_ref,
         f"Bain path, {'volume ' + str(config['volume']) + ' Å³/atom' if config['volume'] else 'volume relaxed at the end points'}"
         + (" — analytic STAND-IN Fe model" if results["stand_in"] else ""))
    log(f"wrote {out / 'results.json'} and {out / 'bain.png'}")
    return results


def main(args):
    config = load_config(args.config, quick=getattr(args, "quick_test", False))
    if args.output:
        config["output"] = args.output
    run(config)
    return 0
