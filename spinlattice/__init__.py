"""spinlattice: spin-lattice simulation engine for magnetic materials.

Core (this package): state, units, property names, the Potential protocol, neighbour lists,
sphere maths, symmetry transforms, extxyz io, physics checks. The wings are
``spinlattice.potentials`` (energy models), ``spinlattice.drivers`` (minimisers, Monte Carlo, MD,
NEB) and ``spinlattice.analysis`` (observables, fits). See DESIGN notes in docs/.
"""

__version__ = "0.1.0"

from .errors import FileFormatError, InputError, MomentRangeError, OverlappingAtomsError
from .neighbors import NeighborList, neighbor_list, state_neighbor_list
from .potential import CommitteePotential, LocalMomentPotential, Potential, SumPotential
from .state import SpinLatticeState

__all__ = [
    "SpinLatticeState", "Potential", "LocalMomentPotential", "SumPotential", "CommitteePotential",
    "NeighborList", "neighbor_list", "state_neighbor_list", "InputError", "OverlappingAtomsError",
    "MomentRangeError", "FileFormatError", "__version__",
]
