"""Lattice molecular dynamics with the moments held fixed (adiabatic in the spins: the moments
are parameters of E(R, cell, m), the lattice moves in the potential energy surface they define).

Units: time fs, positions Å, momenta amu·Å/fs, masses amu, forces eV/Å, energies eV, temperature
K, pressure eV/Å³ (multiply by ``1/units.GPA`` for GPa). One conversion ties them together:
1 amu·Å²/fs² = ``AMU_A2_FS2`` = 103.6427 eV, so

    kick   p ← p + (dt/2) F / AMU_A2_FS2          (eV/Å · fs → amu·Å/fs)
    drift  r ← r + dt p / m                        (Å)
    K      = AMU_A2_FS2 Σ_i |p_i|² / (2 m_i)        (eV)
    T_kin  = 2 K / (N_f k_B),  N_f = 3N − 3 with zero total momentum (the default), else 3N

Integrators (each step costs one force evaluation)
--------------------------------------------------
* **NVE**: velocity Verlet, B(dt/2) A(dt) B(dt/2) — symplectic and time-reversible, so the
  energy error stays bounded and its fluctuation scales as dt² (Hairer, Lubich & Wanner,
  *Geometric Numerical Integration*, ch. IX).
* **Langevin**: BAOAB splitting, B(dt/2) A(dt/2) O(dt) A(dt/2) B(dt/2) with the exact
  Ornstein–Uhlenbeck step O: p ← c p + sqrt((1 − c²) m k_B T) ξ, c = exp(−γ dt). Chosen over
  BBK/ABOBA because its configurational averages have the smallest discretisation error of the
  common splittings (superconvergent in the high-friction limit) and it samples the
  positions of a harmonic oscillator exactly at any stable dt (Leimkuhler & Matthews, Appl.
  Math. Res. Express 2013, 34; J. Chem. Phys. 138, 174102 (2013)); one force
  call per step like velocity Verlet. With ``zero_momentum`` the noise is projected onto the
  subspace Σ p = 0 (p_i −= m_i/M Σ_j η_j, the orthogonal projection in the mass-weighted metric),
  so the centre of mass does not diffuse and N_f = 3N − 3 is right.
* **Bussi** stochastic velocity rescaling (CSVR; Bussi, Donadio & Parrinello, J. Chem. Phys.
  126, 014101 (2007)): O(dt/2) B A B O(dt/2) where O rescales all momenta by α so that K follows
  the exact stochastic process dK = (K̄ − K) dt/τ + 2 sqrt(K K̄/N_f) dW/sqrt(τ), K̄ = N_f k_B T/2:

      K' = c K + (1 − c) K̄ (R₁² + S)/N_f + 2 R₁ sqrt(c (1 − c) K K̄/N_f),   c = exp(−Δt/τ),

  R₁ ~ N(0, 1), S ~ χ²(N_f − 1), α = sqrt(K'/K) (eq. (A7) of the paper). Rescaling keeps Σ p = 0
  and samples the canonical ensemble; it is smooth (deterministic in the τ → ∞ limit: NVE).

Conserved quantity: each thermostat step changes K by ΔK; ``heat`` accumulates Σ ΔK (energy
given to the system by the bath). The effective energy H̃ = E_pot + K − heat is conserved up to
the integration error of the Hamiltonian part (Bussi et al. 2007, eq. (6); Bussi & Parrinello,
Phys. Rev. E 75, 056707 (2007) for Langevin), so its drift measures the quality of dt exactly as
the total energy does in NVE.

Pressure (periodic cells, when the potential gives stress): P = −tr σ/3 + 2K_total/(3V), with
σ the potential's stress (ASE sign, (1/V) ∂E/∂ε) and the ideal-gas term from the momenta.

Barostat (optional): isotropic **stochastic cell rescaling** (Bernetti & Bussi, J. Chem. Phys.
153, 114107 (2020)), the first-order stochastic barostat that samples NPT volume fluctuations
correctly (Berendsen's does not). In λ = sqrt(V) the volume does overdamped Langevin dynamics,

    dλ = (D/k_BT) f dt + sqrt(2D) dW,   f = −2λ (P₀ − P_int − k_BT/(2V)),   D = k_BT β_T/(4 τ_p),

equivalent to dε = −(β_T/τ_p)(P₀ − P_int − k_BT/V) dt + sqrt(2 k_BT β_T/(V τ_p)) dW for ε = ln V.
One application over Δt (every ``every`` steps, before the step) draws dλ with f at the old
volume, scales positions and cell by s = (1 + dλ/λ)^{2/3} and momenta by 1/s, and recomputes
forces and stress (one extra evaluation). P_int includes the kinetic term. Its contribution to
the effective energy follows the reversible ("R") scheme of the authors' SimpleMD code: the bath
receives 0.5 dλ (f₀ + f₁) − (D Δt/4k_BT)(f₀² − f₁²) + ½ k_BT ln(V₀/V₁), and H̃ gains P₀V.

Positions are not wrapped into the cell (the neighbour list handles any position), so they stay
continuous for diffusion analysis.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from spinlattice.errors import InputError
from spinlattice.units import AMU_A2_FS2, K_B


# --- thermostat parameters -----------------------------------------------------------------
@dataclass(frozen=True)
class Langevin:
    """Langevin thermostat (BAOAB): temperature K, friction γ in 1/fs (1/γ = relaxation time)."""

    temperature: float
    friction: float

    def __post_init__(self):
        _check_temperature(self.temperature)
        if not (np.isfinite(self.friction) and self.friction > 0):
            raise InputError(f"Langevin friction must be positive and finite (1/fs), "
                             f"got {self.friction!r}")


@dataclass(frozen=True)
class Bussi:
    """Bussi–Donadio–Parrinello stochastic velocity rescaling: temperature K, time constant τ fs."""

    temperature: float
    tau: float

    def __post_init__(self):
        _check_temperature(self.temperature)
        if not (np.isfinite(self.tau) and self.tau > 0):
            raise InputError(f"Bussi tau must be positive and finite (fs), got {self.tau!r}")


THERMOSTATS = (Langevin, Bussi)


@dataclass(frozen=True)
class StochasticCellRescaling:
    """Isotropic stochastic cell rescaling barostat (Bernetti & Bussi 2020).

    pressure : P₀, eV/Å³ (``units.GPA`` converts); temperature : K (that of the thermostat);
    tau : τ_p, fs; compressibility : β_T, Å³/eV (sets only the relaxation rate; ≈ 1/B of the
    material: Fe ≈ 0.9 Å³/eV); every : apply once per this many steps (Δt = every × dt).
    Needs a periodic cell and a potential with stress.
    """

    pressure: float
    temperature: float
    tau: float
    compressibility: float = 1.0
    every: int = 1

    def __post_init__(self):
        _check_temperature(self.temperature)
        if not np.isfinite(self.pressure):
            raise InputError(f"barostat pressure must be finite (eV/Å³), got {self.pressure!r}")
        for name in ("tau", "compressibility"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise InputError(f"barostat {name} must be positive and finite, got {value!r}")
        if int(self.every) != self.every or self.every < 1:
            raise InputError(f"barostat every must be a positive integer, got {self.every!r}")


def _check_temperature(t):
    if not (isinstance(t, (int, float, np.floating, np.integer)) and np.isfinite(t) and t >= 0):
        raise InputError(f"temperature must be a finite number >= 0 (K), got {t!r}")


def _check_dt(dt):
    if not (isinstance(dt, (int, float, np.floating, np.integer)) and np.isfinite(dt) and dt > 0):
        raise InputError(f"time step dt must be a positive finite number of fs, got {dt!r}")
    return float(dt)


# --- integrator state ----------------------------------------------------------------------
@dataclass
class MDState:
    """Everything one MD step needs: plain data.

    state : :class:`~spinlattice.state.SpinLatticeState` holding positions (Å), momenta
        (amu·Å/fs), masses (amu) and the frozen moments (μB)
    forces : (N, 3) eV/Å at ``state.positions``; energy : potential energy there, eV
    stress : (3, 3) eV/Å³ (ASE sign) or None when not computed
    step : steps taken; time : fs
    heat : eV, energy the thermostat (and barostat) baths have put in so far
    zero_momentum : the total momentum is held at zero (N_f = 3N − 3)
    pv : P₀V, eV, under a barostat (0 otherwise), part of the conserved quantity
    """

    state: object
    forces: np.ndarray
    energy: float
    stress: np.ndarray | None = None
    step: int = 0
    time: float = 0.0
    heat: float = 0.0
    zero_momentum: bool = True
    pv: float = 0.0

    @property
    def momenta(self):
        return self.state.momenta

    @property
    def masses(self):
        return self.state.masses

    @property
    def ndof(self) -> int:
        return degrees_of_freedom(self.state.n_atoms, self.zero_momentum)

    @property
    def kinetic_energy(self) -> float:
        return kinetic_energy(self.state.momenta, self.state.masses)

    @property
    def temperature(self) -> float:
        return kinetic_temperature(self.kinetic_energy, self.ndof)

    @property
    def conserved(self) -> float:
        """E_pot + K + P₀V − heat, eV (the total energy in NVE)."""
        return self.energy + self.kinetic_energy + self.pv - self.heat

    @property
    def pressure(self) -> float:
        """P = −tr σ/3 + 2K/(3V), eV/Å³ (NaN without stress or for a non-periodic cell)."""
        if self.stress is None or not np.all(self.state.pbc):
            return float("nan")
        return float(-np.trace(self.stress) / 3.0
                     + 2.0 * self.kinetic_energy / (3.0 * self.state.volume))


def degrees_of_freedom(n_atoms, zero_momentum=True) -> int:
    """3N − 3 when the total momentum is held at zero (and N > 1), else 3N."""
    return 3 * n_atoms - 3 if (zero_momentum and n_atoms > 1) else 3 * n_atoms


def kinetic_energy(momenta, masses) -> float:
    """K = Σ |p_i|²/(2 m_i) converted to eV (momenta amu·Å/fs, masses amu)."""
    return float(AMU_A2_FS2 * 0.5 * np.sum(momenta * momenta / masses[:, None]))


def kinetic_temperature(kinetic, ndof) -> float:
    """T = 2K/(N_f k_B), K."""
    return 2.0 * kinetic / (ndof * K_B) if ndof > 0 else float("nan")


def masses_of(state):
    """``state.masses`` or, when missing, ASE's standard atomic masses for ``state.numbers``."""
    if state.masses is not None:
        return np.asarray(state.masses, dtype=float)
    from ase.data import atomic_masses

    return np.asarray(atomic_masses[state.numbers], dtype=float)


def remove_total_momentum(momenta, masses):
    """p_i − m_i/M Σ_j p_j: the same (N, 3) momenta with zero total momentum."""
    return momenta - masses[:, None] / masses.sum() * momenta.sum(axis=0)


def maxwell_boltzmann_momenta(masses, temperature, rng, zero_momentum=True, exact=False):
    """Momenta (N, 3), amu·Å/fs, drawn from exp(−Σ p²/(2 m k_B T)).

    p_iα = sqrt(m_i k_B T / AMU_A2_FS2) ξ_iα with ξ ~ N(0, 1) from ``rng`` (a
    ``numpy.random.Generator``). ``zero_momentum`` removes the total momentum afterwards (the
    remaining 3N − 3 degrees of freedom keep the Maxwell–Boltzmann distribution); ``exact``
    rescales so the kinetic temperature is exactly ``temperature``.
    """
    masses = np.asarray(masses, dtype=float)
    _check_temperature(temperature)
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    scale = np.sqrt(masses * K_B * temperature / AMU_A2_FS2)
    p = scale[:, None] * rng.standard_normal((len(masses), 3))
    if zero_momentum and len(masses) > 1:
        p = remove_total_momentum(p, masses)
    if exact and temperature > 0:
        t = kinetic_temperature(kinetic_energy(p, masses),
                                degrees_of_freedom(len(masses), zero_momentum))
        p *= np.sqrt(temperature / t)
    return p


# --- forces --------------------------------------------------------------------------------
def _evaluate(potential, state, with_stress, step):
    props = ("energy", "forces", "stress") if with_stress else ("energy", "forces")
    out = potential.compute(state, props)
    energy, forces = float(out["energy"]), np.asarray(out["forces"], dtype=float)
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        raise FloatingPointError(
            f"MD step {step}: the potential returned a non-finite energy or forces "
            f"(energy {energy}); the run has probably blown up — use a smaller dt or check "
            f"the starting structure for overlapping atoms")
    stress = np.asarray(out["stress"], dtype=float) if with_stress else None
    return forces, energy, stress


def start_md(potential, state, temperature=None, rng=None, zero_momentum=True, stress=False,
             exact=False):
    """An :class:`MDState` at ``state`` with forces and energy from one evaluation.

    Masses: ``state.masses``, or ASE's standard masses when missing. Momenta: ``state.momenta``
    if set (the total momentum is removed when ``zero_momentum``); otherwise Maxwell–Boltzmann at
    ``temperature`` (K) from ``rng`` (required then), or zero when ``temperature`` is None.
    ``stress=True`` also computes the stress every step (for the pressure; costs a little).
    """
    masses = masses_of(state)
    if state.momenta is not None:
        momenta = np.array(state.momenta, dtype=float)
        if zero_momentum and state.n_atoms > 1:
            momenta = remove_total_momentum(momenta, masses)
    elif temperature is not None:
        if rng is None:
            raise InputError("Maxwell–Boltzmann momenta need rng=numpy.random.Generator")
        momenta = maxwell_boltzmann_momenta(masses, temperature, rng, zero_momentum, exact)
    else:
        momenta = np.zeros((state.n_atoms, 3))
    if stress and not np.all(state.pbc):
        raise InputError("stress (pressure) needs a cell periodic in all three directions")
    state = state.replace(momenta=momenta, masses=masses)
    forces, energy, sigma = _evaluate(potential, state, stress, 0)
    return MDState(state=state, forces=forces, energy=energy, stress=sigma,
                   zero_momentum=bool(zero_momentum))


def refresh(potential, md):
    """The same MDState with forces, energy and stress recomputed (e.g. after the moments were
    changed by Monte Carlo or a minimiser)."""
    forces, energy, sigma = _evaluate(potential, md.state, md.stress is not None, md.step)
    return replace(md, forces=forces, energy=energy, stress=sigma)


# --- the splitting pieces ------------------------------------------------------------------
def _kick(p, forces, h):
    """B: p + h F (h in fs)."""
    return p + (h / AMU_A2_FS2) * forces


def _drift(positions, p, masses, h):
    """A: r + h p/m."""
    return positions + h * p / masses[:, None]


def _ou(p, masses, temperature, friction, h, rng, zero_momentum):
    """O: exact Ornstein–Uhlenbeck step over h fs; returns (p', ΔK eV)."""
    c = np.exp(-friction * h)
    sigma = np.sqrt((1.0 - c * c) * masses * K_B * temperature / AMU_A2_FS2)
    noise = sigma[:, None] * rng.standard_normal(p.shape)
    if zero_momentum and len(masses) > 1:
        noise = remove_total_momentum(noise, masses)
    new = c * p + noise
    return new, kinetic_energy(new, masses) - kinetic_energy(p, masses)


def bussi_factor(kinetic, target, ndof, c, rng):
    """α such that α² K follows the CSVR process over one interval with c = exp(−Δt/τ).

    kinetic K and target K̄ = N_f k_B T/2 in eV. Returns (α, K'). K = 0 cannot be rescaled
    (α = 1, K' = 0): start from non-zero momenta.
    """
    if kinetic <= 0.0:
        return 1.0, kinetic
    r1 = rng.standard_normal()
    s = 2.0 * rng.standard_gamma(0.5 * (ndof - 1)) if ndof > 1 else 0.0  # χ²(N_f − 1)
    new = (c * kinetic + (1.0 - c) * target * (r1 * r1 + s) / ndof
           + 2.0 * r1 * np.sqrt(c * (1.0 - c) * kinetic * target / ndof))
    return float(np.sqrt(new / kinetic)), float(new)


def _rescale(md_p, masses, thermostat, h, ndof, rng):
    kin = kinetic_energy(md_p, masses)
    target = 0.5 * ndof * K_B * thermostat.temperature
    alpha, new = bussi_factor(kin, target, ndof, np.exp(-h / thermostat.tau), rng)
    return alpha * md_p, new - kin


# --- steps ---------------------------------------------------------------------------------
def _moved(state, positions, momenta):
    """Shallow copy of ``state`` with new position/momentum arrays (no re-validation: the
    arrays come from finite forces; the other arrays are shared and never written in place)."""
    new = copy.copy(state)
    new.positions, new.momenta = positions, momenta
    return new


def _finish(potential, md, positions, p):
    state = _moved(md.state, positions, p)
    forces, energy, sigma = _evaluate(potential, state, md.stress is not None, md.step + 1)
    return state, forces, energy, sigma


def velocity_verlet_step(potential, md, dt):
    """One NVE step (B A B), moments fixed. Returns a new :class:`MDState`."""
    dt = _check_dt(dt)
    m = md.state.masses
    p = _kick(md.state.momenta, md.forces, 0.5 * dt)
    positions = _drift(md.state.positions, p, m, dt)
    state, forces, energy, sigma = _finish(potential, md, positions, p)
    state.momenta = _kick(state.momenta, forces, 0.5 * dt)
    return replace(md, state=state, forces=forces, energy=energy, stress=sigma,
                   step=md.step + 1, time=md.time + dt)


def langevin_step(potential, md, dt, thermostat, rng):
    """One BAOAB Langevin step (Leimkuhler & Matthews 2013). Returns a new :class:`MDState`."""
    dt = _check_dt(dt)
    m = md.state.masses
    p = _kick(md.state.momenta, md.forces, 0.5 * dt)
    positions = _drift(md.state.positions, p, m, 0.5 * dt)
    p, dk = _ou(p, m, thermostat.temperature, thermostat.friction, dt, rng, md.zero_momentum)
    positions = _drift(positions, p, m, 0.5 * dt)
    state, forces, energy, sigma = _finish(potential, md, positions, p)
    state.momenta = _kick(state.momenta, forces, 0.5 * dt)
    return replace(md, state=state, forces=forces, energy=energy, stress=sigma,
                   step=md.step + 1, time=md.time + dt, heat=md.heat + dk)


def bussi_step(potential, md, dt, thermostat, rng):
    """One CSVR step, O(dt/2) B A B O(dt/2) (Bussi et al. 2007). Returns a new MDState."""
    dt = _check_dt(dt)
    m, ndof = md.state.masses, md.ndof
    p, dk1 = _rescale(md.state.momenta, m, thermostat, 0.5 * dt, ndof, rng)
    p = _kick(p, md.forces, 0.5 * dt)
    positions = _drift(md.state.positions, p, m, dt)
    state, forces, energy, sigma = _finish(potential, md, positions, p)
    p = _kick(state.momenta, forces, 0.5 * dt)
    state.momenta, dk2 = _rescale(p, m, thermostat, 0.5 * dt, ndof, rng)
    return replace(md, state=state, forces=forces, energy=energy, stress=sigma,
                   step=md.step + 1, time=md.time + dt, heat=md.heat + dk1 + dk2)


def _internal_pressure(stress, kinetic, volume):
    return -np.trace(stress) / 3.0 + 2.0 * kinetic / (3.0 * volume)


def barostat_step(potential, md, barostat, interval, rng):
    """One stochastic-cell-rescaling update over ``interval`` fs (module doc). Returns a new
    MDState with scaled positions, cell and momenta, fresh forces and stress, and the bath's
    share in ``heat``."""
    s = md.state
    if not np.all(s.pbc) or md.stress is None:
        raise InputError("the barostat needs a periodic cell and stress: "
                         "start_md(..., stress=True)")
    kt = K_B * barostat.temperature
    p0, volume = barostat.pressure, s.volume
    lam = np.sqrt(volume)
    diff = 0.25 * kt * barostat.compressibility / barostat.tau
    kin = md.kinetic_energy
    f0 = -2.0 * lam * (p0 - _internal_pressure(md.stress, kin, volume) - 0.5 * kt / volume)
    dlam = diff / kt * f0 * interval + np.sqrt(2.0 * diff * interval) * rng.standard_normal()
    if not lam + dlam > 0.5 * lam:
        raise FloatingPointError(f"MD step {md.step}: the barostat would shrink the cell volume "
                                 f"by more than 4×; use a larger tau or check the pressure")
    scale = (1.0 + dlam / lam) ** (2.0 / 3.0)
    state = s.replace(positions=s.positions * scale, cell=s.cell * scale,
                      momenta=s.momenta / scale)
    forces, energy, sigma = _evaluate(potential, state, True, md.step)
    v1 = state.volume
    lam1 = np.sqrt(v1)
    kin1 = kinetic_energy(state.momenta, state.masses)
    f1 = -2.0 * lam1 * (p0 - _internal_pressure(sigma, kin1, v1) - 0.5 * kt / v1)
    work = (0.5 * dlam * (f0 + f1) - 0.25 * diff / kt * interval * (f0 * f0 - f1 * f1)
            + 0.5 * kt * np.log(volume / v1))
    return replace(md, state=state, forces=forces, energy=energy, stress=sigma,
                   heat=md.heat - work, pv=p0 * v1)


def md_step(potential, md, dt, thermostat=None, rng=None, barostat=None):
    """One step of NVE (``thermostat=None``), :class:`Langevin` or :class:`Bussi` dynamics,
    preceded every ``barostat.every`` steps by a :class:`StochasticCellRescaling` update."""
    if barostat is not None:
        if not isinstance(barostat, StochasticCellRescaling):
            raise InputError(f"unknown barostat {barostat!r}: use StochasticCellRescaling(...)")
        if not isinstance(rng, np.random.Generator):
            raise InputError(f"a barostat needs rng=numpy.random.Generator, got {rng!r}")
        if md.step % barostat.every == 0:
            md = barostat_step(potential, md, barostat, barostat.every * _check_dt(dt), rng)
    if thermostat is None:
        return velocity_verlet_step(potential, md, dt)
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"a thermostat needs rng=numpy.random.Generator, got {rng!r}")
    if isinstance(thermostat, Langevin):
        return langevin_step(potential, md, dt, thermostat, rng)
    if isinstance(thermostat, Bussi):
        return bussi_step(potential, md, dt, thermostat, rng)
    raise InputError(f"unknown thermostat {thermostat!r}: use Langevin(...), Bussi(...) or None")


# --- runs ----------------------------------------------------------------------------------
OBSERVABLES = ("step", "time", "potential_energy", "kinetic_energy", "temperature", "conserved",
               "pressure", "volume")


@dataclass
class MDRecords:
    """Per-recorded-step observables (arrays of equal length).

    step; time fs; potential_energy, kinetic_energy, conserved eV; temperature K;
    pressure eV/Å³ (NaN without stress); volume Å³.
    """

    step: np.ndarray
    time: np.ndarray
    potential_energy: np.ndarray
    kinetic_energy: np.ndarray
    temperature: np.ndarray
    conserved: np.ndarray
    pressure: np.ndarray
    volume: np.ndarray

    @classmethod
    def empty(cls):
        return cls(**{k: np.zeros(0) for k in OBSERVABLES})

    def as_dict(self):
        return {k: getattr(self, k) for k in OBSERVABLES}

    def extend(self, other):
        return MDRecords(**{k: np.concatenate([getattr(self, k), getattr(other, k)])
                            for k in OBSERVABLES})


def observe(md) -> dict:
    """The :data:`OBSERVABLES` of one MD state."""
    kin = md.kinetic_energy
    return {"step": md.step, "time": md.time, "potential_energy": md.energy,
            "kinetic_energy": kin, "temperature": kinetic_temperature(kin, md.ndof),
            "conserved": md.energy + kin + md.pv - md.heat, "pressure": md.pressure,
            "volume": md.state.volume}


def run_md(potential, start, dt, n_steps, thermostat=None, rng=None, record_every=1,
           on_step=None, temperature=None, stress=False, barostat=None):
    """Run ``n_steps`` MD steps; returns (final :class:`MDState`, :class:`MDRecords`).

    start : an :class:`MDState` (continued) or a ``SpinLatticeState`` (started with
        :func:`start_md`; momenta from ``state.momenta`` or Maxwell–Boltzmann at ``temperature``,
        defaulting to the thermostat's temperature)
    dt : fs; thermostat : None (NVE), :class:`Langevin` or :class:`Bussi`
    rng : ``numpy.random.Generator`` (needed for thermostats and random initial momenta)
    record_every : record observables at the start and every this many steps
    on_step : optional ``on_step(md)`` after every step (must not modify it)
    stress : compute the stress every step (pressure recorded); implied by ``barostat``
    barostat : optional :class:`StochasticCellRescaling` (NPT with a thermostat)
    """
    dt = _check_dt(dt)
    if int(n_steps) != n_steps or n_steps < 0:
        raise InputError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    if int(record_every) != record_every or record_every < 1:
        raise InputError(f"record_every must be a positive integer, got {record_every!r}")
    if thermostat is not None and not isinstance(thermostat, THERMOSTATS):
        raise InputError(f"unknown thermostat {thermostat!r}: use Langevin, Bussi or None")
    if isinstance(start, MDState):
        md = start
    else:
        if temperature is None and thermostat is not None and start.momenta is None:
            temperature = thermostat.temperature
        md = start_md(potential, start, temperature, rng, stress=stress or barostat is not None)
    if barostat is not None:
        if md.stress is None:
            md = refresh(potential, replace(md, stress=np.zeros((3, 3))))
        if md.pv == 0.0:
            md = replace(md, pv=barostat.pressure * md.state.volume)
    rows = [observe(md)]
    for k in range(int(n_steps)):
        md = md_step(potential, md, dt, thermostat, rng, barostat)
        if on_step is not None:
            on_step(md)
        if (k + 1) % record_every == 0:
            rows.append(observe(md))
    records = MDRecords(**{name: np.array([r[name] for r in rows]) for name in OBSERVABLES})
    return md, records


__all__ = ["Langevin", "Bussi", "StochasticCellRescaling", "barostat_step", "MDState", "MDRecords",
           "start_md", "refresh", "md_step",
           "velocity_verlet_step", "langevin_step", "bussi_step", "run_md", "observe",
           "maxwell_boltzmann_momenta", "masses_of", "kinetic_energy", "kinetic_temperature",
           "degrees_of_freedom", "remove_total_momentum", "bussi_factor", "OBSERVABLES"]
