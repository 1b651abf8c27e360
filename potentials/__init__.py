"""Spin-lattice potentials: analytic terms (numpy + numba) and mMACE (torch, imported on demand).

Analytic terms (each a ``Potential`` with ``local_energy_changes``; compose with
``spinlattice.potential.SumPotential``):

- lattice terms: :class:`Morse`, :class:`FinnisSinclair` (EAM)
- exchange: :class:`Heisenberg`, :class:`Biquadratic`, :class:`BulkDMI`, :class:`InterfacialDMI`
  with couplings :class:`ShellTable`, :class:`BetheSlater`, :class:`CubicDecay`
- on-site: :class:`Landau`, :class:`UniaxialAnisotropy`, :class:`CubicAnisotropy`
- field: :class:`Zeeman`
- pair anisotropy: :class:`NeelPairAnisotropy` (used by the synthetic Mn3Pt model)
- readers: :func:`read_tb2j`, :func:`read_uppasd`
- built-in models: :func:`load_model` (``fe-tb2j-abacus``), :func:`mn3pt_potential`, :func:`mn3pt_state` (synthetic Mn3Pt)

Conventions (exchange counted once per pair, units) are in docs/conventions.md.
"""

from .couplings import BetheSlater, CubicDecay, ShellTable
from .exchange import Biquadratic, BulkDMI, Heisenberg, InterfacialDMI
from .field import Zeeman
from .onsite import CubicAnisotropy, Landau, UniaxialAnisotropy
from .pair import FinnisSinclair, Morse
from .models import load_model
from .mn3pt import NeelPairAnisotropy, mn3pt_potential, mn3pt_state
from .readers import read_tb2j, read_uppasd

__all__ = [
    "Morse", "FinnisSinclair", "Heisenberg", "Biquadratic", "BulkDMI", "ShellTable", "BetheSlater", "CubicDecay",
    "InterfacialDMI", "Landau", "UniaxialAnisotropy", "CubicAnisotropy", "Zeeman", "read_tb2j",
    "read_uppasd", "NeelPairAnisotropy", "mn3pt_potential", "mn3pt_state", "load_model",
]
