"""Exchange constants of bcc Fe from a potential, compared with DFT, and what they predict for T_C.

    python examples/exchange_fe.py [OUTPUT_DIR] [--quick] [--model NAME] [--direct RESULTS_JSON]

1. J1..J6 of the built-in ``fe-tb2j-abacus`` model (a Heisenberg model made from ABACUS + TB2J
   exchange) by :func:`spinlattice.analysis.exchange.exchange_constants` (four-state energy
   differences of rotated moments at fixed positions, θ = 10°, 20°, 30°, extrapolated to θ → 0),
   in our convention (E = −Σ_{i<j} J m_i·m_j, meV/μB²) and TB2J's (E = −Σ_{i≠j} J e_i·e_j, meV),
   next to the DFT shell averages of tests/data/fe_exchange_tb2j/tb2j_shell_averaged_Jiso.csv
   (ABACUS and SIESTA). For this model the extraction must give back the file's own numbers:
   it checks the method and the conversions end to end, not the physics.
2. Mean-field and classical RPA T_C of the extracted model (Pajda et al., PRB 64, 174402 (2001)
   report 1414 K and 950 K for their LMTO Fe exchange; experiment 1043 K).
3. Monte Carlo T_C of the extracted Heisenberg model (ShellTable from the extracted J's) next to
   the direct Monte Carlo T_C of the potential itself (same settings, independent seeds).
4. A potential that is not a fixed-length Heisenberg model: the built-in model + a Landau
   longitudinal term (minimum at the reference moment in the ferromagnet). The extracted J's are
   unchanged (on-site terms cancel in the four-state difference), but the direct Monte Carlo now
   samples moment lengths too: its T_C differs from the extracted model's, and that difference
   is the longitudinal-fluctuation effect a fixed-length Heisenberg mapping leaves out.

``--model fe-npj2021`` (the default mMACE model) runs steps 1–3 on it; its direct T_C is then
read from the ``results.json`` of a hybrid MD/MC ``spinlattice curie`` run (``--direct``)
instead of the fixed-position MC of step 3 (too slow on CPU at these sizes), and step 4 is
skipped (the model has its own longitudinal energy).
"""

import csv
import json
import time
from pathlib import Path

import numpy as np
from ase.build import bulk

from spinlattice.analysis.curie import (
    binder_crossing, fit_power_law_with_window_error, peak_temperature,
)
from spinlattice.analysis.exchange import exchange_constants, mean_field_tc, rpa_tc
from spinlattice.analysis.observables import observables
from spinlattice.drivers.montecarlo import MoveSet
from spinlattice.drivers.sweeps import temperature_sweep
from spinlattice.potential import SumPotential
from spinlattice.potentials import Heisenberg, Landau, ShellTable, load_model
from spinlattice.potentials.models import reference_structure
from spinlattice.state import SpinLatticeState
from spinlattice.units import K_B

DFT_CSV = Path(__file__).resolve().parent.parent / "tests" / "data" / "fe_exchange_tb2j" / \
    "tb2j_shell_averaged_Jiso.csv"
DFT_SYSTEMS = ("Abacus_Fe_no_SOC", "Siesta_bccFe")


def dft_shells():
    out = {}
    with open(DFT_CSV) as handle:
        for row in csv.DictReader(handle):
            if row["system"] in DFT_SYSTEMS:
                out.setdefault(row["system"], []).append(
                    (float(row["distance_A"]), float(row["J_iso_mean_meV"])))
    return out


def nearest(rows, distance):
    return next((j for d, j in rows if abs(d - distance) < 0.05), float("nan"))


def monte_carlo_tc(potential, a, moment, sizes, temperatures, n_sweeps, seed, moves, fit=True):
    """T_C of ``potential`` on bcc supercells at fixed positions, as ``spinlattice curie`` does
    it: power-law fit of |m|(T) below the χ peak of the largest size (skipped with ``fit=False``,
    as in quick runs whose few noisy points say nothing), Binder crossing of the sizes, χ peak."""
    by_size = {}
    for size in sizes:
        atoms = bulk("Fe", "bcc", a=a, cubic=True).repeat(size)
        state = SpinLatticeState.from_atoms(atoms, moments=np.tile([0, 0, moment], (len(atoms), 1)))
        runs = temperature_sweep(potential, state, temperatures, n_sweeps,
                                 np.random.default_rng(seed + size), moves=moves,
                                 n_equilibration=max(n_sweeps // 5, 10))
        rows = [observables(r.samples.energy, r.samples.magnetisation, r.temperature,
                            state.n_atoms).as_dict() for r in runs]
        by_size[size] = sorted(rows, key=lambda r: r["temperature"])
    t = np.array([r["temperature"] for r in by_size[max(sizes)]])
    binder = binder_crossing(t, {s: [r["binder"] for r in v] for s, v in by_size.items()},
                             {s: [r["binder_err"] for r in v] for s, v in by_size.items()})
    t_chi = peak_temperature(t, [r["susceptibility"] for r in by_size[max(sizes)]])
    out = {"T_C": None, "T_C_err": None, "beta": None, "beta_err": None, "T_C_chi": t_chi,
           "T_C_binder": binder["T_C_binder"], "T_C_binder_err": binder["T_C_binder_err"]}
    if fit:
        rows = by_size[max(sizes)]
        res = fit_power_law_with_window_error(t, [r["magnetisation"] for r in rows],
                                              [r["magnetisation_err"] for r in rows],
                                              window=[float(t.min()), t_chi])
        out.update({k: res[k] for k in ("T_C", "T_C_err", "beta", "beta_err")})
    return out


def _fmt(tc):
    binder = tc["T_C_binder"]
    b = "n/a" if binder is None else f"{binder:.0f}" + (
        f" ± {tc['T_C_binder_err']:.0f}" if tc["T_C_binder_err"] is not None else "")
    fit = "fit skipped" if tc["T_C"] is None else \
        f"fit {tc['T_C']:.0f} ± {tc['T_C_err']:.0f} K (β = {tc['beta']:.2f})"
    return f"{fit}, Binder {b} K, χ peak {tc['T_C_chi']:.0f} K"


def main(output="exchange-fe-run", quick=False, model="fe-tb2j-abacus", direct=None):
    from spinlattice.potentials.models import is_mmace
    started = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    potential = load_model(model)
    lattice, element, a, moment = reference_structure(model)
    state = SpinLatticeState.from_atoms(bulk(element, lattice, a=a), moments=[[0, 0, moment]])

    print(f"== 1. exchange of {model} (bcc Fe, a = {a:.3f} Å, |m| = {moment:.4f} μB)")
    result = exchange_constants(potential, state, r_max=6.0)
    dft = dft_shells()
    print("  shell  r (Å)   z   J ours (meV/μB²)   J_TB2J (meV)     ABACUS    SIESTA   (TB2J, meV)")
    for k, s in enumerate(result.shells):
        abacus, siesta = (nearest(dft[name], s.distance) for name in DFT_SYSTEMS)
        print(f"  J{k + 1:<4d} {s.distance:5.3f}  {s.count:3d}  {1e3 * s.J:8.4f} ± "
              f"{1e3 * s.J_err:.0e}   {s.J_tb2j:8.3f} ± {s.J_tb2j_err:.0e}  {abacus:8.3f}"
              f"  {siesta:8.3f}")
    print(f"  {result.n_evaluations} energy evaluations of a {result.n_atoms}-atom supercell")
    check = exchange_constants(potential, state, r_max=6.0, method="magnetic_forces")
    worst = max(abs(s.J - t.J) / abs(s.J) for s, t in zip(result.shells, check.shells))
    print(f"  cross-check from magnetic forces ({check.n_evaluations} evaluations, every pair of "
          f"every shell): largest relative difference {worst:.1e}")

    print("\n== 2. mean-field and RPA T_C of the extracted model (classical, |m| fixed)")
    t_mf, t_rpa = mean_field_tc(result), rpa_tc(result)
    five = [s.J for s in result.shells[:5]]
    t_mf5 = sum(s.count * s.J for s in result.shells[:5]) * moment**2 / 3 / K_B
    print(f"  T_MF = {t_mf:.0f} K (J1..J5 only: {t_mf5:.0f} K), T_RPA = {t_rpa:.0f} K; "
          "experiment 1043 K; Pajda et al. 2001: T_MF 1414 K, T_RPA 950 K")

    print("\n== 3. Monte Carlo T_C: extracted Heisenberg model vs the potential itself")
    extracted = Heisenberg(ShellTable(result.shell_table()))
    sizes = [2, 3] if quick else [4, 6]
    n_sweeps = 60 if quick else 2000
    temperatures = list(np.round(np.linspace(0.95, 0.55, 6 if quick else 12) * t_mf, 1))
    fixed = MoveSet(weights={"cone": 0.7, "uniform": 0.3})
    tc_extracted = monte_carlo_tc(extracted, a, moment, sizes, temperatures, n_sweeps, 11, fixed,
                                  fit=not quick)
    print(f"  extracted model: {_fmt(tc_extracted)}")
    if is_mmace(model):
        tc_direct, extra = direct_tc(direct), {}
        print(f"  direct (hybrid MD/MC, {direct}): "
              + (_fmt(tc_direct) if tc_direct else "not given (--direct RESULTS_JSON)"))
    else:
        tc_direct = monte_carlo_tc(potential, a, moment, sizes, temperatures, n_sweeps, 23,
                                   fixed, fit=not quick)
        print(f"  direct         : {_fmt(tc_direct)}")
        extra = longitudinal_check(potential, state, result, a, moment, sizes, temperatures,
                                   n_sweeps, quick)

    summary = {
        "model": model, "shells": result.table(), "angles_deg": result.angles.tolist(),
        "dft_tb2j_meV": dft, "T_mean_field": t_mf, "T_mean_field_J1_J5": t_mf5, "T_rpa": t_rpa,
        "J1_J5_ours_eV_per_muB2": five, "force_method_max_rel_diff": worst,
        "T_C_mc_extracted": tc_extracted, "T_C_mc_direct": tc_direct, **extra,
        "mc": {"sizes": sizes, "n_sweeps": n_sweeps, "temperatures": temperatures},
        "quick": quick, "seconds": time.perf_counter() - started}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    print(f"\nwrote {out / 'summary.json'} ({summary['seconds']:.0f} s)")
    return summary


def longitudinal_check(potential, state, result, a, moment, sizes, temperatures, n_sweeps,
                       quick):
    """Step 4: the potential + a Landau term; returns the summary entries."""
    print("\n== 4. + Landau longitudinal term: direct MC samples |m| too")
    j0 = sum(s.count * s.J for s in result.shells)
    b = 0.05  # eV/μB⁴; A puts the ferromagnet's minimum at the reference moment
    landau_a = 0.5 * j0 - 2 * b * moment**2
    longitudinal = SumPotential(potential, Landau({"Fe": (landau_a, b, 0.0)}))
    result_l = exchange_constants(longitudinal, state, r_max=6.0, angles=(10.0, 30.0))
    shift = max(abs(s.J - t.J) for s, t in zip(result.shells, result_l.shells))
    print(f"  Landau A = {landau_a:.4f} eV/μB², B = {b} eV/μB⁴; extracted J's change by "
          f"{shift:.1e} eV/μB² (on-site terms cancel)")
    free = MoveSet(weights={"cone": 0.6, "uniform": 0.2, "magnitude": 0.2}, fixed_length=False)
    tc_long = monte_carlo_tc(longitudinal, a, moment, sizes, temperatures, n_sweeps, 37, free,
                             fit=not quick)
    print(f"  direct, variable |m|: {_fmt(tc_long)}")
    return {"T_C_mc_longitudinal": tc_long, "landau": {"A": landau_a, "B": b}}


def direct_tc(path):
    """The T_C estimates of a ``spinlattice curie`` results.json (None without one)."""
    if not path:
        return None
    res = json.loads(Path(path).read_text())
    return {k: res.get(k) for k in ("T_C", "T_C_err", "beta", "beta_err", "T_C_chi",
                                    "T_C_binder", "T_C_binder_err")}


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("output", nargs="?", default="exchange-fe-run")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--model", default="fe-tb2j-abacus")
    p.add_argument("--direct", help="results.json of a spinlattice curie run of --model")
    a = p.parse_args()
    main(a.output, quick=a.quick, model=a.model, direct=a.direct)
