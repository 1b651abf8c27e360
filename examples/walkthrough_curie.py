"""Walk-through: the Curie temperature of bcc iron by Monte Carlo.

    python examples/walkthrough_curie.py [--output DIR] [--quick]

Notebook-style: every ``# %%`` cell runs on its own in Jupyter or VS Code (top to bottom), and
the whole file runs as a script. ``--quick`` uses small cells and short chains (≈ 10–20 s; the
numbers are then rough but physical); without it the run takes a few minutes on 2 cores.
tests/test_examples.py runs it with ``--quick`` so it never rots.

The model is chosen in ONE line (``MODEL`` below). Now: the built-in ``fe-tb2j-abacus``
classical Heisenberg model (DFT exchange constants, ABACUS + TB2J). Swapping in the mMACE Fe
model (``"fe-npj2021"``, once it ships) changes nothing else: the script detects that the
potential is not a fixed-lattice spin model and runs hybrid MD/MC instead of pure spin MC.
"""

# %% [settings]
# The one line to change for another potential: any name `load_model` knows. Everything below
# works for any Potential; only the Monte Carlo path and the run lengths adapt to it.
MODEL = "fe-tb2j-abacus"  # the mMACE default: MODEL = "fe-npj2021"

import argparse
import json
from pathlib import Path

import numpy as np
from ase.build import bulk

from spinlattice import SpinLatticeState
from spinlattice.errors import InputError
from spinlattice.potentials import load_model

# parse_known_args: inside Jupyter, sys.argv holds the kernel's own options, which we ignore
parser = argparse.ArgumentParser(description="bcc Fe Curie temperature walk-through")
parser.add_argument("--output", help="default: curie-walkthrough-MODEL[-quick]")
parser.add_argument("--quick", action="store_true", help="small settings (tests, a first look)")
parser.add_argument("--model", default=MODEL, help=f"built-in model name (default {MODEL})")
args, _ = parser.parse_known_args()
MODEL = args.model
# checkpoints in OUT are resumed: keep runs with other settings or models in other directories
OUT = Path(args.output or f"curie-walkthrough-{MODEL}" + ("-quick" if args.quick else ""))
OUT.mkdir(parents=True, exist_ok=True)

EXPERIMENT_TC = 1043.0  # K, bcc Fe

# %% [the potential and the ferromagnetic state]
# A state is positions (Å), species, cell, and one moment vector per atom (μB). We start from
# the ferromagnet: every moment along z with the model's reference magnitude. For a Heisenberg
# model |m| is a parameter of the model (the exchange constants were converted at that |m|);
# an mMACE model has its own preferred |m|, which the Monte Carlo magnitude moves then explore.
potential = load_model(MODEL)
try:
    from spinlattice.potentials.models import reference_structure
    _, _, A, MOMENT = reference_structure(MODEL)
except InputError:  # a model without a tabulated reference structure: experimental a, |m| ≈ 2.2
    A, MOMENT = 2.866, 2.2


def fm_state(size):
    """Ferromagnetic bcc Fe, size × size × size conventional cells (2 size³ atoms)."""
    atoms = bulk("Fe", "bcc", a=A, cubic=True).repeat(size)
    return SpinLatticeState.from_atoms(atoms, moments=np.tile([0.0, 0.0, MOMENT], (len(atoms), 1)))


state = fm_state(4)
out = potential.compute(state, ("energy", "forces", "magnetic_forces"))
h = out["magnetic_forces"]
torque = np.cross(state.moments, h)
print(f"model {MODEL}: a = {A:.4f} Å, |m| = {MOMENT:.4f} μB")
print(f"  E_FM = {out['energy'] / state.n_atoms:.5f} eV/atom; max |force| = "
      f"{np.abs(out['forces']).max():.2e} eV/Å (zero by cubic symmetry)")
# h = −∂E/∂m is parallel to m in the ferromagnet: no torque, a stationary point
print(f"  max |m × h| = {np.abs(torque).max():.2e} eV (the FM state is stationary)")

# %% [a mean-field estimate sets the temperature grid]
# Mean-field theory for classical moments: k_B T_MF = (2/3) (E_para − E_FM) / N, where E_para is
# the energy of uncorrelated directions (at fixed |m|). For a Heisenberg model E_para = 0 and
# this is k_B T_MF = Σ_j J_0j |m|²/3. Mean field ignores fluctuations, so it overestimates
# T_C (for nearest-neighbour bcc Heisenberg, by ≈ 30 %): the grid spans 0.45–0.95 T_MF.
from spinlattice.analysis.curie import mean_field_temperature

try:
    t_mf = mean_field_temperature(potential, state, np.random.default_rng(0), n_random=8)
except ValueError:
    raise SystemExit(f"{MODEL}: random directions lie below the ferromagnet at a = {A} Å, "
                     f"|m| = {MOMENT} μB; not a ferromagnet there, no Curie temperature")
print(f"mean-field T_C ≈ {t_mf:.0f} K (experiment {EXPERIMENT_TC:.0f} K)")

# %% [which Monte Carlo]
# Potentials that reduce to exchange + Landau + Zeeman at fixed positions (a LocalSpinModel)
# run whole Metropolis sweeps in numba, plus over-relaxation sweeps that cut autocorrelation
# times near T_C. Any other potential — mMACE, where moments and lattice are coupled — gets
# batched energy changes over independent sets, and hybrid MD/MC: Langevin MD at T (moments
# frozen) interleaved with Metropolis sweeps (positions frozen), so the lattice is thermal too.
from spinlattice.drivers import MoveSet, temperature_sweep
from spinlattice.drivers.sweeps import HybridSchedule
from spinlattice.spinmodel import local_spin_model

spin_model = local_spin_model(potential, state) is not None
if spin_model:
    moves = MoveSet(weights={"cone": 0.7, "uniform": 0.3}, overrelaxation=2)
    hybrid = None
    sizes = (4, 6) if args.quick else (6, 8, 10)
    n_sweeps, n_equilibration = (400, 100) if args.quick else (3000, 500)
    n_temperatures = 8 if args.quick else 14
else:  # mMACE: smaller cells, fewer cycles; moments change length too. Each cycle costs
    # md_steps force evaluations: the full settings are meant for a GPU (hours on 2 CPU cores)
    moves = MoveSet(weights={"cone": 0.7, "uniform": 0.2, "magnitude": 0.1}, fixed_length=False)
    hybrid = HybridSchedule(dt=1.0, md_steps=3 if args.quick else 10, mc_sweeps=1, friction=0.01)
    sizes = (2, 3) if args.quick else (4, 6)
    n_sweeps, n_equilibration = (20, 4) if args.quick else (400, 100)
    n_temperatures = 5 if args.quick else 10
lo = 0.6 if args.quick else 0.45  # quick: fewer points, kept near T_C
temperatures = list(np.round(np.linspace(0.95, lo, n_temperatures) * t_mf, 1))
print(f"{'numba spin-model sweeps' if spin_model else 'hybrid MD/MC'}; sizes {sizes}; "
      f"{n_temperatures} temperatures {temperatures[-1]:.0f}–{temperatures[0]:.0f} K; "
      f"{n_sweeps} sweeps after {n_equilibration}")

# %% [temperature sweeps, one per size]
# Each size is annealed from high to low T, every temperature starting from the previous one's
# final moments. Cone steps adapt during equilibration only (adapting during sampling would
# break detailed balance). Checkpoints in OUT/L{size}: rerunning resumes, with the same numbers.
from spinlattice.analysis import observables

by_size = {}
for size in sizes:
    s = fm_state(size)
    runs = temperature_sweep(potential, s, temperatures, n_sweeps, np.random.default_rng(size),
                             n_equilibration=n_equilibration, moves=moves, hybrid=hybrid,
                             directory=OUT / f"L{size}")
    by_size[size] = [observables(r.samples.energy, r.samples.magnetisation, r.temperature,
                                 s.n_atoms).as_dict() for r in runs]
    print(f"L = {size} ({s.n_atoms} atoms)\n     T (K)   |m| (μB/atom)     U4      τ_m (sweeps)")
    for o in by_size[size]:
        print(f"  {o['temperature']:7.1f}   {o['magnetisation']:.3f} ± {o['magnetisation_err']:.3f}"
              f"   {o['binder']:.3f}   {o['tau_magnetisation']:6.1f}")

# %% [Binder cumulant crossing]
# U4 = 1 − ⟨m⁴⟩/(3⟨m²⟩²) goes to 2/3 in the ordered phase and to 4/9 in the paramagnet (for
# 3-vectors); at T_C it is size-independent to leading order, so the curves of different sizes
# cross there. Errors: bootstrap of U4 within its blocked-jackknife errors.
from spinlattice.analysis import (
    binder_crossing, compare_estimates, fit_power_law_with_window_error, peak_temperature,
)


def column(size, key):
    return np.array([o[key] for o in sorted(by_size[size], key=lambda o: o["temperature"])])


grid = column(sizes[0], "temperature")
binder = binder_crossing(grid, {s: column(s, "binder") for s in sizes},
                         {s: column(s, "binder_err") for s in sizes})
tc_binder, tc_binder_err = binder["T_C_binder"], binder["T_C_binder_err"]
if tc_binder is None:
    print("the U4 curves do not cross in this temperature range")
else:
    print(f"Binder crossings {np.round(binder['crossings'], 1)} K → T_C = {tc_binder:.0f} ± "
          f"{tc_binder_err or 0:.0f} K")

# %% [power-law fit of |m|(T), χ and C_v peaks]
# Below T_C, |m| = A (T_C − T)^β (β ≈ 0.369 for the 3D Heisenberg class). In a finite cell |m|
# never vanishes, so the fit uses the largest cell and only temperatures below its χ peak (the
# finite-size peak sits above T_C); its error adds the bootstrap and the spread from dropping
# the highest points of the window. χ and C_v peaks are cruder, grid-limited estimates.
largest = sizes[-1]
t_chi = peak_temperature(grid, column(largest, "susceptibility"))
t_cv = peak_temperature(grid, column(largest, "heat_capacity"))
# (with fewer than 4 points below the χ peak — short noisy runs — the fit takes them all)
window = (float(grid.min()), t_chi if np.sum(grid <= t_chi) >= 4 else float(grid.max()))
fit = fit_power_law_with_window_error(grid, column(largest, "magnetisation"),
                                      column(largest, "magnetisation_err"), window=window)
print(f"power-law fit (L = {largest}, T ≤ {window[1]:.0f} K): T_C = {fit['T_C']:.0f} ± "
      f"{fit['T_C_err']:.0f} K, β = {fit['beta']:.3f} ± {fit['beta_err']:.3f}")
print(f"χ peak {t_chi:.0f} K, C_v peak {t_cv:.0f} K")
# disagreements beyond 3σ are printed as warnings (peaks: the grid spacing as their error)
compare_estimates({"fit": (fit["T_C"], fit["T_C_err"]), "binder": (tc_binder, tc_binder_err),
                   "chi_peak": (t_chi, None)}, spread=float(np.min(np.diff(grid))))

# %% [plots, results, and what the number means]
# Classical Monte Carlo with DFT exchange constants overestimates the T_C of Fe: the classical
# spin statistics and the fixed-length Heisenberg form (no longitudinal fluctuations) both
# stiffen the ferromagnet. An mMACE model has longitudinal fluctuations and moment–lattice
# coupling built in; the same script then gives its T_C (docs/curie.md, docs/exchange.md).
from spinlattice.analysis.plots import plot_curie

plot_curie(OUT / "curie.png", by_size, fit=fit, t_c={"binder": tc_binder, "fit": fit["T_C"]},
           title=f"{MODEL}: T_C = {fit['T_C']:.0f} ± {fit['T_C_err']:.0f} K")
results = {"model": MODEL, "quick": args.quick, "sizes": list(sizes), "T_mean_field": t_mf,
           "T_C_fit": fit["T_C"], "T_C_fit_err": fit["T_C_err"], "beta": fit["beta"],
           "beta_err": fit["beta_err"], "T_C_binder": tc_binder, "T_C_binder_err": tc_binder_err,
           "T_C_chi": t_chi, "T_C_cv": t_cv, "T_C_experiment": EXPERIMENT_TC,
           "observables": {str(k): v for k, v in by_size.items()}}
(OUT / "results.json").write_text(json.dumps(results, indent=1, default=float))
print(f"T_C / T_C(experiment) = {fit['T_C'] / EXPERIMENT_TC:.2f}; wrote {OUT / 'results.json'}"
      f" and {OUT / 'curie.png'}")
