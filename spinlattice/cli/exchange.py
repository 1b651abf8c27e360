"""``spinlattice exchange [CONFIG]`` and ``spinlattice anisotropy [CONFIG]``.

exchange: Heisenberg J by shell of a built-in model (:func:`spinlattice.analysis.exchange.
exchange_constants`), in our convention and TB2J's, optionally next to DFT values from a CSV of
shell averages (``tb2j_shell_averaged_Jiso.csv`` format), mean-field and RPA T_C;
``results.json`` and ``exchange.png`` in the output directory. CONFIG (JSON, every key optional):

    {"model": "fe-tb2j-abacus",
     "lattice": "bcc", "element": "Fe", "a": 2.866, "moment": 2.2949,   (default: the model's)
     "r_max": 5.0, "angles": [10, 20, 30], "pairs_per_shell": 1,
     "method": "energy" | "magnetic_forces",
     "dft_csv": null, "dft_systems": ["Abacus_Fe_no_SOC", "Siesta_bccFe"],
     "output": "exchange-run"}

anisotropy: energy against the common spin axis on a sphere grid, fitted to uniaxial and cubic
K1, K2 (:mod:`spinlattice.analysis.anisotropy`); ``results.json`` and ``anisotropy.png``.
The built-in models have no spin–orbit coupling (their scan is flat); until an SOC model exists,
analytic anisotropy terms given per atom (eV/atom, unit vectors) can be added to demonstrate:

    {"model": "fe-tb2j-abacus", "lattice": ..., "a": ..., "moment": ...,
     "uniaxial": {"K1": 0.0, "K2": 0.0, "axis": [0, 0, 1]} | null,
     "cubic": {"K1": 3.5e-6, "K2": 0.0} | null,     (default: bcc Fe's experimental K1)
     "n_directions": 100, "fit_axis": [0, 0, 1], "output": "anisotropy-run"}
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .config import read_config

EXCHANGE = {"model": "fe-tb2j-abacus", "r_max": 5.0, "angles": [10.0, 20.0, 30.0],
            "pairs_per_shell": 1, "method": "energy", "dft_csv": None,
            "dft_systems": ["Abacus_Fe_no_SOC", "Siesta_bccFe"], "output": "exchange-run"}
#: bcc Fe K1 ≈ 4.8e4 J/m³ (room temperature) × 11.8 Å³/atom ≈ 3.5 μeV/atom.
ANISOTROPY = {"model": "fe-tb2j-abacus", "uniaxial": None, "cubic": {"K1": 3.5e-6, "K2": 0.0},
              "n_directions": 100, "fit_axis": [0.0, 0.0, 1.0], "output": "anisotropy-run"}
STRUCTURE_KEYS = {"lattice", "element", "a", "moment"}


def load_config(path, defaults):
    """``defaults`` updated with the JSON configuration at ``path`` (structure keys allowed)."""
    return read_config(path, defaults, extra_keys=STRUCTURE_KEYS)


def _model_and_state(config, cubic=False):
    from ase.build import bulk

    from spinlattice.potentials.models import load_model, reference_structure
    from spinlattice.state import SpinLatticeState

    potential = load_model(config["model"])
    lattice, element, a, moment = reference_structure(config["model"])
    config = {"lattice": lattice, "element": element, "a": a, "moment": moment, **config}
    atoms = bulk(config["element"], config["lattice"], a=config["a"], cubic=cubic)
    state = SpinLatticeState.from_atoms(atoms, moments=np.tile([0.0, 0.0, config["moment"]],
                                                               (len(atoms), 1)))
    return potential, state, config


def read_dft_shells(path, systems):
    """{system: [(distance Å, J meV), ...]} from a TB2J shell-average CSV (TB2J convention)."""
    out = {}
    with open(path) as handle:
        for row in csv.DictReader(handle):
            if row["system"] in systems:
                out.setdefault(row["system"], []).append(
                    (float(row["distance_A"]), float(row["J_iso_mean_meV"])))
    return out


def _figure():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(9.0, 3.6), constrained_layout=True)
    return plt, fig, ax


def run_exchange(config, log=print):
    from spinlattice.analysis.exchange import exchange_constants, mean_field_tc, rpa_tc

    potential, state, config = _model_and_state(config)
    result = exchange_constants(potential, state, r_max=config["r_max"],
                                angles=config["angles"],
                                pairs_per_shell=config["pairs_per_shell"],
                                method=config["method"])
    dft = read_dft_shells(config["dft_csv"], config["dft_systems"]) if config["dft_csv"] else {}
    log(f"{config['model']}: {len(result.shells)} shells to {config['r_max']} Å, "
        f"{result.n_evaluations} energy evaluations on {result.n_atoms} atoms")
    log("  shell  r (Å)   z   J (meV/μB², ours)   J_TB2J (meV)" +
        "".join(f"   {name[:12]:>12}" for name in dft))
    for k, s in enumerate(result.shells):
        ref = "".join(f"   {_nearest(rows, s.distance):12.3f}" for rows in dft.values())
        log(f"  {k + 1:5d}  {s.distance:5.3f}  {s.count:3d}   {1e3 * s.J:8.4f} ± "
            f"{1e3 * s.J_err:.1e}   {s.J_tb2j:8.3f} ± {s.J_tb2j_err:.1e}{ref}")
    t_mf, t_rpa = mean_field_tc(result), rpa_tc(result)
    log(f"mean-field T_C = {t_mf:.0f} K" + (f", RPA T_C = {t_rpa:.0f} K" if t_rpa else "")
        + " (classical, shells to r_max only)")
    out = Path(config["output"])
    out.mkdir(parents=True, exist_ok=True)
    results = {**result.as_dict(), "config": config, "dft": dft}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    plot_exchange(out / "exchange.png", result, dft, title=config["model"])
    return results


def _nearest(rows, distance, tolerance=0.05):
    for d, j in rows:
        if abs(d - distance) < tolerance:
            return j
    return float("nan")


def plot_exchange(path, result, dft, title=None):
    """J_TB2J (meV) by shell distance with DFT points; J(θ)/J(θ→0) for each shell."""
    plt, fig, (ax, bx) = _figure()
    d = [s.distance for s in result.shells]
    ax.errorbar(d, [s.J_tb2j for s in result.shells], yerr=[s.J_tb2j_err for s in result.shells],
                marker="o", ls="", label="extracted")
    for name, rows in dft.items():
        rows = [r for r in rows if r[0] <= max(d) + 0.1]
        ax.plot([r[0] for r in rows], [r[1] for r in rows], marker="x", ls="", label=name)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("shell distance (Å)")
    ax.set_ylabel("J (meV, TB2J convention)")
    ax.legend(fontsize=7)
    for k, s in enumerate(result.shells):
        scale = s.J if s.J != 0 else 1.0
        bx.plot(result.angles, s.J_by_angle / scale, marker="o", label=f"shell {k + 1}")
    ratios = [s.J_by_angle / s.J for s in result.shells if s.J != 0] or [np.ones(1)]
    lo, hi = min(float(r.min()) for r in ratios), max(float(r.max()) for r in ratios)
    bx.set_ylim(min(lo, 0.99) - 0.005, max(hi, 1.01) + 0.005)
    bx.ticklabel_format(axis="y", useOffset=False)
    bx.set_xlabel("rotation angle θ (deg)")
    bx.set_ylabel("J(θ) / J(θ→0)")
    bx.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_anisotropy(config, log=print):
    from spinlattice.analysis.anisotropy import (
        anisotropy_scan, cubic_energy_differences, fit_cubic, fit_uniaxial, great_circle,
        sphere_directions,
    )
    from spinlattice.potential import SumPotential
    from spinlattice.potentials import CubicAnisotropy, UniaxialAnisotropy

    potential, state, config = _model_and_state(config, cubic=True)
    m = float(config["moment"])
    species = config["element"]
    terms, added = [potential], []
    if config.get("uniaxial"):
        u = config["uniaxial"]
        terms.append(UniaxialAnisotropy({species: [u["K1"] / m**2, u.get("K2", 0.0) / m**4]},
                                        axis=u.get("axis", [0.0, 0.0, 1.0])))
        added.append(f"uniaxial K1 = {u['K1']:.3g}, K2 = {u.get('K2', 0.0):.3g} eV/atom")
    if config.get("cubic"):
        c = config["cubic"]
        terms.append(CubicAnisotropy({species: [c["K1"] / m**4, c.get("K2", 0.0) / m**6]}))
        added.append(f"cubic K1 = {c['K1']:.3g}, K2 = {c.get('K2', 0.0):.3g} eV/atom")
    total = SumPotential(terms) if len(terms) > 1 else potential
    log(f"{config['model']} (spin_orbit={potential.spin_orbit})"
        + (" + analytic " + ", ".join(added) if added else ""))
    scan = anisotropy_scan(total, state, sphere_directions(int(config["n_directions"])))
    fits = {"uniaxial": fit_uniaxial(scan, axis=config["fit_axis"]), "cubic": fit_cubic(scan)}
    for name, fit in fits.items():
        log(f"  {name:8s} K1 = {1e6 * fit.K1:10.4f} ± {1e6 * fit.K1_err:.1e} μeV/atom, "
            f"K2 = {1e6 * fit.K2:10.4f} ± {1e6 * fit.K2_err:.1e} μeV/atom, "
            f"rms residual {1e6 * fit.rms_residual:.2e} μeV/atom")
    log(f"  spread of e(d) over the sphere: {1e6 * scan.spread:.3g} μeV/atom")
    circle, angles = great_circle([0, 0, 1], [1, 1, 0], 37)
    path_scan = anisotropy_scan(total, state, circle)
    out = Path(config["output"])
    out.mkdir(parents=True, exist_ok=True)
    results = {"scan": scan.as_dict(), "fits": {k: f.as_dict() for k, f in fits.items()},
               "cubic_differences": cubic_energy_differences(fits["cubic"]),
               "great_circle_001_110": {"angles_deg": np.rad2deg(angles).tolist(),
                                        "energies": path_scan.energies.tolist()},
               "added_terms": added, "config": config}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    plot_anisotropy(out / "anisotropy.png", scan, fits, np.rad2deg(angles), path_scan,
                    title=config["model"])
    return results


def plot_anisotropy(path, scan, fits, angles, path_scan, title=None):
    """Left: e(d) along the [001]→[110] great circle with both fits; right: fit residuals."""
    plt, fig, (ax, bx) = _figure()
    ax.plot(angles, 1e6 * path_scan.energies, "o", ms=3, label="scan")
    shift = None
    for name, fit in fits.items():
        pred = fit.predict(path_scan.directions)
        shift = pred[0] - path_scan.energies[0]
        ax.plot(angles, 1e6 * (pred - shift), label=f"{name} fit")
        bx.plot(np.arange(len(scan.energies)),
                1e6 * (scan.energies - fit.predict(scan.directions)), ".", label=name)
    ax.set_xlabel("angle from [001] towards [110] (deg)")
    ax.set_ylabel("e(d) − e([001]) (μeV/atom)")
    ax.legend(fontsize=7)
    bx.set_xlabel("sphere-grid direction")
    bx.set_ylabel("residual (μeV/atom)")
    bx.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main_exchange(args):
    config = load_config(args.config, EXCHANGE)
    if args.output:
        config["output"] = args.output
    run_exchange(config)
    print(f"wrote {Path(config['output']) / 'results.json'} and exchange.png")
    return 0


def main_anisotropy(args):
    config = load_config(args.config, ANISOTROPY)
    if args.output:
        config["output"] = args.output
    run_anisotropy(config)
    print(f"wrote {Path(config['output']) / 'results.json'} and anisotropy.png")
    return 0
