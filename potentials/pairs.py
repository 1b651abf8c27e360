"""Machinery shared by every pair term of the analytic potentials (written once, used by all).

A pair term has a bond energy e(D, m_i, m_j) for every pair within its cutoff, where
D = r_j − r_i + S·cell is the image vector of the neighbour list (Å). The neighbour list is *full*
(every unordered pair appears twice, as i→j and j→i; a periodic self-image i→i appears for S
and −S), and every bond energy used here is symmetric, e(D, a, b) = e(−D, b, a), so

    E = ½ Σ_p e_p                                  (p over directed pairs)
    E_i = ½ Σ_{p: i_p = i} e_p                     (pair energies split half/half)
    F_k = −∂E/∂r_k = ½ Σ_{p: i_p = k} g_p − ½ Σ_{p: j_p = k} g_p,      g_p = ∂e_p/∂D_p  (eV/Å)
    σ = (1/V) ½ Σ_p sym(D_p ⊗ g_p)                 (ASE sign, eV/Å³; moments held fixed)
    h_k = −∂E/∂m_k = −½ Σ_{p: i_p = k} ∂e_p/∂m_i − ½ Σ_{p: j_p = k} ∂e_p/∂m_j   (eV/μB)

:func:`assemble_pair_properties` turns the per-pair arrays into those properties and
:class:`PairTerm` is the base class of every pair term (geometry cache, species check, compute).
The species helpers map element symbols or atomic numbers to parameter rows of a species-pair
table; :func:`finite_number`, :func:`number_row` and :func:`pair_parameter_rows` validate
constructor arguments for all terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from spinlattice.errors import InputError
from spinlattice.neighbors import state_neighbor_list
from spinlattice.properties import (
    ENERGIES, ENERGY, FORCES, MAGNETIC_FORCES, STRESS, check_properties,
)

#: Key of a species-pair table that applies to every pair of species.
ANY_PAIR = "*"


def species_number(species) -> int:
    """Atomic number of ``species`` (symbol such as "Fe", or an int 1..118); InputError else."""
    if isinstance(species, (int, np.integer)) and not isinstance(species, bool):
        if 1 <= int(species) <= 118:
            return int(species)
    elif isinstance(species, str) and species in atomic_numbers and species != "X":
        return atomic_numbers[species]
    raise InputError(f"unknown species {species!r}: give an element symbol or atomic number")


def species_symbol(number) -> str:
    return chemical_symbols[int(number)]


def pair_key(a, b) -> tuple:
    """Unordered species pair as sorted atomic numbers, e.g. ("Fe", "Al") → (13, 26)."""
    za, zb = species_number(a), species_number(b)
    return (za, zb) if za <= zb else (zb, za)


class SpeciesPairTable:
    """Maps unordered species pairs to rows 0..K−1 of a parameter array.

    keys : sequence of species pairs (("Fe", "Fe"), (26, 13), ...) or the single key
        :data:`ANY_PAIR` (one row for every pair of species). Duplicate pairs are an error.
    """

    def __init__(self, keys):
        keys = list(keys)
        self._table = np.full((119, 119), -1, dtype=np.int64)
        if len(keys) == 1 and isinstance(keys[0], str) and keys[0] == ANY_PAIR:
            self._table[:] = 0
            self.species = None
            self.pairs = (ANY_PAIR,)
            return
        pairs, species = [], set()
        for row, key in enumerate(keys):
            if isinstance(key, str) or len(key) != 2:
                raise InputError(f"species pair keys must be 2-tuples such as ('Fe', 'Fe'), got {key!r}")
            za, zb = pair_key(*key)
            if self._table[za, zb] >= 0:
                raise InputError(f"species pair {species_symbol(za)}-{species_symbol(zb)} given twice")
            self._table[za, zb] = self._table[zb, za] = row
            pairs.append((za, zb))
            species.update((za, zb))
        self.species = frozenset(species)  #: atomic numbers the table knows (None: any)
        self.pairs = tuple(pairs)

    def rows(self, zi, zj):
        """Row of each pair (P,), −1 where the pair has no entry."""
        return self._table[zi, zj]

    def check_species(self, numbers, what):
        """InputError if the state holds a species the table does not know."""
        if self.species is None:
            return
        unknown = sorted(set(np.unique(numbers).tolist()) - self.species)
        if unknown:
            raise InputError(
                f"{what} has no parameters for species {[species_symbol(z) for z in unknown]}; "
                f"it knows {sorted(species_symbol(z) for z in self.species)}"
            )

    def describe(self):
        return [ANY_PAIR if p == ANY_PAIR else f"{species_symbol(p[0])}-{species_symbol(p[1])}"
                for p in self.pairs]


def finite_number(name, value, positive=False, nonnegative=False):
    """``value`` as a float; InputError naming ``name`` if not finite (or not > 0 / ≥ 0)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite, got {value}")
    if positive and not value > 0:
        raise InputError(f"{name} must be positive, got {value}")
    if nonnegative and value < 0:
        raise InputError(f"{name} must be non-negative, got {value}")
    return value


def pair_parameter_rows(parameters, names, what):
    """(SpeciesPairTable, (K, len(names)) float array) from {pair or "*": tuple of numbers}."""
    if not isinstance(parameters, dict) or not parameters:
        raise InputError(f"{what} needs a non-empty dict {{species pair or '*': {names}}}")
    keys, rows = [], []
    for key, values in parameters.items():
        values = tuple(np.atleast_1d(values)) if not isinstance(values, (tuple, list)) else values
        if len(values) != len(names):
            raise InputError(f"{what}: parameters of {key!r} must be {names}, got {values!r}")
        rows.append([finite_number(f"{what} {n} of {key!r}", v) for n, v in zip(names, values)])
        keys.append(key)
    if ANY_PAIR in keys and len(keys) > 1:
        raise InputError(f"{what}: '*' (every pair) cannot be combined with explicit pairs")
    return SpeciesPairTable(keys), np.array(rows, dtype=np.float64)


def number_row(values, n, what):
    """``values`` as a float array of length n; InputError naming ``what`` otherwise."""
    try:
        row = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be {n} numbers, got {values!r}") from None
    if row.shape[0] != n or not np.all(np.isfinite(row)):
        raise InputError(f"{what} must be {n} finite numbers, got {values!r}")
    return row


def proposal_arrays(state, sites, new_moments):
    """Validated (sites (K,) int64, new_moments (K, 3) float64) of single-site proposals.

    InputError for sites outside 0..N−1 (the numba kernels do not check bounds), a count of new
    moments different from the count of sites, or non-finite moments.
    """
    sites = np.ascontiguousarray(np.asarray(sites).reshape(-1), dtype=np.int64)
    try:
        new_moments = np.ascontiguousarray(new_moments, dtype=np.float64).reshape(-1, 3)
    except ValueError:
        raise InputError(f"new moments must have shape (K, 3), got {np.shape(new_moments)}") from None
    if sites.shape[0] != new_moments.shape[0]:
        raise InputError(f"{sites.shape[0]} sites but {new_moments.shape[0]} new moments")
    if sites.size and (sites.min() < 0 or sites.max() >= state.n_atoms):
        raise InputError(f"proposal sites must be in 0..{state.n_atoms - 1}, got "
                         f"{sites.min()}..{sites.max()}")
    if not np.all(np.isfinite(new_moments)):
        raise InputError("new moments contain NaN or inf")
    return sites, new_moments


def smooth_cutoff(r, r_on, r_off):
    """C² switching function S(r) and dS/dr: 1 for r ≤ r_on, 0 for r ≥ r_off,
    S = 1 − 10x³ + 15x⁴ − 6x⁵ with x = (r − r_on)/(r_off − r_on) in between (first and second
    derivatives vanish at both ends). r_on, r_off may be arrays broadcasting with r; where
    r_on == r_off the switch is a hard step (S' = 0)."""
    r = np.asarray(r, dtype=np.float64)
    r_on, r_off = np.asarray(r_on, dtype=np.float64), np.asarray(r_off, dtype=np.float64)
    width = r_off - r_on
    hard = width <= 0
    safe = np.where(hard, 1.0, width)
    x = np.clip((r - r_on) / safe, 0.0, 1.0)
    s = np.where(hard, (r < r_off).astype(np.float64), 1.0 - x**3 * (10.0 - 15.0 * x + 6.0 * x**2))
    ds = np.where(hard, 0.0, -30.0 * x**2 * (1.0 - x) ** 2 / safe)
    return s, ds


@dataclass
class PairGeometry:
    """Pairs of a state within a cutoff (from the neighbour list) with their species.

    i, j : (P,) int64; vectors : (P, 3) D_ij, Å; distances : (P,) Å; zi, zj : (P,) atomic
    numbers; first : (N + 1,) int64, rows of atom k are first[k]:first[k+1] (rows grouped by i).
    """

    i: np.ndarray
    j: np.ndarray
    vectors: np.ndarray
    distances: np.ndarray
    zi: np.ndarray
    zj: np.ndarray
    first: np.ndarray
    n_atoms: int
    volume: float


class _SharedNeighborList:
    """The last neighbour list built for any pair term, reused by terms with a cutoff no larger
    (a sum of pair terms at the same positions then builds one list per evaluation, not one per
    term). One entry; a larger cutoff or different positions replace it."""

    key = None
    cutoff = 0.0
    nl = None

    @classmethod
    def pairs(cls, state, key, cutoff):
        same = cls.key is not None and all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in zip(key, cls.key))
        if not (same and cutoff <= cls.cutoff):
            cls.nl = state_neighbor_list(state, cutoff)
            cls.key = tuple(np.array(a, copy=True) for a in key)
            cls.cutoff = cutoff
        nl = cls.nl
        if cutoff == cls.cutoff:
            return nl.i, nl.j, nl.vectors, nl.distances
        keep = nl.distances < cutoff
        return nl.i[keep], nl.j[keep], nl.vectors[keep], nl.distances[keep]


class GeometryCache:
    """Recomputes the pair geometry only when positions, cell, pbc or species change, so repeated
    calls at fixed positions (Monte Carlo on moments) reuse the neighbour list."""

    def __init__(self):
        self._key = None
        self._geometry = None
        self.derived = {}  #: per-geometry arrays a term may keep (coupling values, ...)

    def get(self, state, cutoff) -> PairGeometry:
        key = (state.positions, state.cell, state.pbc, state.numbers)
        if self._key is not None and cutoff == self._key[4] and all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in zip(key, self._key[:4])
        ):
            return self._geometry
        i, j, vectors, distances = _SharedNeighborList.pairs(state, key, cutoff)
        first = np.searchsorted(i, np.arange(state.n_atoms + 1)).astype(np.int64)
        self._geometry = PairGeometry(
            i=i, j=j, vectors=vectors, distances=distances,
            zi=state.numbers[i], zj=state.numbers[j], first=first,
            n_atoms=state.n_atoms, volume=state.volume if state.pbc.all() else float("nan"),
        )
        self._key = tuple(np.array(a, copy=True) for a in key) + (cutoff,)
        self.derived = {}
        return self._geometry


def _scatter(index, values, n):
    """Σ of rows of ``values`` (P,) or (P, 3) into bins ``index`` (P,) → (n,) or (n, 3)."""
    if values.ndim == 1:
        return np.bincount(index, weights=values, minlength=n)
    return np.stack([np.bincount(index, weights=values[:, c], minlength=n) for c in range(3)], axis=1)


def assemble_pair_properties(geometry, properties, pair_energy, grad_vector=None,
                             grad_moment_i=None, grad_moment_j=None):
    """Properties of E = ½ Σ_p e_p from per-directed-pair arrays (equations in the module doc).

    pair_energy : (P,) e_p, eV
    grad_vector : (P, 3) ∂e_p/∂D_p, eV/Å (None: no position dependence)
    grad_moment_i, grad_moment_j : (P, 3) ∂e_p/∂m_i and ∂e_p/∂m_j, eV/μB (None: no moments)
    Returns a dict with the requested names of :mod:`spinlattice.properties`.
    """
    g = geometry
    n = g.n_atoms
    out = {}
    if ENERGY in properties:
        out[ENERGY] = 0.5 * float(np.sum(pair_energy))
    if ENERGIES in properties:
        out[ENERGIES] = 0.5 * _scatter(g.i, pair_energy, n)
    if FORCES in properties:
        if grad_vector is None:
            out[FORCES] = np.zeros((n, 3))
        else:
            out[FORCES] = 0.5 * (_scatter(g.i, grad_vector, n) - _scatter(g.j, grad_vector, n))
    if STRESS in properties:
        if not np.isfinite(g.volume):
            raise InputError("stress needs a cell periodic in all three directions")
        if grad_vector is None:
            out[STRESS] = np.zeros((3, 3))
        else:
            virial = 0.5 * np.einsum("pa,pb->ab", g.vectors, grad_vector)
            out[STRESS] = 0.5 * (virial + virial.T) / g.volume
    if MAGNETIC_FORCES in properties:
        if grad_moment_i is None:
            out[MAGNETIC_FORCES] = np.zeros((n, 3))
        else:
            out[MAGNETIC_FORCES] = -0.5 * (_scatter(g.i, grad_moment_i, n)
                                           + _scatter(g.j, grad_moment_j, n))
    return out


class PairTerm:
    """Base of the pair terms: geometry caching, species check, property assembly.

    A subclass sets ``cutoff`` and ``table`` (its :class:`SpeciesPairTable`) and implements
    ``_pair_arrays(geometry, moments, gradients) -> dict`` with keys ``pair_energy`` and, when
    ``gradients`` is true, ``grad_vector``, ``grad_moment_i``, ``grad_moment_j`` (see
    :func:`assemble_pair_properties`). ``receptive_field`` equals the cutoff.
    """

    spin_orbit = False
    broken_symmetries = frozenset()

    def __init__(self):
        self._cache = GeometryCache()

    @property
    def receptive_field(self):
        return self.cutoff

    @property
    def coupling_range(self):
        """Moments of two sites share an energy term only within the cutoff (Å)."""
        return self.cutoff

    def geometry(self, state) -> PairGeometry:
        """Pair geometry of ``state`` within the cutoff (cached while positions are unchanged)."""
        self.table.check_species(state.numbers, repr(self))
        return self._cache.get(state, self.cutoff)

    def derived(self, geometry, name, make):
        """Per-geometry cached array ``make(geometry)`` (e.g. coupling values of every pair)."""
        store = self._cache.derived
        if name not in store:
            store[name] = make(geometry)
        return store[name]

    def compute(self, state, properties=(ENERGY,)) -> dict:
        properties = check_properties(properties)
        geometry = self.geometry(state)
        gradients = any(p in properties for p in (FORCES, STRESS, MAGNETIC_FORCES))
        arrays = self._pair_arrays(geometry, state.moments, gradients)
        return assemble_pair_properties(geometry, properties, **arrays)
