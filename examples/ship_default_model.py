"""Package a trained Fe mMACE run as the built-in model ``fe-npj2021``.

    python examples/ship_default_model.py runs/fe_default_magnetic [--output potentials/data/fe-npj2021.pt]

Reads ``model.pt`` (best EMA weights), ``metrics.json`` and ``config.json`` of a run of
``examples/train_fe.py --preset default-model``, finds the model's own ferromagnetic bcc
reference (lattice constant minimising E(a) at the moment of the lowest-energy DFT bcc frame;
the model's preferred |m| at that a is reported, not used — the training data carry no magnetic
forces, so ∂E/∂|m| is not fitted), and writes a float32 checkpoint with metadata: data source
and licence, split, held-out errors per set and config type, reference structure. Prints the
metadata.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "fe_npj2021" / "fe_npj2021.extxyz.gz"
CITATION = ("Nikolov, Wood, Cangi, Maillet, Marinica, Thompson, Desjarlais, Tranchida, "
            "npj Comput. Mater. 7, 153 (2021); data distributed with FitSNAP "
            "(examples/Fe_Linear_NPJ2021), GPL-2.0")


def bcc_state(a, moment):
    from ase.build import bulk

    from spinlattice.state import SpinLatticeState
    atoms = bulk("Fe", "bcc", a=a, cubic=True)
    return SpinLatticeState.from_atoms(atoms, moments=np.tile([0.0, 0.0, moment], (2, 1)))


def dft_bcc_moment(path=DATA):
    """Mean |m| (μB) of the lowest-energy-per-atom frame of the bcc EOS set (EOS_100)."""
    import ase.io
    frames = [f for f in ase.io.read(path, index=":") if f.info["config_type"] == "EOS_100"]
    best = min(frames, key=lambda f: f.info["REF_energy"] / len(f))
    return float(np.linalg.norm(best.arrays["REF_magmom"], axis=1).mean()), best


def reference(potential, moment):
    """(a0, E0 per atom, the model's preferred |m| at a0) for FM bcc Fe."""
    def energy(a, m=moment):
        return potential.compute(bcc_state(a, m), ("energy",))["energy"] / 2

    a0 = minimize_scalar(energy, bounds=(2.6, 3.1), method="bounded",
                         options={"xatol": 1e-5}).x
    m_pref = minimize_scalar(lambda m: energy(a0, m), bounds=(0.0, 3.3), method="bounded",
                             options={"xatol": 1e-4}).x
    return float(a0), float(energy(a0)), float(m_pref)


def metadata(run, potential, moment, recipe):
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    a0, e0, m_pref = reference(potential, moment)
    test = metrics["metrics"]["test"]
    return {
        "name": "fe-npj2021",
        "description": "non-SOC mMACE for iron, trained on spin-polarised VASP PBE data",
        "training_data": CITATION,
        "recipe": recipe,
        "split": config["split"],
        "loss": config["loss"],
        "stage_two": config.get("stage_two"),
        "steps": metrics["step"], "best_step": metrics["best_step"],
        "n_parameters": metrics["n_parameters"],
        "frames": metrics["sets"],
        "units": "energy meV/atom, forces meV/Å, stress GPa",
        "test_errors": {k: {"rmse": v["rmse"], "mae": v["mae"]}
                        for k, v in test["overall"].items()},
        "test_errors_by_config_type": {
            g: {k: v["rmse"] for k, v in props.items()}
            for g, props in test.get("groups", {}).items()},
        "reference": {"lattice": "bcc", "element": "Fe", "a": round(a0, 5),
                      "moment": round(moment, 4), "energy_per_atom_eV": e0,
                      "model_preferred_moment_at_a": round(m_pref, 3),
                      "note": "a minimises the model's FM bcc energy at the moment of the "
                              "lowest-energy DFT bcc frame (EOS_100)"},
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run directory of train_fe.py --preset default-model(-long)")
    p.add_argument("--recipe", default="examples/train_fe.py --preset default-model-long "
                   "--steps 45000", help="recorded in the metadata")
    p.add_argument("--output", default=str(HERE.parent / "potentials" / "data" / "fe-npj2021.pt"))
    a = p.parse_args(argv)
    import torch

    from spinlattice.potentials.mmace import MMACEPotential, load_model, save_model
    run = Path(a.run)
    model = load_model(run / "model.pt", dtype=torch.float64)
    moment, _ = dft_bcc_moment()
    meta = metadata(run, MMACEPotential(model), moment, a.recipe)
    save_model(load_model(run / "model.pt", dtype=torch.float32), a.output, metadata=meta)
    print(json.dumps(meta, indent=1))
    print(f"wrote {a.output} ({Path(a.output).stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
