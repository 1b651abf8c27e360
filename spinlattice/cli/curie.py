"""``spinlattice curie [CONFIG]``: a Curie-temperature calculation end to end.

Monte Carlo temperature sweeps for one or more supercell sizes, observables with error bars,
three T_C estimates (power-law fit of |m|(T), Binder crossing, χ and C_v peaks) compared, a
``results.json`` and ``curie.png`` in the output directory. Interrupted runs resume from the
checkpoints in that directory.

CONFIG is a JSON file; every key is optional (defaults: the quick bcc Fe run):

    {"model": "fe-tb2j-abacus",          built-in model name (spinlattice.potentials.models)
     "lattice": "bcc", "element": "Fe", "a": 2.866, "moment": 2.2949,   (default: the model's)
     "sizes": [6, 8, 10],                 cubic supercells n×n×n of the conventional cell
     "temperatures": "auto" | [K, ...],   auto: 14 points over 0.45–0.95 of the mean-field T_C
     "n_sweeps": 3000, "n_equilibration": 500, "seed": 0,
     "moves": {"cone": 0.7, "uniform": 0.3},
     "overrelaxation": 2,                 over-relaxation sweeps per sweep (Heisenberg-type only)
     "fit_window": [T_lo, T_hi] | null,   power-law window (default: below the χ peak)
     "hybrid": null | {"dt": 1.0, "md_steps": 10, "mc_sweeps": 1, "friction": 0.01},
                                          hybrid MD/MC per temperature (Langevin at T; for
                                          potentials that couple moments to the lattice);
                                          n_sweeps and n_equilibration then count cycles
     "output": "curie-run"}
"""

from __future__ import annotations

import json
import time
import warnings as warnings_module
from pathlib import Path

import numpy as np

from .config import read_config

QUICK = {"model": "fe-tb2j-abacus", "sizes": [6, 8, 10], "temperatures": "auto",
         "n_sweeps": 3000, "n_equilibration": 500, "seed": 0,
         "moves": {"cone": 0.7, "uniform": 0.3}, "overrelaxation": 2,
         "fit_window": None, "hybrid": None, "output": "curie-run"}


def load_config(path):
    """The run configuration: QUICK updated with the JSON file at ``path`` (None: QUICK)."""
    return read_config(path, QUICK, extra_keys=("lattice", "element", "a", "moment"))


def mean_field_tc(potential, state):
    """k_B T_MF = (2/3) |E_FM| / N for a classical Heisenberg model with fixed |m| (K)."""
    from spinlattice.units import K_B
    e = potential.compute(state, ("energy",))["energy"] / state.n_atoms
    return 2.0 * abs(e) / (3.0 * K_B)


def _structure(config, size):
    from ase.build import bulk

    from spinlattice.state import SpinLatticeState
    atoms = bulk(config["element"], config["lattice"], a=config["a"], cubic=True).repeat(size)
    moments = np.tile([0.0, 0.0, config["moment"]], (len(atoms), 1))
    return SpinLatticeState.from_atoms(atoms, moments=moments)


def run(config, log=print):
    """Run the calculation described by ``config`` (see module doc); returns the results dict."""
    from spinlattice.analysis.observables import observables
    from spinlattice.analysis.plots import plot_curie
    from spinlattice.drivers.montecarlo import MoveSet
    from spinlattice.drivers.sweeps import HybridSchedule, temperature_sweep
    from spinlattice.potentials.models import load_model, reference_structure

    potential = load_model(config["model"])
    lattice, element, a, moment = reference_structure(config["model"])
    config = {"lattice": lattice, "element": element, "a": a, "moment": moment, **config}
    out = Path(config["output"])
    out.mkdir(parents=True, exist_ok=True)
    temperatures = config["temperatures"]
    if temperatures == "auto":
        t_mf = mean_field_tc(potential, _structure(config, 2))
        temperatures = list(np.round(np.linspace(0.95, 0.45, 14) * t_mf, 1))
        log(f"mean-field T_C {t_mf:.0f} K; temperatures {temperatures[-1]:.0f}–"
            f"{temperatures[0]:.0f} K")
    temperatures = sorted((float(t) for t in temperatures), reverse=True)
    rng = np.random.default_rng(config["seed"])
    by_size, started = {}, time.perf_counter()
    for size in config["sizes"]:
        state = _structure(config, size)

        def progress(i, t, run_, size=size, n=state.n_atoms):
            o = observables(run_.samples.energy, run_.samples.magnetisation, t, n)
            log(f"  L={size} ({n} atoms) T={t:7.1f} K  |m|={o.magnetisation:.3f}±"
                f"{o.magnetisation_err:.3f} μB  U4={o.binder:.3f}  "
                f"[{time.perf_counter() - started:6.0f} s]")

        runs = temperature_sweep(potential, state, temperatures, config["n_sweeps"], rng,
                                 n_equilibration=config["n_equilibration"],
                                 moves=MoveSet(weights=config["moves"],
                                               overrelaxation=config["overrelaxation"]),
                                 directory=out / f"L{size}", progress=progress,
                                 hybrid=HybridSchedule(**config["hybrid"]) if config["hybrid"]
                                 else None)
        by_size[size] = [observables(r.samples.energy, r.samples.magnetisation, r.temperature,
                                     state.n_atoms).as_dict() for r in runs]
    results = analyse(by_size, config)
    plot_curie(out / "curie.png", by_size, fit=results.get("fit"),
               t_c={"binder": results["T_C_binder"], "fit": results["T_C"]},
               title=f"{config['model']}: T_C = {results['T_C']:.0f} ± {results['T_C_err']:.0f} K")
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    return results


def analyse(by_size, config):
    """T_C estimates from per-size observables (dict size → list of observable dicts)."""
    from spinlattice.analysis.curie import (
        binder_crossing, compare_estimates, fit_power_law_with_window_error, peak_temperature,
    )

    largest = max(by_size)
    rows = sorted(by_size[largest], key=lambda r: r["temperature"])
    t = np.array([r["temperature"] for r in rows])
    binder = None
    if len(by_size) > 1:
        grid = {s: sorted(v, key=lambda r: r["temperature"]) for s, v in by_size.items()}
        binder = binder_crossing(t, {s: [r["binder"] for r in v] for s, v in grid.items()},
                                 {s: [r["binder_err"] for r in v] for s, v in grid.items()})
    t_chi = peak_temperature(t, [r["susceptibility"] for r in rows])
    t_cv = peak_temperature(t, [r["heat_capacity"] for r in rows])
    # finite-size χ peaks sit above T_C: the points below it are on the ordered branch
    window = config["fit_window"] or [float(t.min()), t_chi]
    fit = fit_power_law_with_window_error(t, [r["magnetisation"] for r in rows],
                                          [r["magnetisation_err"] for r in rows], window=window)
    spacing = float(np.min(np.diff(t)))
    with warnings_module.catch_warnings():  # the CLI prints them itself
        warnings_module.simplefilter("ignore")
        estimates = {"fit": (fit["T_C"], fit["T_C_err"]), "chi_peak": (t_chi, None),
                     "binder": (binder["T_C_binder"], binder["T_C_binder_err"]) if binder
                     else (None, None)}
        warnings = compare_estimates(estimates, spread=spacing)
    return {"T_C": fit["T_C"], "T_C_err": fit["T_C_err"], "beta": fit["beta"],
            "beta_err": fit["beta_err"],
            "T_C_binder": binder["T_C_binder"] if binder else None,
            "T_C_binder_err": binder["T_C_binder_err"] if binder else None,
            "T_C_chi": t_chi, "T_C_cv": t_cv, "fit": fit, "warnings": warnings,
            "config": {k: v for k, v in config.items()},
            "temperatures": t.tolist(),
            "observables": {str(s): v for s, v in by_size.items()}}


def main(args):
    config = load_config(args.config)
    if args.output:
        config["output"] = args.output
    if args.quick_test:  # tiny run for the test suite
        config.update(sizes=[2, 3], n_sweeps=40, n_equilibration=10)
    res = run(config)
    print(f"T_C = {res['T_C']:.0f} ± {res['T_C_err']:.0f} K, beta = {res['beta']:.3f} ± "
          f"{res['beta_err']:.3f} (power-law fit)")
    if res["T_C_binder"] is not None:
        err = res["T_C_binder_err"]
        print(f"T_C (Binder crossing) = {res['T_C_binder']:.0f}"
              + (f" ± {err:.0f} K" if err is not None else " K"))
    print(f"T_C (chi peak) = {res['T_C_chi']:.0f} K, (C_v peak) = {res['T_C_cv']:.0f} K")
    for message in res["warnings"]:
        print(f"warning: {message}")
    print(f"wrote {Path(config['output']) / 'results.json'} and curie.png")
    return 0
