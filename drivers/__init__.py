"""Drivers: they talk to the ``Potential`` protocol only (never to a concrete model).

- moment minimisation and ground-state search: :func:`minimise_moments`, :func:`relax`
  (positions, cell and moments together), :func:`search_ground_state`, :func:`collinear_search`
- Metropolis Monte Carlo on moments: :func:`run_chain`, :class:`MoveSet`, :func:`sweep`,
  temperature sweeps :func:`temperature_sweep`; numba kernels in :mod:`.kernels`
- lattice MD (:func:`run_md`, thermostats :class:`Langevin`, :class:`Bussi`) and hybrid MD/MC
  (:func:`run_hybrid`)
- solid-state NEB (:func:`neb`) and the Bain path (:func:`bain_neb`, :func:`ca_scan`)
"""

from .bain import ScanResult, bain_endpoints, bain_neb, ca_scan, compare_with_scan
from .groundstate import (
    GroundStateResult, collinear_search, mc_annealer, moment_report, random_start,
    search_ground_state,
)
from .hybrid import HybridRecords, HybridState, run_hybrid, start_hybrid
from .magpath import detect_switches, magnetic_descriptors, resolve_switch
from .md import (
    Bussi, Langevin, MDRecords, MDState, maxwell_boltzmann_momenta, md_step, run_md, start_md,
)
from .minimise import MinimiseResult, minimise_moments
from .montecarlo import ChainState, MoveSet, Samples, colour_sites, run_chain, start_chain, sweep
from .neb import NEBResult, interpolate, neb, neb_forces
from .relax import JointOptimizable, RelaxResult, relax
from .sweeps import TemperatureRun, temperature_sweep
