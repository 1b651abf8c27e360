"""Walk-through: the Bain path bcc → fcc of iron, with moments relaxed at every image.

    python examples/walkthrough_bain.py [--output DIR] [--quick]

Notebook-style: every ``# %%`` cell runs on its own in Jupyter or VS Code (top to bottom), and
the whole file runs as a script (≈ 15 s with ``--quick``, which tests/test_examples.py runs).

Model: the analytic magnetic Fe STAND-IN of spinlattice/potentials/fe_standin.py (Finnis–Sinclair
EAM + Bethe–Slater Heisenberg + Landau, hand-chosen parameters): there is no mMACE Fe model yet,
so the numbers illustrate the method; they are not predictions for iron. Any Potential can be
put in its place (``fe`` below). Method and measured numbers: docs/neb.md.
"""

# %% [settings and the model]
# The Bain path turns bcc into fcc by one tetragonal strain: a two-atom body-centred tetragonal
# cell diag(a, a, c) is bcc at c/a = 1 and fcc at c/a = √2. Along the way the magnetic state can
# change (Fe is a ferromagnet in bcc; fcc Fe prefers antiferromagnetic order), so the moments
# are relaxed at every image, and the cell is a degree of freedom of the band.
import argparse
from pathlib import Path

from spinlattice.drivers.bain import bain_neb, ca_scan, compare_with_scan
from spinlattice.potentials.fe_standin import PARAMETERS, bain_standin_fe

parser = argparse.ArgumentParser(description="Bain path walk-through")
parser.add_argument("--output", default="bain-walkthrough")
parser.add_argument("--quick", action="store_true", help="fewer images (tests, a first look)")
args, _ = parser.parse_known_args()  # Jupyter's own argv is ignored
OUT = Path(args.output)
N_IMAGES = 5 if args.quick else 7

PBE_FCC_MINUS_BCC = 83.5  # meV/atom, shared/data/README.md (Zhang et al. arXiv 2307.10072)

fe = bain_standin_fe()
print(f"stand-in Fe model: {PARAMETERS}")

# %% [1. the ferromagnetic Bain path by solid-state NEB]
# End points: bcc and fcc, each at its own relaxed volume with relaxed moments. The band is
# interpolated linearly in the cell; each image relaxes its moments at every step (they are
# fast variables: the path lives on the Born–Oppenheimer-like surface E(R, cell) = min_m E).
# The climbing image converges onto the saddle. Energies of the 2-atom cell are divided by 2.
res, ca, vol = bain_neb(fe, start="FM", n_images=N_IMAGES, k=0.1, fmax=1e-4)
print(res.summary())
e0 = res.energies[0] / 2
fm_barrier = res.barrier / 2 * 1e3           # meV/atom
fm_fcc_minus_bcc = res.reaction_energy / 2 * 1e3

# %% [2. the NEB against a constrained c/a scan]
# A scan fixes c/a and relaxes everything else (volume, moments): at any c/a it is the lowest
# energy available, so E_NEB ≥ E_scan at the images' c/a. At the climbing image — the saddle, a
# minimum in every direction but along the path — the two coincide.
scan = ca_scan(fe, ca, start="FM")
cmp = compare_with_scan(res, ca, {"FM": scan})
print(" image   c/a    V (Å³/atom)  E_NEB − E_bcc  E_scan − E_bcc  (meV/atom)  |m| (μB)")
for k in range(len(ca)):
    print(f"  {k:3d}  {ca[k]:.4f}  {vol[k]:8.3f}  {(res.energies[k] / 2 - e0) * 1e3:12.3f}"
          f"  {(scan.energy[k] - e0) * 1e3:12.3f}    {res.descriptors['mean_abs'][k]:.3f}"
          + ("   <- climbing image" if k == res.climb_index else ""))
print(f"barrier {fm_barrier:.2f} meV/atom at c/a = {ca[res.climb_index]:.4f}; "
      f"fcc − bcc (FM) {fm_fcc_minus_bcc:.2f} meV/atom; "
      f"max |E_NEB − E_scan| {cmp['max_abs_difference'] * 1e3:.3f} meV/atom")

# %% [3. a path that must change magnetic order: FM bcc → AFM fcc]
# Start FM, end AFM (layered AFM-I in fcc). Somewhere along the band the relaxed moments jump
# from one magnetic branch to the other; the driver detects the switch from the per-image
# magnetic descriptors (net moment, staggered moment, reversals) and reports between which
# images it happens. The energy along such a path has a kink where the branches cross.
mixed, ca2, _ = bain_neb(fe, start=("FM", "AFM"), n_images=N_IMAGES + 2, k=0.1, fmax=1e-4)
print(mixed.summary())
print("labels:", " ".join(mixed.descriptors["label"]))
for sw in mixed.switches:
    print(f"  images {sw['between']}: {', '.join(sw['kinds'])} (c/a {ca2[sw['between'][0]]:.3f}"
          f" → {ca2[sw['between'][1]]:.3f}, net moment jump {sw['net_jump']:.2f} μB)")
afm_fcc_minus_bcc = mixed.reaction_energy / 2 * 1e3
print(f"E(fcc AFM) − E(bcc FM) = {afm_fcc_minus_bcc:.1f} meV/atom "
      f"(PBE fcc − bcc: {PBE_FCC_MINUS_BCC}); the stand-in is not fitted to DFT")

# %% [4. the same in one call: the `spinlattice neb` workflow]
# The command line runs the FM, AFM, NM and FM->AFM paths with their scans and writes
# results.json and bain.png (energy, c/a and moments along each path). Here, with --quick, only
# the mixed path.
from spinlattice.cli.neb import load_config, run

config = load_config(None, quick=args.quick)
config["output"] = str(OUT)
if args.quick:
    config["starts"] = ["FM->AFM"]
workflow = run(config)
print(f"outputs in {OUT.resolve()}")
