"""Zeeman energy of the moments in a uniform external magnetic field.

    E = −μ_B Σ_i m_i·B,      m_i in μB, B in tesla, μ_B = 5.7883818060e-5 eV/T

so h_i = −∂E/∂m_i = μ_B B (eV/μB) on every atom, no lattice forces and no stress. A field of 1 T
on a 2.2 μB moment is 0.127 meV. The field is a fixed lab-frame vector and odd under time
reversal: the term breaks time reversal, joint rotations and spin rotations
(``broken_symmetries``); it has no spin–orbit coupling of its own (``spin_orbit = False``).
"""

from __future__ import annotations

import numpy as np

from spinlattice.spinmodel import LocalSpinModel
from spinlattice.units import MU_B

from . import kernels
from .onsite import SiteTerm
from .pairs import number_row


class Zeeman(SiteTerm):
    """E = −μ_B Σ_i m_i·B for a uniform field ``field`` (3,) in tesla on every atom."""

    kernel_kind = kernels.ZEEMAN
    broken_symmetries = frozenset({"time_reversal", "joint_rotation", "spin_rotation"})

    def __init__(self, field):
        self.field = number_row(field, 3, "Zeeman field (tesla)")
        self._rows = {"*": MU_B * self.field}
        self._what = "Zeeman"

    def __repr__(self):
        return f"Zeeman(field={self.field.tolist()})"

    def local_spin_model(self, state):
        """The term as a :class:`~spinlattice.spinmodel.LocalSpinModel` (b = μ_B B per site)."""
        model = LocalSpinModel.empty(state.n_atoms)
        model.field = self.site_parameters(state.numbers)
        return model

    def _site_arrays(self, p, m):
        return -np.einsum("ik,ik->i", m, p), -p


__all__ = ["Zeeman"]
