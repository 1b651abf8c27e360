"""Thermodynamic observables of Monte Carlo samples, with error bars.

For N sites at temperature T, from per-sample total energy E and magnetisation vector M = Σ_i m_i
(or the staggered one), with the per-site order parameter m = |M|/N (μB):

    ⟨m⟩,   χ = N (⟨m²⟩ − ⟨m⟩²) / (k_B T)          (μB²/eV per site)
    C_v / k_B = (⟨E²⟩ − ⟨E⟩²) / (N (k_B T)²)      (per site)
    U4 = 1 − ⟨m⁴⟩ / (3 ⟨m²⟩²)                     (Binder cumulant: 2/3 ordered, 4/9 disordered
                                                   for 3-component vectors)

Error bars of the means use the integrated autocorrelation time; those of the nonlinear
observables (χ, C_v, U4) a blocked jackknife (blocks longer than the correlation time).
K. Binder, Z. Phys. B 43, 119 (1981); Landau & Binder, *A Guide to Monte Carlo Simulations*.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from spinlattice.units import K_B

from .statistics import autocorrelation_time, mean_and_error


def blocked_jackknife(series, estimator, n_blocks=20):
    """(estimate, error) of ``estimator(*series)`` from a jackknife over contiguous blocks.

    series : tuple of (S,) arrays sampled together; estimator : function of those arrays.
    Blocks of S // n_blocks samples must be longer than the autocorrelation time.
    """
    series = [np.asarray(s, dtype=float) for s in series]
    size = series[0].shape[0] // n_blocks
    if size < 1:
        raise ValueError(f"need at least {n_blocks} samples for a jackknife, got {series[0].shape[0]}")
    cut = [s[: size * n_blocks] for s in series]
    full = estimator(*cut)
    leave_out = []
    for b in range(n_blocks):
        keep = np.ones(size * n_blocks, dtype=bool)
        keep[b * size:(b + 1) * size] = False
        leave_out.append(estimator(*[s[keep] for s in cut]))
    leave_out = np.array(leave_out)
    error = np.sqrt((n_blocks - 1) / n_blocks * np.sum((leave_out - leave_out.mean()) ** 2))
    return float(full), float(error)


@dataclass
class Observables:
    """Observables at one temperature (per site; errors are one standard error)."""

    temperature: float
    n_sites: int
    n_samples: int
    energy: float
    energy_err: float
    magnetisation: float
    magnetisation_err: float
    susceptibility: float
    susceptibility_err: float
    heat_capacity: float
    heat_capacity_err: float
    binder: float
    binder_err: float
    tau_magnetisation: float
    tau_energy: float

    def as_dict(self):
        return asdict(self)


def observables(energy, magnetisation, temperature, n_sites, n_blocks=20):
    """:class:`Observables` from samples: energy (S,) eV, magnetisation (S, 3) μB (total)."""
    energy = np.asarray(energy, dtype=float)
    m = np.linalg.norm(np.asarray(magnetisation, dtype=float), axis=1) / n_sites
    kt = K_B * temperature
    e_mean, e_err = mean_and_error(energy / n_sites)
    m_mean, m_err = mean_and_error(m)
    chi = blocked_jackknife((m,), lambda x: n_sites * np.var(x) / kt, n_blocks)
    cv = blocked_jackknife((energy,), lambda e: np.var(e) / (n_sites * kt * kt), n_blocks)
    u4 = blocked_jackknife((m,), lambda x: 1 - np.mean(x**4) / (3 * np.mean(x**2) ** 2),
                           n_blocks)
    return Observables(
        temperature=float(temperature), n_sites=int(n_sites), n_samples=int(energy.shape[0]),
        energy=e_mean, energy_err=e_err, magnetisation=m_mean, magnetisation_err=m_err,
        susceptibility=chi[0], susceptibility_err=chi[1], heat_capacity=cv[0],
        heat_capacity_err=cv[1], binder=u4[0], binder_err=u4[1],
        tau_magnetisation=autocorrelation_time(m), tau_energy=autocorrelation_time(energy),
    )
