"""The Bain path bcc → fcc of iron with moments relaxed at every image (analytic STAND-IN model).

    python examples/bain_path.py [OUTPUT_DIR] [--quick]

Uses the analytic magnetic Fe stand-in of spinlattice/potentials/fe_standin.py (Finnis–Sinclair
EAM + Bethe–Slater Heisenberg + Landau, hand-chosen parameters): there is no mMACE Fe model yet,
so the numbers illustrate the method, they are not predictions for iron.

1. Step by step with the drivers: the FM Bain path by solid-state NEB (end points at their
   relaxed volumes, 7 images, climbing image), the constrained c/a scan at the images' c/a, and
   their comparison (E_NEB ≥ E_scan, equal at the saddle).
2. A path that must change magnetic order (FM bcc → AFM fcc) and the reported switch.
3. The `spinlattice neb` workflow (FM, AFM, NM and FM->AFM; results.json and bain.png), small
   settings with --quick.
"""

import sys
from pathlib import Path

import numpy as np

from spinlattice.cli.neb import load_config, run
from spinlattice.drivers.bain import bain_neb, ca_scan, compare_with_scan
from spinlattice.potentials.fe_standin import PARAMETERS, bain_standin_fe

PBE_FCC_MINUS_BCC = 83.5  # meV/atom, shared/data/README.md (Zhang et al. arXiv 2307.10072)


def main(output="bain-run", quick=False):
    fe = bain_standin_fe()
    print(f"stand-in Fe model: {PARAMETERS}")
    n = 5 if quick else 7

    print("\n== 1. FM Bain path: NEB (free cell) and c/a scan")
    res, ca, vol = bain_neb(fe, start="FM", n_images=n, k=0.1, fmax=1e-4)
    print(res.summary())
    scan = ca_scan(fe, ca, start="FM")
    cmp = compare_with_scan(res, ca, {"FM": scan})
    print(" image   c/a    V (Å³/atom)  E_NEB − E_bcc  E_scan − E_bcc  (meV/atom)  |m| (μB)")
    e0 = res.energies[0] / 2
    for k in range(len(ca)):
        print(f"  {k:3d}  {ca[k]:.4f}  {vol[k]:8.3f}  {(res.energies[k] / 2 - e0) * 1e3:12.3f}"
              f"  {(scan.energy[k] - e0) * 1e3:12.3f}    {res.descriptors['mean_abs'][k]:.3f}"
              + ("   <- climbing image" if k == res.climb_index else ""))
    print(f"barrier {res.barrier / 2 * 1e3:.2f} meV/atom at c/a = {ca[res.climb_index]:.4f}; "
          f"fcc − bcc (FM) {res.reaction_energy / 2 * 1e3:.2f} meV/atom; "
          f"max (E_NEB − E_scan) {cmp['max_abs_difference'] * 1e3:.3f} meV/atom")

    print("\n== 2. FM bcc → AFM fcc: a change of magnetic order along the path")
    mixed, ca2, _ = bain_neb(fe, start=("FM", "AFM"), n_images=n + 2, k=0.1, fmax=1e-4)
    print(mixed.summary())
    print("labels:", " ".join(mixed.descriptors["label"]))
    for sw in mixed.switches:
        print(f"  images {sw['between']}: {', '.join(sw['kinds'])} (c/a {ca2[sw['between'][0]]:.3f}"
              f" → {ca2[sw['between'][1]]:.3f}, net moment jump {sw['net_jump']:.2f} μB)")
    e_afm = mixed.reaction_energy / 2 * 1e3
    print(f"E(fcc AFM) − E(bcc FM) = {e_afm:.1f} meV/atom (PBE fcc − bcc: {PBE_FCC_MINUS_BCC})")

    print("\n== 3. the `spinlattice neb` workflow")
    config = load_config(None, quick=quick)
    config["output"] = output
    if quick:
        config["starts"] = ["FM", "FM->AFM"]
    run(config)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else "bain-run", quick="--quick" in sys.argv)
    print(f"outputs in {Path(args[0] if args else 'bain-run').resolve()}")
