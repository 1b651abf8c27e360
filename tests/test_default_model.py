"""The built-in mMACE model ``fe-npj2021``: loads by name, carries its held-out errors and a
reference structure that is its own energy minimum, and behaves like ferromagnetic bcc Fe."""

import numpy as np
import pytest
from ase.build import bulk

from spinlattice.errors import InputError
from spinlattice.potentials.models import (BUILTIN_MODELS, is_mmace, load_model, model_metadata,
                                           reference_structure)
from spinlattice.state import SpinLatticeState

pytest.importorskip("torch")


def bcc(a, moments):
    atoms = bulk("Fe", "bcc", a=a, cubic=True)
    return SpinLatticeState.from_atoms(atoms, moments=np.asarray(moments, dtype=float))


def test_loads_by_name_with_metadata():
    assert "fe-npj2021" in BUILTIN_MODELS and is_mmace("fe-npj2021")
    pot = load_model("fe-npj2021")
    meta = model_metadata("fe-npj2021")
    assert pot.model.config["l_mag_max"] == 1 and pot.model.config["channels"] == 64
    assert not pot.model.spin_orbit
    for key in ("energy", "forces", "stress"):
        assert meta["test_errors"][key]["rmse"] > 0
    assert "npj Comput. Mater. 7, 153" in meta["training_data"]
    with pytest.raises(InputError, match="dtype"):
        load_model("fe-npj2021", dtype="float16")
    with pytest.raises(InputError, match="no metadata"):
        model_metadata("fe-tb2j-abacus")


def test_reference_is_the_models_ferromagnetic_minimum():
    """E(a) at the reference moment is smallest at the stored a (5 mÅ steps either side: the
    stored value is a bounded 1D minimisation to 1e-5 Å) and close to PBE's 2.831 Å (the
    training data's own level of theory; 0.02 Å ~ 0.7 % is a typical MLIP lattice error)."""
    lattice, element, a, m = reference_structure("fe-npj2021")
    assert (lattice, element) == ("bcc", "Fe")
    pot = load_model("fe-npj2021")
    up = np.tile([0.0, 0.0, m], (2, 1))
    e = [pot.compute(bcc(a + d, up), ("energy",))["energy"] for d in (-0.005, 0.0, 0.005)]
    assert e[1] < e[0] and e[1] < e[2]
    assert abs(a - 2.831) < 0.02


def test_ferromagnet_is_below_antiferromagnet_and_random_states():
    """bcc Fe is a ferromagnet in PBE: the B2 antiferromagnet and random directions (same |m|)
    lie above FM, and FM bcc is a stationary point (forces vanish by symmetry)."""
    _, _, a, m = reference_structure("fe-npj2021")
    pot = load_model("fe-npj2021")
    fm = pot.compute(bcc(a, [[0, 0, m], [0, 0, m]]), ("energy", "forces"))
    afm = pot.compute(bcc(a, [[0, 0, m], [0, 0, -m]]), ("energy",))
    assert afm["energy"] - fm["energy"] > 0.05  # eV per 2 atoms
    assert np.abs(fm["forces"]).max() < 1e-5
    rng = np.random.default_rng(1)
    big = SpinLatticeState.from_atoms(bulk("Fe", "bcc", a=a, cubic=True).repeat(2),
                                      moments=np.tile([0, 0, m], (16, 1)))
    e_fm = pot.compute(big, ("energy",))["energy"]
    d = rng.standard_normal((16, 3))
    d *= m / np.linalg.norm(d, axis=1, keepdims=True)
    assert pot.compute(big.replace(moments=d), ("energy",))["energy"] > e_fm


def test_neb_workflow_takes_the_builtin_model_by_name():
    from spinlattice.cli.neb import build_potential
    from spinlattice.potentials.mmace import MMACEPotential
    pot, text = build_potential({"model": "fe-npj2021", "model_parameters": {"dtype": "float64"}})
    assert isinstance(pot, MMACEPotential) and "fe-npj2021" in text
    with pytest.raises(ValueError, match="built-in model name"):
        build_potential({"model": "nickel", "model_parameters": {}})
