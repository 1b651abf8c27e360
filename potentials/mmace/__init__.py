"""Magnetic MACE (mMACE) potential: torch + e3nn (Ho et al., arXiv 2604.08143).

    from spinlattice.potentials.mmace import MagneticMACE, MMACEPotential
    model = MagneticMACE(species=[26, 13], channels=64, spin_orbit=False)
    pot = MMACEPotential(model)
    pot.compute(state, ("energy", "forces", "stress", "magnetic_forces"))
"""

from .checkpoint import load_model, read_metadata, save_model
from .model import MagneticMACE
from .potential import MMACEPotential
from .species import add_species

__all__ = ["MagneticMACE", "MMACEPotential", "save_model", "load_model", "read_metadata",
           "add_species"]
