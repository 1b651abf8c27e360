"""The spin-lattice state: positions, cell and atomic magnetic moments as plain arrays."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .errors import InputError

ASE_FS = 0.09822694788464063  # ase.units.fs: one femtosecond in ASE's time unit


def _as_array(name, value, shape, dtype=np.float64):
    """Convert ``value`` to a C-contiguous array of ``shape`` (``None`` = any size) or raise."""
    try:
        arr = np.ascontiguousarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} could not be converted to an array of {dtype.__name__}: {exc}")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise InputError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(f"{name} contains NaN or inf (first at index {tuple(int(b) for b in bad)})")
    return arr


def normalise_moments(moments, n_atoms):
    """Return moments as an (N, 3) float array; collinear (N,) input lies along z.

    Raises :class:`InputError` for other shapes or non-finite values.
    """
    if moments is None:
        raise InputError("moments are missing: a spin-lattice state needs one moment per atom (μB)")
    arr = np.asarray(moments, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == n_atoms:
        arr = np.stack([np.zeros(n_atoms), np.zeros(n_atoms), arr], axis=1)
    return _as_array("moments", arr, (n_atoms, 3))


@dataclass
class SpinLatticeState:
    """Positions, species, cell and magnetic moments of one structure.

    Attributes
    ----------
    positions : (N, 3) float, Å (Cartesian)
    numbers : (N,) int, atomic numbers
    cell : (3, 3) float, Å; rows are the lattice vectors
    pbc : (3,) bool, periodicity along each lattice vector
    moments : (N, 3) float, μB; collinear (N,) input becomes (N, 3) along z
    momenta : (N, 3) float, amu Å/fs, optional
    masses : (N,) float, amu, optional (ASE's defaults when converted from ``ase.Atoms``)

    The arrays are validated at construction (shapes, finiteness, positive cell volume along the
    periodic directions). States are plain data: functions take a state and return new arrays or
    a new state; :meth:`replace` makes a modified copy.
    """

    positions: np.ndarray
    numbers: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    moments: np.ndarray
    momenta: np.ndarray | None = None
    masses: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.positions = _as_array("positions", self.positions, (None, 3))
        n = self.positions.shape[0]
        self.numbers = _as_array("numbers", self.numbers, (n,), np.int64)
        if np.any(self.numbers < 1) or np.any(self.numbers > 118):
            raise InputError(f"numbers must be atomic numbers 1..118, got {np.unique(self.numbers)}")
        self.cell = _as_array("cell", self.cell, (3, 3))
        self.pbc = np.broadcast_to(np.asarray(self.pbc, dtype=bool), (3,)).copy()
        self.moments = normalise_moments(self.moments, n)
        if self.momenta is not None:
            self.momenta = _as_array("momenta", self.momenta, (n, 3))
        if self.masses is not None:
            self.masses = _as_array("masses", self.masses, (n,))
            if np.any(self.masses <= 0):
                raise InputError("masses must be positive")
        if self.pbc.any() and abs(np.linalg.det(self.cell)) < 1e-12:
            raise InputError("cell is singular but pbc is set: a periodic cell needs a volume")

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[0]

    @property
    def volume(self) -> float:
        """Cell volume, Å³."""
        return float(abs(np.linalg.det(self.cell)))

    def replace(self, **changes) -> "SpinLatticeState":
        """Return a copy with the given fields replaced (arrays are copied)."""
        fields = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}
        fields["info"] = dict(self.info)
        fields.update(changes)
        return replace(self, **fields)

    def copy(self) -> "SpinLatticeState":
        return self.replace()

    # --- ASE conversion -------------------------------------------------------------------
    @classmethod
    def from_atoms(cls, atoms, moments=None) -> "SpinLatticeState":
        """Build a state from ``ase.Atoms``.

        Momenta are converted from ASE's units (amu·Å per ASE time unit) to amu·Å/fs.

        Moments come from ``moments`` if given, else from ``atoms.get_initial_magnetic_moments()``
        (``initial_magmoms``); collinear (N,) moments become (N, 3) along z. Raises
        :class:`InputError` when no moments are available.
        """
        if moments is None:
            if not atoms.has("initial_magmoms"):
                raise InputError(
                    "atoms carry no magnetic moments: set atoms.set_initial_magnetic_moments(...) "
                    "((N,) collinear or (N, 3) vectors, μB) or pass moments="
                )
            moments = atoms.get_initial_magnetic_moments()
        # ASE's momenta are amu·Å per ASE time unit (≈ 10.18 fs): convert to amu·Å/fs
        momenta = atoms.get_momenta() * ASE_FS if atoms.has("momenta") else None
        return cls(
            positions=atoms.get_positions(),
            numbers=atoms.get_atomic_numbers(),
            cell=np.asarray(atoms.get_cell()),
            pbc=atoms.get_pbc(),
            moments=moments,
            momenta=momenta,
            masses=atoms.get_masses(),
        )

    def to_atoms(self):
        """Return an ``ase.Atoms`` with the moments as (N, 3) ``initial_magmoms``."""
        from ase import Atoms

        atoms = Atoms(
            numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc,
            magmoms=self.moments.copy(),
        )
        if self.masses is not None:
            atoms.set_masses(self.masses)
        if self.momenta is not None:
            atoms.set_momenta(self.momenta / ASE_FS)
        return atoms
