"""An analytic magnetic iron model for the Bain path — a STAND-IN until the default mMACE Fe model
exists. It is not fitted to DFT; its parameters were chosen by hand (below) so that bcc Fe is a
ferromagnet with a moment near 2.2 μB and the Bain path has the usual shape. Use it to exercise
the NEB and scan drivers, not for predictions.

    E = E_FS(R) − Σ_{i<j} J(r_ij) m_i·m_j + Σ_i (A |m_i|² + B |m_i|⁴)

* E_FS: the Finnis–Sinclair EAM of α-Fe (Finnis & Sinclair, Phil. Mag. A 50, 45 (1984);
  :meth:`~.pair.FinnisSinclair.iron`): a₀ = 2.8665 Å non-magnetic; it already contains the
  magnetic energy of bcc Fe implicitly, so adding explicit magnetism double counts some of it
  (one reason the numbers below are not DFT numbers).
* J(r) = 4α (r/δ)² [1 − γ (r/δ)²] exp(−(r/δ)²) · S(r) (:class:`~.couplings.BetheSlater`, the
  form of Tranchida et al., J. Comput. Phys. 372, 406 (2018)) with α = 0.03 eV/μB², γ = 0.60,
  δ = 2.0 Å, cutoff 3.5 Å with a 0.5 Å C² switch: ferromagnetic (J > 0) below
  δ/√γ = 2.58 Å and antiferromagnetic beyond, so the magnetic order responds to the neighbour
  distances, which change with volume and c/a along the Bain path. The sign change was placed
  between the first-shell distances of FM bcc (2.43 Å) and of fcc at its relaxed AFM volume
  (2.63 Å) so that the model has the DFT ordering of magnetic states (FM bcc ground state; AFM
  fcc below FM fcc). It does not have DFT's volume trends: in DFT the AFM fcc state has the
  *smaller* volume; here it has the larger one, because only pair distances drive the order.
* Landau A = −0.2 eV/μB², B = 0.02 eV/μB⁴ (:class:`~.onsite.Landau`): a local moment
  √(−A/2B) = 2.24 μB on its own, changed a little by the exchange field.

Measured with this model (``spinlattice neb``, docs/neb.md; meV/atom from FM bcc):
FM bcc |m| = 2.24 μB at V = 11.03 Å³/atom (FS alone: 11.78); FM fcc +29.3 (V = 11.83);
AFM fcc +15.3 (V = 12.86, |m| = 2.25 μB); AFM bcc +131; NM bcc +477.
"""

from __future__ import annotations

from spinlattice.potential import SumPotential

from .couplings import BetheSlater
from .exchange import Heisenberg
from .onsite import Landau
from .pair import FinnisSinclair

#: The stand-in's parameters (units in the module doc).
PARAMETERS = {"bethe_slater": {"alpha": 0.03, "gamma": 0.60, "delta": 2.0, "cutoff": 3.5,
                               "taper": 0.5},
              "landau": {"A": -0.2, "B": 0.02}, "lattice": "FinnisSinclair.iron()"}


def bain_standin_fe(alpha=0.03, gamma=0.60, delta=2.0, cutoff=3.5, taper=0.5, landau_a=-0.2,
                    landau_b=0.02):
    """The stand-in magnetic Fe potential (FS + Bethe–Slater Heisenberg + Landau)."""
    return SumPotential(
        FinnisSinclair.iron(),
        Heisenberg(BetheSlater({("Fe", "Fe"): (alpha, gamma, delta)}, cutoff=cutoff, taper=taper)),
        Landau({"Fe": (landau_a, landau_b, 0.0)}))


__all__ = ["bain_standin_fe", "PARAMETERS"]
