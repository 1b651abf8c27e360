"""examples/mn3pt_mmace.py: the SYNTHETIC Mn3Pt data set (labels from the analytic model) and the
training config, fast (no training here; the trained-model numbers are in docs/minimisation.md)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parent.parent / "examples" / "mn3pt_mmace.py"


def _module():
    spec = importlib.util.spec_from_file_location("mn3pt_mmace_example", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_data_and_config(tmp_path):
    from spinlattice.io import read_extxyz
    from spinlattice.potentials.mn3pt import mn3pt_potential
    from spinlattice.potentials.training import resolve_config
    from spinlattice.properties import ENERGY, MAGNETIC_FORCES

    ex = _module()
    kinds = {k: 1 for k in ex.KINDS}
    ex.make_data(tmp_path, seed=1, kinds=kinds)
    frames = read_extxyz(tmp_path / "train.extxyz")
    assert len(frames) == len(ex.KINDS)
    assert sorted({f.config_type for f in frames}) == sorted(ex.KINDS)
    pot = mn3pt_potential()
    for f in frames:
        assert f.info["synthetic"] == ex.SYNTHETIC
        assert f.state.n_atoms == 32
        pt = f.state.numbers == 78
        assert np.all(f.state.moments[pt] == 0.0)
        assert np.all(np.linalg.norm(f.state.moments[~pt], axis=1) < 6.0)
        r = pot.compute(f.state, (ENERGY, MAGNETIC_FORCES))
        assert r[ENERGY] == pytest.approx(f.energy, abs=1e-10)
        assert np.allclose(r[MAGNETIC_FORCES], f.magnetic_forces, atol=1e-10)
    cfg = resolve_config(ex.train_config(tmp_path, minutes=1, threads=1))
    assert cfg["model"]["spin_orbit"] is True
    assert cfg["model"]["r_max"] > 2.71  # covers the Mn-Mn and Mn-Pt nearest neighbours
