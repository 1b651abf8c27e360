"""Built-in models, loaded by name.

========================  ==============================================================
name                      model
========================  ==============================================================
``fe-tb2j-abacus``        bcc Fe classical Heisenberg model: DFT exchange of ABACUS + TB2J
                          (magnetic force theorem, no SOC), shells up to 6 Å (J1 = 18.7 meV,
                          J2 = 9.9 meV in TB2J's convention), reference |m| = 2.2949 μB.
                          Converted with J_ours = 2 J_TB2J / |m|² (docs/conventions.md).
``fe-npj2021``            the default mMACE model: non-SOC magnetic MACE (1 layer, 64x0e,
                          r_max 4.5 Å, l_pos 3, l_mag 3, ν = 2) trained on the spin-polarised
                          PBE data of Nikolov et al., npj Comput. Mater. 7, 153 (2021)
                          (``examples/train_fe.py --preset default-model``); held-out errors,
                          split and reference structure in its metadata
                          (:func:`model_metadata`) and docs/accuracy.md.
========================  ==============================================================

Structures that go with a model are returned by :func:`reference_structure`.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from spinlattice.errors import InputError

_TB2J_FE = "Abacus_Fe_no_SOC.exchange.out"
_MMACE_FILES = {"fe-npj2021": "fe-npj2021.pt"}

BUILTIN_MODELS = ("fe-tb2j-abacus", *_MMACE_FILES)


def _data_path(name):
    return resources.files("spinlattice.potentials") / "data" / name


def _unknown(name):
    return InputError(f"unknown built-in model {name!r}; available: {', '.join(BUILTIN_MODELS)}")


def is_mmace(name):
    """True for the built-in models that are mMACE networks (torch)."""
    return name in _MMACE_FILES


def load_model(name, dtype="float64"):
    """The built-in potential called ``name`` (see the module table).

    ``dtype`` ("float64" | "float32") applies to the mMACE models: float64 for MD and
    minimisation, float32 is ≈ 2× faster and adequate for Monte Carlo energy differences.
    """
    from .readers import read_tb2j

    if name == "fe-tb2j-abacus":
        with resources.as_file(_data_path(_TB2J_FE)) as path:
            return read_tb2j(path, max_distance=6.0)
    if is_mmace(name):
        import torch

        from .mmace import MMACEPotential
        from .mmace import load_model as load_mmace
        if dtype not in ("float64", "float32"):
            raise InputError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        with resources.as_file(_data_path(_MMACE_FILES[name])) as path:
            return MMACEPotential(load_mmace(path, dtype=getattr(torch, dtype)))
    raise _unknown(name)


def model_metadata(name):
    """The metadata dict of a built-in mMACE model (training data, errors, reference)."""
    if not is_mmace(name):
        raise _unknown(name) if name not in BUILTIN_MODELS else InputError(
            f"{name!r} is not an mMACE model and carries no metadata")
    from .mmace import read_metadata
    with resources.as_file(_data_path(_MMACE_FILES[name])) as path:
        return read_metadata(path)


def reference_structure(name):
    """(lattice, element, a in Å, |m| in μB) the model ``name`` was made for (mMACE models:
    its own relaxed FM ground state, stored in the metadata)."""
    from .readers import read_tb2j_bonds

    if name == "fe-tb2j-abacus":
        with resources.as_file(_data_path(_TB2J_FE)) as path:
            bonds = read_tb2j_bonds(path)
        return "bcc", "Fe", float(np.linalg.norm(bonds.cell[0])), float(bonds.moments[0])
    if is_mmace(name):
        ref = model_metadata(name)["reference"]
        return ref["lattice"], ref["element"], float(ref["a"]), float(ref["moment"])
    raise _unknown(name)
