"""Metropolis Monte Carlo on atomic moments at fixed positions.

Target distribution: P(m_1..m_N) ∝ exp(−E(R, m)/k_B T) with respect to the volume measure
Π_i d³m_i = Π_i m_i² dm_i dΩ_i (longitudinal mode) or the sphere measure Π_i dΩ_i (fixed-length
mode, where only direction moves are used). Each proposal changes one site; the acceptance
probability is min(1, (q-ratio) exp(−β ΔE)) with the proposal-measure factor of
:mod:`.kernels` ((m'/m)² for magnitude moves, 1 for the symmetric direction moves).

Sites are grouped by colour: two sites closer than the potential's ``coupling_range`` never share
a colour, so all proposals of one colour are independent — their ΔE's are exact when evaluated
against the same state, and the potential computes them in **one batched call**
(``local_energy_changes``). numba kernels turn uniforms drawn from the caller's generator into
proposals, accept/reject, and update moments and running sums (energy, Σ m). One sweep proposes
one move per site. Potentials that reduce to a :class:`~spinlattice.spinmodel.LocalSpinModel`
(bilinear exchange + Landau + field) run whole sequential sweeps inside numba instead. (Landau & Binder, *A Guide to Monte Carlo Simulations in Statistical
Physics*, ch. 4–5.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from spinlattice.errors import InputError
from spinlattice.neighbors import state_neighbor_list
from spinlattice.potential import LocalMomentPotential, coupling_range, moment_limits
from spinlattice.spinmodel import local_spin_model
from spinlattice.units import K_B

from . import kernels


@dataclass
class MoveSet:
    """Mixture of single-site moves and their step sizes.

    weights : relative probability of each move, keys from ``uniform``, ``cone``, ``flip``,
        ``magnitude``; magnitude moves change |m| (longitudinal mode) and are not allowed with
        ``fixed_length``.
    cone_angle : half-angle of the cone move, rad (adapted during equilibration only).
    magnitude_step : half-width of the magnitude move, μB (adapted during equilibration only).
    target_acceptance : what the adaptation aims at for cone and magnitude moves.
    overrelaxation : over-relaxation sweeps (reflection about the local exchange field, energy
        conserving, always accepted) after each Metropolis sweep; only for potentials with a
        :class:`~spinlattice.spinmodel.LocalSpinModel` (Heisenberg + Landau + Zeeman), where
        they shorten autocorrelation times near T_C several-fold.
    """

    weights: dict = field(default_factory=lambda: {"cone": 1.0})
    cone_angle: float = 0.5
    magnitude_step: float = 0.2
    target_acceptance: float = 0.5
    fixed_length: bool = True
    overrelaxation: int = 0

    def __post_init__(self):
        unknown = set(self.weights) - set(kernels.MOVE_NAMES)
        if unknown:
            raise InputError(f"unknown MC move(s) {sorted(unknown)}; moves are "
                             f"{', '.join(kernels.MOVE_NAMES)}")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise InputError("MC move weights must be non-negative and not all zero")
        if self.fixed_length and self.weights.get("magnitude", 0) > 0:
            raise InputError("magnitude moves change |m|: use fixed_length=False")
        if not isinstance(self.overrelaxation, (int, np.integer)) or self.overrelaxation < 0:
            raise InputError("overrelaxation must be a non-negative number of sweeps")
        if not 0 < self.cone_angle <= np.pi or not self.magnitude_step > 0:
            raise InputError("cone_angle must be in (0, π] and magnitude_step positive")

    def probabilities(self):
        w = np.array([self.weights.get(name, 0.0) for name in kernels.MOVE_NAMES], dtype=float)
        return w / w.sum()

    def steps(self):
        return np.array([0.0, self.cone_angle, 0.0, self.magnitude_step])


@dataclass
class ChainState:
    """Everything a Metropolis chain needs to continue: plain data, checkpointable.

    moments : (N, 3) μB; energy : eV (running, from accepted ΔE's); magnetisation : (3,) Σ m, μB;
    counts : (4, 2) proposed/accepted per move type since the last reset; sweeps : done so far;
    moves : the current :class:`MoveSet` (its steps adapt during equilibration).
    """

    moments: np.ndarray
    energy: float
    magnetisation: np.ndarray
    counts: np.ndarray
    moves: MoveSet
    sweeps: int = 0

    def acceptance(self):
        """{move name: accepted fraction} for the moves proposed since the last reset."""
        return {name: self.counts[k, 1] / self.counts[k, 0]
                for k, name in enumerate(kernels.MOVE_NAMES) if self.counts[k, 0] > 0}


def colour_sites(potential, state, rng, active=None):
    """Colour classes of sites that may be updated together: (list of (K_c,) index arrays).

    Two sites closer than ``coupling_range(potential)`` (any periodic image) get different
    colours; the greedy colouring visits sites in a random order from ``rng``. With ``active``
    (site indices) only those sites are returned (frozen sites are never proposed).
    """
    reach = coupling_range(potential)
    n = state.n_atoms
    if reach > 0:
        nl = state_neighbor_list(state, reach)
        first = np.searchsorted(nl.i, np.arange(n + 1)).astype(np.int64)
        neighbours = nl.j
    else:
        first, neighbours = np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    colours = kernels.greedy_colouring(first, neighbours, rng.permutation(n).astype(np.int64))
    keep = np.ones(n, dtype=bool) if active is None else np.isin(np.arange(n), active)
    classes = [np.flatnonzero((colours == c) & keep) for c in range(colours.max() + 1)]
    return [c for c in classes if c.size]


def start_chain(potential, state, moves=None, active=None):
    """A :class:`ChainState` at ``state``'s moments, with its energy from one full evaluation.
    ``active`` (site indices, default all) are the sites the chain will move."""
    if not isinstance(potential, LocalMomentPotential):
        raise InputError(f"{potential!r} has no local_energy_changes: Monte Carlo needs it")
    moves = MoveSet() if moves is None else moves
    sizes = np.linalg.norm(state.moments, axis=1)
    if moves.fixed_length and np.any(sizes[slice(None) if active is None else active] == 0):
        raise InputError("fixed-length Monte Carlo needs non-zero moments on every moving site "
                         "(freeze non-magnetic sites with frozen=...)")
    energy = float(potential.compute(state, ("energy",))["energy"])
    return ChainState(moments=state.moments.copy(), energy=energy,
                      magnetisation=state.moments.sum(axis=0),
                      counts=np.zeros((len(kernels.MOVE_NAMES), 2), dtype=np.int64), moves=moves)


def _site_limits(potential, numbers):
    """Largest allowed |m| of every site (N,), inf where the potential sets none (then a shared
    array: never modify the result)."""
    table = moment_limits(potential)
    if not table:
        return _no_limits(len(numbers))
    limits = np.full(len(numbers), np.inf)
    for z, m_max in table.items():
        limits[numbers == z] = m_max
    return limits


# Per-size constant arrays of the numba sweep, made once and shared (never modify them): a
# fresh 64 kB array per sweep cost ~10–40 µs (allocation, page faults, cold cache) against
# ~0.4 ms for a whole 8192-site sweep. Writeable, so that the kernel keeps one numba
# specialisation (a read-only array would compile a second one).
@functools.lru_cache(maxsize=8)
def _all_sites(n):
    """0 … n−1, int64."""
    return np.arange(n, dtype=np.int64)


@functools.lru_cache(maxsize=8)
def _no_limits(n):
    """(n,) inf."""
    return np.full(n, np.inf)


def sweep(potential, state, chain, colours, temperature, rng, limits=None, spin_model=None,
          active=None):
    """One Metropolis sweep: every site proposed once, colour by colour (random colour order).

    ``state`` supplies positions/species (its moments are ignored: ``chain.moments`` is the
    current configuration, updated in place with ``chain.energy``, ``chain.magnetisation`` and
    ``chain.counts``). temperature in K (0: accept only downhill moves).
    With ``spin_model`` (the potential's :class:`~spinlattice.spinmodel.LocalSpinModel`) the
    sweep visits the ``active`` sites (default all) sequentially, in index order, entirely
    inside numba instead (a sequential scan: every single-site step leaves the Boltzmann
    distribution invariant, so their composition does).
    """
    beta = np.inf if temperature == 0 else 1.0 / (K_B * temperature)
    limits = _site_limits(potential, state.numbers) if limits is None else limits
    probabilities, steps = chain.moves.probabilities(), chain.moves.steps()
    if spin_model is not None:
        m = spin_model
        order = _all_sites(state.n_atoms) if active is None else \
            np.asarray(active, dtype=np.int64)
        seed = rng.integers(0, 2**64, size=4, dtype=np.uint64)
        seed[0] |= np.uint64(1)  # never the all-zero state
        chain.energy += kernels.spin_model_sweep(
            m.first, m.neighbours, m.exchange, m.landau, m.field, chain.moments, order,
            np.cumsum(probabilities), steps, limits, seed, beta, chain.magnetisation,
            chain.counts)
        for _ in range(chain.moves.overrelaxation):
            kernels.spin_model_overrelax(m.first, m.neighbours, m.exchange, m.field,
                                         chain.moments, order, chain.magnetisation)
        chain.sweeps += 1
        return
    if chain.moves.overrelaxation:
        raise InputError("over-relaxation needs a potential with a LocalSpinModel "
                         "(Heisenberg + Landau + Zeeman terms only)")
    current = state.replace(moments=chain.moments)
    for c in rng.permutation(len(colours)):
        sites = colours[c]
        k = sites.shape[0]
        draws = rng.random((k, 4))
        moves = kernels.choose_moves(probabilities, draws[:, 0])
        new = np.empty((k, 3))
        log_w = np.empty(k)
        kernels.propose(chain.moments, sites, moves, steps, limits[sites], draws[:, 1:3], new,
                        log_w)
        delta = np.asarray(potential.local_energy_changes(current, sites, new), dtype=float)
        accepted = np.empty(k, dtype=np.bool_)
        kernels.metropolis_accept(delta, log_w, beta, draws[:, 3], accepted)
        chain.energy += kernels.apply_accepted(chain.moments, sites, new, accepted, delta,
                                               moves, chain.magnetisation, chain.counts)
        current.moments = chain.moments  # same array, updated in place
    chain.sweeps += 1


def adapt_steps(chain, rate=0.5):
    """Nudge the cone angle and magnitude step towards the target acceptance using the counts
    since the last reset, then reset them. Equilibration only: adapting during production
    would break detailed balance. ln(step) += rate × (acceptance − target)."""
    target = chain.moves.target_acceptance
    for name, attr, upper in (("cone", "cone_angle", np.pi), ("magnitude", "magnitude_step", 5.0)):
        k = kernels.MOVE_NAMES.index(name)
        if chain.counts[k, 0] >= 10:
            acc = chain.counts[k, 1] / chain.counts[k, 0]
            value = getattr(chain.moves, attr) * np.exp(rate * (acc - target))
            setattr(chain.moves, attr, float(min(max(value, 1e-3), upper)))
    chain.counts[:] = 0


@dataclass
class Samples:
    """Per-sample observables of a chain (one row per recorded sweep).

    energy : (S,) eV; magnetisation : (S, 3) Σ_i m_i, μB; staggered : (S, 3) Σ_i s_i m_i with
    the sublattice signs s_i (zeros when none given).
    """

    energy: np.ndarray
    magnetisation: np.ndarray
    staggered: np.ndarray


def run_chain(potential, state, temperature, n_sweeps, rng, moves=None, n_equilibration=0,
              adapt_every=5, sample_every=1, sublattice_signs=None, checkpoint=None,
              checkpoint_every=50, on_sample=None, use_spin_model=True, frozen=None):
    """Equilibrate (adapting step sizes) and then sample a Metropolis chain at ``temperature``.

    Parameters
    ----------
    potential : a ``LocalMomentPotential``; state : positions, species, starting moments
    temperature : K; n_sweeps : production sweeps; rng : ``numpy.random.Generator``
    n_equilibration : sweeps first, with steps adapted every ``adapt_every`` sweeps, not sampled
    sample_every : record observables every this many production sweeps
    sublattice_signs : (N,) ±1 for the staggered magnetisation (optional)
    checkpoint : path of a ``.npz`` file; if it exists the run resumes from it (same result as
        an uninterrupted run, the generator state included), and it is rewritten every
        ``checkpoint_every`` sweeps and at the end.
    on_sample : optional callable ``on_sample(chain)`` called at every recorded sweep (e.g. to
        keep per-site moments); it must not modify the chain.
    use_spin_model : run whole sweeps in numba when the potential has a
        :class:`~spinlattice.spinmodel.LocalSpinModel` (Heisenberg + Landau + Zeeman); else, or
        when False, colour classes with batched ``local_energy_changes``.
    frozen : (N,) bool, sites whose moments never move (e.g. non-magnetic atoms).

    Returns (chain, samples): the final :class:`ChainState` and the :class:`Samples`.
    """
    from . import checkpoint as ckpt

    signs = np.zeros(state.n_atoms) if sublattice_signs is None else \
        np.asarray(sublattice_signs, dtype=float)
    if signs.shape != (state.n_atoms,):
        raise InputError(f"sublattice_signs must have shape ({state.n_atoms},), got {signs.shape}")
    active = None
    if frozen is not None:
        frozen = np.asarray(frozen, dtype=bool)
        if frozen.shape != (state.n_atoms,):
            raise InputError(f"frozen must have shape ({state.n_atoms},), got {frozen.shape}")
        active = np.flatnonzero(~frozen)
        if active.size == 0:
            raise InputError("every site is frozen: nothing for Monte Carlo to move")
    resumed = ckpt.load_chain(checkpoint, rng) if checkpoint is not None else None
    if resumed is not None:
        chain, records = resumed
        if chain.moments.shape != state.moments.shape:
            raise InputError(f"checkpoint {checkpoint} holds {chain.moments.shape[0]} moments, "
                             f"the state has {state.n_atoms} atoms")
    else:
        chain = start_chain(potential, state, moves, active)
        records = {"energy": [], "m": [], "s": []}
    spin_model = local_spin_model(potential, state) if use_spin_model else None
    colours = None if spin_model is not None else \
        colour_sites(potential, state, np.random.default_rng(0), active)  # deterministic
    limits = _site_limits(potential, state.numbers)
    total = n_equilibration + n_sweeps
    while chain.sweeps < total:
        sweep(potential, state, chain, colours, temperature, rng, limits, spin_model, active)
        if chain.sweeps <= n_equilibration:
            if chain.sweeps % adapt_every == 0 or chain.sweeps == n_equilibration:
                adapt_steps(chain)
        elif (chain.sweeps - n_equilibration) % sample_every == 0:
            records["energy"].append(chain.energy)
            records["m"].append(chain.magnetisation.copy())
            records["s"].append(signs @ chain.moments)
            if on_sample is not None:
                on_sample(chain)
        if checkpoint is not None and (chain.sweeps % checkpoint_every == 0
                                       or chain.sweeps == total):
            ckpt.save_chain(checkpoint, chain, records, rng)
    samples = Samples(energy=np.array(records["energy"]),
                      magnetisation=np.array(records["m"]).reshape(-1, 3),
                      staggered=np.array(records["s"]).reshape(-1, 3))
    return chain, samples
