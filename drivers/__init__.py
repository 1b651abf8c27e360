from .minimise import MinimiseResult, minimise_moments  # noqa: E402  (issue 5)
from .relax import JointOptimizable, RelaxResult, relax  # noqa: E402  (issue 5)
from .groundstate import (  # noqa: E402  (issue 5)
    GroundStateResult, collinear_search, moment_report, random_start, search_ground_state,
)
from .groundstate import mc_annealer  # noqa: E402  (issue 5)
from .md import (  # noqa: E402  (issue 6: lattice MD)
    Bussi, Langevin, MDRecords, MDState, maxwell_boltzmann_momenta, md_step, run_md, start_md,
)
from .hybrid import HybridRecords, HybridState, run_hybrid, start_hybrid  # noqa: E402  (issue 6)
from .neb import NEBResult, interpolate, neb, neb_forces  # noqa: E402  (issue 7: solid-state NEB)
from .magpath import detect_switches, magnetic_descriptors  # noqa: E402  (issue 7)
from .bain import ScanResult, bain_endpoints, bain_neb, ca_scan, compare_with_scan  # noqa: E402  (issue 7)
