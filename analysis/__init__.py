"""Analysis: observables and error bars, Curie-temperature estimates, exchange constants and
anisotropy from any potential, plots. Imports only the core ``spinlattice``."""

from .curie import (
    binder_crossing, compare_estimates, fit_power_law, fit_power_law_with_window_error,
    peak_temperature,
)
from .observables import Observables, blocked_jackknife, observables
from .statistics import autocorrelation_time, blocking_error, mean_and_error
from .exchange import ExchangeResult, Shell, exchange_constants, mean_field_tc, rpa_tc
from .anisotropy import (
    AnisotropyFit, AnisotropyScan, anisotropy_scan, fit_cubic, fit_uniaxial, great_circle,
    sphere_directions,
)
