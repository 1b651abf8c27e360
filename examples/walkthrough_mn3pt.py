"""Walk-through: the frustrated non-collinear ground state of L1₂ Mn₃Pt from random starts.

    python examples/walkthrough_mn3pt.py [--output DIR] [--quick]

Notebook-style: every ``# %%`` cell runs on its own in Jupyter or VS Code (top to bottom), and
the whole file runs as a script (≈ 10 s with ``--quick``, which tests/test_examples.py runs;
≈ 30 s with the 20 starts of the full run on 2 cores).

Model: the SYNTHETIC Mn₃Pt model Hamiltonian of spinlattice/potentials/mn3pt.py (Heisenberg J₁
+ Néel Mn–Pt pair anisotropy + Landau), not DFT. Its ground state is known in closed form, so
the search can be checked. The mMACE version of this search (a model trained on configurations
labelled by this Hamiltonian) is examples/mn3pt_mmace.py; method and numbers: docs/minimisation.md.
"""

# %% [settings]
import argparse
import json
from pathlib import Path

import numpy as np

parser = argparse.ArgumentParser(description="Mn3Pt ground-state walk-through")
parser.add_argument("--output", default="mn3pt-walkthrough")
parser.add_argument("--quick", action="store_true", help="4 random starts instead of 20")
args, _ = parser.parse_known_args()  # Jupyter's own argv is ignored
OUT = Path(args.output)

# %% [1. the structure and the model]
# L1₂ Mn₃Pt: Pt on the cube corners, Mn on the face centres. The Mn form kagome planes normal to
# [111]; antiferromagnetic nearest-neighbour exchange J₁ < 0 on a triangle cannot be satisfied
# by collinear moments (frustration). The classical compromise is 120° between the three Mn
# sublattices; the Néel Mn–Pt anisotropy picks the "T1" state with the moments in the kagome
# plane pointing towards/away from the triangle centres. 2×2×2 cells: 24 Mn, 8 Pt (moment 0).
from spinlattice.potentials.mn3pt import (
    J1, KAPPA, MOMENT, mn3pt_potential, mn3pt_state, t1_moments,
)

state, labels = mn3pt_state()  # labels: Mn sublattice 0, 1, 2; Pt −1
mn = labels >= 0
pot = mn3pt_potential()
print(f"{state.n_atoms} atoms ({mn.sum()} Mn); J1 = {J1 * 1e3:.1f} meV/μB², κ = {KAPPA * 1e3:.3f} meV/μB²,"
      f" |m_Mn| = {MOMENT} μB")

# %% [2. the search of `spinlattice minimise`: variable-length moments, random starts]
# Each start rotates every Mn moment randomly (angle uniform in [0, π]) and scales its length
# by U[0, 1.5]; the minimiser then relaxes directions and lengths (the Landau term sets |m|).
# Minima are clustered by energy; the search also runs collinear starts (every whole-sublattice
# ± pattern plus random ones) to measure how far the best collinear state lies above.
from spinlattice.cli.minimise import load_config, run

config = load_config(None)
config.update(output=str(OUT), n_starts=4 if args.quick else 20,
              collinear_starts=10 if args.quick else 100)
results = run(config)
best = results["clusters"][0]

# %% [3. the same with fixed-length moments, |m_Mn| = 3 μB]
# On the sphere the minimiser converges on the largest torque |m × h|. Fixed and variable
# length find the same state here because the Landau term holds |m| close to 3 μB anyway.
from spinlattice.drivers import minimise_moments, moment_report, search_ground_state

fixed = search_ground_state(pot, state, np.random.default_rng(config["seed"]), config["n_starts"],
                            mode="fixed", mask=mn, sublattices=labels, energy_tol=1e-6, tol=1e-7)
for c, r in zip(fixed.clusters, fixed.reports):
    print(f"  E = {c['energy_per_site']:.7f} eV/Mn  x{c['count']:2d}  "
          f"max|angle-120°| = {r['max_triangle_deviation_from_120_deg']:.4f}°  "
          f"net = {r['net_moment_per_site']:.5f} μB/Mn  staggered = {r['staggered_moment']:.4f}")
print(f"  fraction reaching the lowest minimum: {fixed.fraction_global:.0%}")

# %% [4. checks against the model's closed forms]
# (a) Relaxing the ideal T1 state gives the search's best energy: the search found T1.
# (b) The anisotropy cants the moments slightly out of the kagome plane: a weak net moment
#     along [111], δ ≈ (2√2/3) K_eff / (12 |J₁|) × |m| to first order in the tilt.
# (c) The best collinear state (q = 0, A↑ B↓ C↑) lies (2/3)|J₁|L² per Mn above T1 for fixed
#     length L; variable length lowers it slightly.
t1 = minimise_moments(pot, state.replace(moments=t1_moments(labels)), mode="variable",
                      mask=mn, tol=1e-9)
rep = moment_report(t1.state, mn, sublattices=labels)
predicted = MOMENT * (2 * np.sqrt(2) / 3) * 2 * KAPPA / (12 * abs(J1))
same = abs(t1.energy / 24 - best["energy_per_site"]) < 1e-6
print(f"  ideal T1 relaxed: E = {t1.energy / 24:.7f} eV/Mn; search best "
      f"{best['energy_per_site']:.7f} eV/Mn (same state: {same})")
print(f"  weak moment along [111]: {rep['net_moment_per_site']:.5f} μB/Mn "
      f"(small-tilt prediction {predicted:.5f})")
col = np.zeros((state.n_atoms, 3))
col[labels == 0, 2], col[labels == 1, 2], col[labels == 2, 2] = MOMENT, -MOMENT, MOMENT
q0 = minimise_moments(pot, state.replace(moments=col), mode="variable", collinear=True,
                      axis=(0, 0, 1), mask=mn, tol=1e-9)
gap_q0 = (q0.energy - t1.energy) / 24
print(f"  collinear q=0 (A↑B↓C↑) gap: {gap_q0 * 1e3:.3f} meV/Mn; search's best collinear "
      f"gap {results['collinear']['gap_per_site_eV'] * 1e3:.3f} meV/Mn; fixed-|m| Heisenberg "
      f"value (2/3)|J1|L² = {2 / 3 * abs(J1) * MOMENT**2 * 1e3:.3f} meV/Mn")

# %% [5. summary]
summary = {
    "synthetic": True,
    "variable_length": {"n_starts": config["n_starts"],
                        "fraction_global": results["fraction_global"],
                        "energy_per_Mn": best["energy_per_site"],
                        "max_triangle_deviation_deg":
                            best["report"]["max_triangle_deviation_from_120_deg"],
                        "net_moment_per_Mn": best["report"]["net_moment_per_site"],
                        "collinear_gap_meV_per_Mn": results["collinear"]["gap_per_site_eV"] * 1e3},
    "fixed_length": {"fraction_global": fixed.fraction_global,
                     "energy_per_Mn": fixed.clusters[0]["energy_per_site"],
                     "max_triangle_deviation_deg":
                         fixed.reports[0]["max_triangle_deviation_from_120_deg"],
                     "net_moment_per_Mn": fixed.reports[0]["net_moment_per_site"]},
    "t1_energy_per_Mn": t1.energy / 24,
    "q0_collinear_gap_meV_per_Mn": gap_q0 * 1e3,
    "predicted_weak_moment_per_Mn": predicted,
}
(OUT / "summary.json").write_text(json.dumps(summary, indent=1))
print(f"wrote {OUT / 'summary.json'}, results.json and moments.png")
