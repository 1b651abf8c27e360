from .minimise import MinimiseResult, minimise_moments  # noqa: E402  (issue 5)
from .relax import JointOptimizable, RelaxResult, relax  # noqa: E402  (issue 5)
from .groundstate import (  # noqa: E402  (issue 5)
    GroundStateResult, collinear_search, moment_report, random_start, search_ground_state,
)
