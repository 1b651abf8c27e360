"""Built-in models, loaded by name.

========================  ==============================================================
name                      model
========================  ==============================================================
``fe-tb2j-abacus``        bcc Fe classical Heisenberg model: DFT exchange of ABACUS + TB2J
                          (magnetic force theorem, no SOC), shells up to 6 Å (J1 = 18.7 meV,
                          J2 = 9.9 meV in TB2J's convention), reference |m| = 2.2949 μB.
                          Converted with J_ours = 2 J_TB2J / |m|² (docs/conventions.md).
========================  ==============================================================

Structures that go with a model are returned by :func:`reference_structure`.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from spinlattice.errors import InputError

_TB2J_FE = "Abacus_Fe_no_SOC.exchange.out"

BUILTIN_MODELS = ("fe-tb2j-abacus",)


def _data_path(name):
    return resources.files("spinlattice.potentials") / "data" / name


def load_model(name):
    """The built-in potential called ``name`` (see the module table)."""
    from .readers import read_tb2j

    if name == "fe-tb2j-abacus":
        with resources.as_file(_data_path(_TB2J_FE)) as path:
            return read_tb2j(path, max_distance=6.0)
    raise InputError(f"unknown built-in model {name!r}; available: {', '.join(BUILTIN_MODELS)}")


def reference_structure(name):
    """(lattice, element, a in Å, |m| in μB) the model ``name`` was made for."""
    from .readers import read_tb2j_bonds

    if name == "fe-tb2j-abacus":
        with resources.as_file(_data_path(_TB2J_FE)) as path:
            bonds = read_tb2j_bonds(path)
        return "bcc", "Fe", float(np.linalg.norm(bonds.cell[0])), float(bonds.moments[0])
    raise InputError(f"unknown built-in model {name!r}; available: {', '.join(BUILTIN_MODELS)}")
