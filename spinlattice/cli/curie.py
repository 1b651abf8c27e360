"""``spinlattice curie [CONFIG]``: a Curie-temperature calculation end to end.

Monte Carlo temperature sweeps for one or more supercell sizes, observables with error bars,
three T_C estimates (power-law fit of |m|(T), Binder crossing, χ and C_v peaks) compared, a
``results.json`` and ``curie.png`` in the output directory. Interrupted runs resume from the
checkpoints in that directory.

CONFIG is a JSON file; every key is optional. Without one, ``model`` is the default mMACE model
``fe-npj2021`` and the rest comes from the model's preset (:func:`load_config`): for mMACE
models a quick hybrid MD/MC run on 16- and 54-atom cells (``--quality production``: 1024 to
3456 atoms, for a GPU); for Heisenberg-type models (``fe-tb2j-abacus``) pure Monte Carlo with
over-relaxation on 432–2000 sites.

    {"model": "fe-npj2021",               built-in model name (spinlattice.potentials.models)
     "lattice": "bcc", "element": "Fe", "a": 2.83, "moment": 2.2,   (default: the model's)
     "sizes": [2, 3],                     cubic supercells n×n×n of the conventional cell
     "temperatures": "auto" | [K, ...],   auto: n_temperatures points over t_range × T_MF
     "n_temperatures": 6, "t_range": [0.45, 0.95],
                                          k_B T_MF = (2/3)(⟨E⟩_random − E_FM)/N (mean field)
     "n_sweeps": 100, "n_equilibration": 25, "seed": 0,
     "moves": {"cone": 0.7, "uniform": 0.3},
     "overrelaxation": 0,                 over-relaxation sweeps per sweep (Heisenberg-type only)
     "fit_window": [T_lo, T_hi] | null,   power-law window (default: below the χ peak)
     "hybrid": null | {"dt": 1.0, "md_steps": 2, "mc_sweeps": 1, "friction": 0.01},
                                          hybrid MD/MC per temperature (Langevin at T; for
                                          potentials that couple moments to the lattice);
                                          n_sweeps and n_equilibration then count cycles
     "dtype": "float32", "device": "cpu", mMACE models only
     "output": "curie-run"}
"""

from __future__ import annotations

import json
import time
import warnings as warnings_module
from pathlib import Path

import numpy as np

from .config import read_config, read_json_object

DEFAULT_MODEL = "fe-npj2021"
COMMON = {"model": DEFAULT_MODEL, "temperatures": "auto", "t_range": [0.45, 0.95], "seed": 0,
          "moves": {"cone": 0.7, "uniform": 0.3}, "fit_window": None, "dtype": "float32",
          "device": "cpu", "output": "curie-run"}
#: presets by (kind of model, quality)
PRESETS = {
    ("heisenberg", "quick"): {"sizes": [6, 8, 10], "n_temperatures": 14, "n_sweeps": 3000,
                              "n_equilibration": 500, "overrelaxation": 2, "hybrid": None},
    ("heisenberg", "production"): {"sizes": [8, 12, 16], "n_temperatures": 20,
                                   "n_sweeps": 20000, "n_equilibration": 2000,
                                   "overrelaxation": 2, "hybrid": None},
    ("mmace", "quick"): {"sizes": [2, 3], "n_temperatures": 7, "t_range": [0.3, 0.78],
                         "n_sweeps": 100, "n_equilibration": 25, "overrelaxation": 0,
                         "hybrid": {"dt": 1.0, "md_steps": 2, "mc_sweeps": 1, "friction": 0.01}},
    ("mmace", "production"): {"sizes": [8, 10, 12], "n_temperatures": 14, "n_sweeps": 3000,
                              "n_equilibration": 500, "overrelaxation": 0, "device": "cuda",
                              "hybrid": {"dt": 1.0, "md_steps": 5, "mc_sweeps": 1,
                                         "friction": 0.01}},
}


#: the hidden ``--quick-test`` option (test suite): seconds, not physics
QUICK_TEST = {"heisenberg": {"sizes": [2, 3], "n_sweeps": 40, "n_equilibration": 10},
              "mmace": {"sizes": [1, 2], "n_temperatures": 3, "n_sweeps": 20,
                        "n_equilibration": 2,
                        "hybrid": {"dt": 1.0, "md_steps": 1, "mc_sweeps": 1, "friction": 0.01}}}


def defaults(model=DEFAULT_MODEL, quality="quick"):
    """The preset configuration for a built-in model and a quality ("quick" | "production")."""
    from spinlattice.potentials.models import is_mmace
    if quality not in ("quick", "production"):
        raise ValueError(f"quality must be 'quick' or 'production', got {quality!r}")
    kind = "mmace" if is_mmace(model) else "heisenberg"
    return {**COMMON, "model": model, **PRESETS[(kind, quality)]}


def load_config(path, quality="quick"):
    """The run configuration: the preset of the configuration's model (default
    ``fe-npj2021``) and ``quality``, updated with the JSON file at ``path`` (None: the preset)."""
    model = read_json_object(path).get("model", DEFAULT_MODEL) if path else DEFAULT_MODEL
    return read_config(path, defaults(model, quality),
                       extra_keys=("lattice", "element", "a", "moment"))


def _structure(config, size):
    from ase.build import bulk

    from spinlattice.state import SpinLatticeState
    atoms = bulk(config["element"], config["lattice"], a=config["a"], cubic=True).repeat(size)
    moments = np.tile([0.0, 0.0, config["moment"]], (len(atoms), 1))
    return SpinLatticeState.from_atoms(atoms, moments=moments)


def run(config, log=print):
    """Run the calculation described by ``config`` (see module doc); returns the results dict."""
    from spinlattice.analysis.curie import mean_field_temperature
    from spinlattice.analysis.observables import observables
    from spinlattice.analysis.plots import plot_curie
    from spinlattice.drivers.montecarlo import MoveSet
    from spinlattice.drivers.sweeps import HybridSchedule, temperature_sweep
    from spinlattice.potentials.models import is_mmace, load_model, reference_structure

    mmace = is_mmace(config["model"])
    potential = load_model(config["model"], dtype=config["dtype"])
    if mmace and config["device"] != "cpu":
        potential.model.to(config["device"])
    lattice, element, a, moment = reference_structure(config["model"])
    config = {"lattice": lattice, "element": element, "a": a, "moment": moment, **config}
    out = Path(config["output"])
    out.mkdir(parents=True, exist_ok=True)
    temperatures = config["temperatures"]
    if temperatures == "auto":
        t_mf = mean_field_temperature(potential, _structure(config, 2 if mmace else 3),
                                      np.random.default_rng(config["seed"]))
        lo, hi = config["t_range"]
        temperatures = list(np.round(np.linspace(hi, lo, config["n_temperatures"]) * t_mf, 1))
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
    err = results["T_C_err"]
    plot_curie(out / "curie.png", by_size, fit=results.get("fit"),
               t_c={"binder": results["T_C_binder"], "fit": (results["fit"] or {}).get("T_C")},
               title=f"{config['model']}: T_C = {results['T_C']:.0f}"
                     + (f" ± {err:.0f}" if err is not None else "") + " K")
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
    # finite-size χ peaks sit above T_C, and in small cells far above it: fit the points below
    # both the χ peak and the Binder crossing (the ordered branch)
    upper = min(t_chi, binder["T_C_binder"]) if binder and binder["T_C_binder"] else t_chi
    window = config["fit_window"] or [float(t.min()), upper]
    spacing = float(np.min(np.diff(t)))
    warnings = []
    try:
        fit = fit_power_law_with_window_error(t, [r["magnetisation"] for r in rows],
                                              [r["magnetisation_err"] for r in rows],
                                              window=window)
    except ValueError as exc:  # too few points below the χ peak: say so, keep the rest
        fit = None
        warnings.append(f"power-law fit skipped ({exc}); T_C is the Binder crossing (or the χ "
                        "peak) and β is not determined — use more temperatures below T_C")
    binder_tc = (binder["T_C_binder"], binder["T_C_binder_err"]) if binder else (None, None)
    with warnings_module.catch_warnings():  # the CLI prints them itself
        warnings_module.simplefilter("ignore")
        estimates = {"fit": (fit["T_C"], fit["T_C_err"]) if fit else (None, None),
                     "chi_peak": (t_chi, None), "binder": binder_tc}
        warnings += compare_estimates(estimates, spread=spacing)
    if fit is not None:
        best = (fit["T_C"], fit["T_C_err"])
    else:
        best = binder_tc if binder_tc[0] is not None else (t_chi, spacing)
    return {"T_C": best[0], "T_C_err": best[1],
            "T_C_source": "power-law fit" if fit else ("Binder" if binder_tc[0] else "chi peak"),
            "beta": fit["beta"] if fit else None, "beta_err": fit["beta_err"] if fit else None,
            "T_C_binder": binder["T_C_binder"] if binder else None,
            "T_C_binder_err": binder["T_C_binder_err"] if binder else None,
            "T_C_chi": t_chi, "T_C_cv": t_cv, "fit": fit, "warnings": warnings,
            "config": {k: v for k, v in config.items()},
            "temperatures": t.tolist(),
            "observables": {str(s): v for s, v in by_size.items()}}


def main(args):
    from spinlattice.potentials.models import is_mmace
    config = load_config(args.config, args.quality)
    if args.output:
        config["output"] = args.output
    if args.quick_test:  # tiny run for the test suite
        config.update(QUICK_TEST["mmace" if is_mmace(config["model"]) else "heisenberg"])
    res = run(config)
    err = res["T_C_err"]
    print(f"T_C = {res['T_C']:.0f}" + (f" ± {err:.0f}" if err is not None else "") + " K"
          + (f", beta = {res['beta']:.3f} ± {res['beta_err']:.3f} (power-law fit)"
             if res["beta"] is not None else f" ({res['T_C_source']}; no power-law fit)"))
    if res["T_C_binder"] is not None:
        err = res["T_C_binder_err"]
        print(f"T_C (Binder crossing) = {res['T_C_binder']:.0f}"
              + (f" ± {err:.0f} K" if err is not None else " K"))
    print(f"T_C (chi peak) = {res['T_C_chi']:.0f} K, (C_v peak) = {res['T_C_cv']:.0f} K")
    for message in res["warnings"]:
        print(f"warning: {message}")
    print(f"wrote {Path(config['output']) / 'results.json'} and curie.png")
    return 0
