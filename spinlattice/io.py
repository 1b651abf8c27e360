"""Extended-XYZ reading and writing of spin-lattice frames: moments, magnetic forces and labels.

One frame of a data set is a :class:`LabelledFrame`: a :class:`~spinlattice.state.SpinLatticeState`
(positions, numbers, cell, pbc, moments) plus optional reference labels (energy, forces, stress,
magnetic forces) and provenance. Where each label lives in the file is configurable; the defaults
are the keys of the project's data sets (``../shared/data/README.md``):

==========================  ===================  ========  ===========================
label                       default key          where     shape, unit
==========================  ===================  ========  ===========================
moments m                   ``REF_magmom``       per atom  (N, 3) or (N,) along z, μB
magnetic forces −∂E/∂m      ``REF_magforces``    per atom  (N, 3) or (N,) along z, eV/μB
energy                      ``REF_energy``       frame     scalar, eV
forces −∂E/∂R               ``REF_forces``       per atom  (N, 3), eV/Å
stress (ASE sign)           ``REF_stress``       frame     9 (3x3) or 6 (Voigt), eV/Å³
config type                 ``config_type``      frame     string
==========================  ===================  ========  ===========================

Reading goes through ``ase.io.read`` (gzip and other compressions by file suffix). ASE moves
some standard names (``energy``, ``forces``, ``stress``, ``magmoms``, ...) into a
``SinglePointCalculator``; keys are looked up in ``atoms.arrays``, ``atoms.info`` and
``atoms.calc.results`` alike, so any of them may be used as a key.

Writing is done here rather than by ``ase.io.write``, because ASE writes per-atom columns with
eight decimals; this writer uses the shortest exact representation of every float (``repr``), so
``read_extxyz(write_extxyz(frames))`` gives back the same numbers bit for bit. The files are
standard extxyz and ``ase.io.read`` reads them.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import FileFormatError, InputError
from .state import ASE_FS, SpinLatticeState, _as_array, normalise_moments


class _DefaultKey(str):
    """A key left at its default: a frame that lacks it simply has no such label."""


DEFAULT_MOMENT_KEY = _DefaultKey("REF_magmom")
DEFAULT_MAGNETIC_FORCES_KEY = _DefaultKey("REF_magforces")
DEFAULT_ENERGY_KEY = _DefaultKey("REF_energy")
DEFAULT_FORCES_KEY = _DefaultKey("REF_forces")
DEFAULT_STRESS_KEY = _DefaultKey("REF_stress")
CONFIG_TYPE_KEY = "config_type"

#: Names the extxyz format or ASE reserve; none of them may be used as a label key.
_RESERVED = {"species", "pos", "Z", "numbers", "positions", "symbols", "momenta", "masses",
             "Lattice", "Properties", "pbc", CONFIG_TYPE_KEY}
#: Keys ASE's reader turns into a 3x3 matrix (Fortran order) when they hold 9 numbers.
_SPECIAL_3x3 = {"virial", "stress"}
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- the frame -------------------------------------------------------------------------------
@dataclass
class LabelledFrame:
    """A state and its optional reference labels.

    Attributes
    ----------
    state : SpinLatticeState — positions (Å), numbers, cell, pbc, moments (N, 3) μB
    energy : float or None, eV
    forces : (N, 3) float or None, eV/Å
    stress : (3, 3) float or None, eV/Å³, ASE sign (σ = (1/V) ∂E/∂ε)
    magnetic_forces : (N, 3) float or None, eV/μB (h = −∂E/∂m)
    config_type : str or None
    info : dict — other per-frame entries of the file (written back as they are)
    arrays : dict name → (N, ...) — other per-atom columns of the file

    Shapes are validated at construction (:class:`InputError`).
    """

    state: SpinLatticeState
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    magnetic_forces: np.ndarray | None = None
    config_type: str | None = None
    info: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.state, SpinLatticeState):
            raise InputError(f"LabelledFrame.state must be a SpinLatticeState, got {type(self.state)}")
        n = self.state.n_atoms
        if self.energy is not None:
            self.energy = _as_scalar("energy", self.energy)
        if self.forces is not None:
            self.forces = _as_array("forces", self.forces, (n, 3))
        if self.stress is not None:
            self.stress = stress_to_3x3(self.stress)
        if self.magnetic_forces is not None:
            self.magnetic_forces = _vectors_along_z("magnetic_forces", self.magnetic_forces, n)
        if self.config_type is not None:
            self.config_type = str(self.config_type)
        for name, value in self.arrays.items():
            if np.shape(value)[:1] != (n,):
                raise InputError(f"per-atom array {name!r} must have {n} rows, got {np.shape(value)}")

    @property
    def n_atoms(self) -> int:
        return self.state.n_atoms


def _as_scalar(name, value) -> float:
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "iuf":
        raise InputError(f"{name} must be a single number, got {value!r}")
    value = float(arr)
    if not np.isfinite(value):
        raise InputError(f"{name} is NaN or inf")
    return value


def _vectors_along_z(name, value, n_atoms) -> np.ndarray:
    """(N, 3) array from (N, 3) or collinear (N,) input (placed along z)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == n_atoms:
        arr = np.stack([np.zeros(n_atoms), np.zeros(n_atoms), arr], axis=1)
    return _as_array(name, arr, (n_atoms, 3))


def stress_to_3x3(value, name="stress") -> np.ndarray:
    """Return a stress as a (3, 3) array (eV/Å³).

    Accepts (3, 3), 9 components (row-major) or 6 Voigt components (xx, yy, zz, yz, xz, xy).
    Raises :class:`InputError` naming the component count otherwise.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers, got {value!r}")
    if arr.shape == (6,):
        xx, yy, zz, yz, xz, xy = arr
        arr = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    elif arr.size == 9 and arr.ndim in (1, 2):
        arr = arr.reshape(3, 3)
    else:
        raise InputError(
            f"{name} must have 9 components (3x3) or 6 (Voigt xx yy zz yz xz xy), "
            f"got {arr.size} (shape {arr.shape})"
        )
    return _as_array(name, arr, (3, 3))


# --- reading ---------------------------------------------------------------------------------
def _keys_present(atoms) -> str:
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    return (f"per-atom arrays {sorted(atoms.arrays)}, info keys {sorted(atoms.info)}"
            + (f", calculator results {sorted(results)}" if results else ""))


def _lookup(atoms, key):
    """The value stored under ``key`` in arrays, info or calculator results, or None."""
    if key in atoms.arrays:
        return atoms.arrays[key]
    if key in atoms.info:
        return atoms.info[key]
    results = getattr(atoms.calc, "results", None) if atoms.calc is not None else None
    if results and key in results:
        return results[key]
    return None


def _label(atoms, key, what, where):
    """Look ``key`` up; None if the key is None, or is a default key absent from the frame."""
    if key is None:
        return None
    value = _lookup(atoms, key)
    if value is None and not isinstance(key, _DefaultKey):
        raise FileFormatError(
            f"{where}: key {key!r} ({what}) not found; the frame has {_keys_present(atoms)}"
        )
    return value


def _frame_from_atoms(atoms, where, moment_key, magnetic_forces_key, energy_key, forces_key,
                      stress_key) -> LabelledFrame:
    n = len(atoms)
    if moment_key is None:
        moments = np.zeros((n, 3))
    else:
        moments = _lookup(atoms, moment_key)
        if moments is None:
            raise FileFormatError(
                f"{where}: moments are missing: key {moment_key!r} not found; the frame has "
                f"{_keys_present(atoms)}. Pass moment_key=<name of the moment column>, or "
                f"moment_key=None to read every moment as zero"
            )
    try:
        moments = normalise_moments(moments, n)
        state = SpinLatticeState.from_atoms(atoms, moments=moments)
        labels = dict(
            energy=_label(atoms, energy_key, "energy", where),
            forces=_label(atoms, forces_key, "forces", where),
            stress=_label(atoms, stress_key, "stress", where),
            magnetic_forces=_label(atoms, magnetic_forces_key, "magnetic forces", where),
        )
        if labels["stress"] is not None:
            labels["stress"] = stress_to_3x3(labels["stress"], name=f"stress {stress_key!r}")
        if labels["energy"] is not None:
            labels["energy"] = _as_scalar(f"energy {energy_key!r}", labels["energy"])
        used = {moment_key, magnetic_forces_key, energy_key, forces_key, stress_key}
        info = {k: v for k, v in atoms.info.items() if k not in used and k != CONFIG_TYPE_KEY}
        arrays = {k: v.copy() for k, v in atoms.arrays.items()
                  if k not in used and k not in ("numbers", "positions", "momenta", "masses")}
        results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
        for k, v in results.items():  # standard names ASE moved into a calculator, not used above
            if k not in used:
                target = arrays if np.ndim(v) >= 1 and np.shape(v)[0] == n and k != "stress" else info
                target[k] = v
        return LabelledFrame(state=state, config_type=atoms.info.get(CONFIG_TYPE_KEY),
                             info=info, arrays=arrays, **labels)
    except FileFormatError:
        raise
    except InputError as exc:
        raise FileFormatError(f"{where}: {exc}") from exc


def read_extxyz(path, index=":", moment_key=DEFAULT_MOMENT_KEY,
                magnetic_forces_key=DEFAULT_MAGNETIC_FORCES_KEY, energy_key=DEFAULT_ENERGY_KEY,
                forces_key=DEFAULT_FORCES_KEY, stress_key=DEFAULT_STRESS_KEY) -> list:
    """Read frames with moments and labels from an extended-XYZ file (``.gz`` etc. allowed).

    Parameters
    ----------
    path : str or path-like
    index : ASE index — ``":"`` (all), ``"2:10"``, an int, a slice. Always returns a list.
    moment_key : per-atom column with the moments, (N, 3) or collinear (N,) along z, μB.
        Moments are required: a frame without this key raises :class:`FileFormatError`.
        ``moment_key=None`` reads every moment as zero (non-magnetic data).
    magnetic_forces_key, energy_key, forces_key, stress_key : where each label lives. A key
        left at its default is optional (a frame without it gets ``None`` for that label); a key
        passed explicitly must be present in every frame, else :class:`FileFormatError` names
        the key, the frame and the keys the frame has. ``None`` skips the label.
        Stress may hold 9 (3x3) or 6 (Voigt xx yy zz yz xz xy) components; it becomes (3, 3).

    Returns
    -------
    list of :class:`LabelledFrame`. Frame numbers in messages count from 0 among the frames
    selected by ``index``. A malformed file raises :class:`FileFormatError`; a missing file
    ``FileNotFoundError``.
    """
    import ase.io

    path = os.fspath(path)
    try:
        images = ase.io.read(path, index=index, format="extxyz", do_not_split_by_at_sign=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:  # ASE raises XYZError, ValueError, IndexError, ... on bad text
        raise FileFormatError(f"{path} could not be read as extended XYZ: {exc}") from exc
    if not isinstance(images, list):
        images = [images]
    return [
        _frame_from_atoms(atoms, f"{path}, frame {k}", moment_key, magnetic_forces_key,
                          energy_key, forces_key, stress_key)
        for k, atoms in enumerate(images)
    ]


# --- writing ---------------------------------------------------------------------------------
def _fmt(x) -> str:
    """Shortest exact text of a float (``repr``), integers and booleans in extxyz style."""
    if isinstance(x, (bool, np.bool_)):
        return "T" if x else "F"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return repr(float(x))


def _quote(text) -> str:
    if "\n" in str(text) or "\r" in str(text):
        raise InputError(f"extxyz values cannot contain line breaks: {text!r}")
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _info_item(key, value) -> str:
    """``key=value`` for the comment line; numbers and arrays exactly, other objects as JSON."""
    from ase.io.extxyz import key_val_dict_to_str

    if isinstance(value, str):
        return f"{key}={_quote(value)}"
    arr = np.asarray(value) if not isinstance(value, (dict, list, tuple)) else None
    if arr is not None and arr.dtype.kind in "biuf" and arr.ndim <= 2:
        if key in _SPECIAL_3x3 and arr.shape == (6,):
            arr = stress_to_3x3(arr)
        if arr.ndim == 2 and key in _SPECIAL_3x3:
            arr = arr.T  # ASE reads these keys in Fortran order
        if arr.ndim == 0:
            return f"{key}={_fmt(arr.item())}"
        if arr.ndim == 1 or key in _SPECIAL_3x3:
            return f"{key}={_quote(' '.join(_fmt(v) for v in arr.ravel().tolist()))}"
    return key_val_dict_to_str({key: value})  # anything else: ASE's JSON encoding


def _column(name, values, n):
    """(Properties entry, per-atom list of text fields) for one per-atom array."""
    arr = np.asarray(values)
    if arr.shape[:1] != (n,) or arr.ndim > 2:
        raise InputError(f"per-atom array {name!r} must have shape (N,) or (N, k), got {arr.shape}")
    cols = 1 if arr.ndim == 1 else arr.shape[1]
    kind = {"f": "R", "i": "I", "u": "I", "b": "L", "U": "S", "S": "S"}.get(arr.dtype.kind)
    if kind is None:
        raise InputError(f"per-atom array {name!r} has unsupported dtype {arr.dtype}")
    if kind == "S" and any(" " in str(v) for v in arr.ravel()):
        raise InputError(f"per-atom string array {name!r} may not contain spaces")
    rows = arr.reshape(n, cols).tolist()
    fields = [" ".join(str(v) if kind == "S" else _fmt(v) for v in row) for row in rows]
    return f"{name}:{kind}:{cols}", fields


def _check_keys(keys):
    named = [k for k in keys.values() if k is not None]
    for what, key in keys.items():
        if key is not None and (not _KEY_RE.match(key) or key in _RESERVED):
            raise InputError(f"{what} {key!r} is not a usable extxyz key (letters, digits and _; "
                             f"not one of {sorted(_RESERVED)})")
    if len(set(named)) != len(named):
        raise InputError(f"label keys must be distinct, got {keys}")


def _frame_text(frame, keys) -> str:
    if isinstance(frame, SpinLatticeState):
        frame = LabelledFrame(state=frame)
    if not isinstance(frame, LabelledFrame):
        raise InputError(f"write_extxyz needs LabelledFrame or SpinLatticeState, got {type(frame)}")
    from ase.data import atomic_masses, chemical_symbols

    s = frame.state
    n = s.n_atoms
    columns = [("species:S:1", [chemical_symbols[z] for z in s.numbers]),
               _column("pos", s.positions, n)]
    per_atom = [("moment_key", s.moments), ("forces_key", frame.forces),
                ("magnetic_forces_key", frame.magnetic_forces)]
    if s.momenta is not None:
        # ASE's unit (amu·Å per ASE time unit), as every extxyz reader expects
        columns.append(_column("momenta", s.momenta / ASE_FS, n))
    if s.masses is not None and not np.array_equal(s.masses, atomic_masses[s.numbers]):
        columns.append(_column("masses", s.masses, n))
    for what, value in per_atom:
        if value is not None and keys[what] is not None:
            columns.append(_column(keys[what], value, n))
    for name, value in frame.arrays.items():
        if name in {c[0].split(":")[0] for c in columns}:
            continue  # a label written above takes precedence over a stale extra column
        columns.append(_column(name, value, n))

    header = []
    if s.pbc.any() or np.any(s.cell):
        header.append("Lattice=" + _quote(" ".join(_fmt(v) for v in s.cell.ravel().tolist())))
    header.append("Properties=" + ":".join(c[0] for c in columns))
    if frame.energy is not None and keys["energy_key"] is not None:
        header.append(_info_item(keys["energy_key"], frame.energy))
    if frame.stress is not None and keys["stress_key"] is not None:
        stress = frame.stress.T if keys["stress_key"] in _SPECIAL_3x3 else frame.stress
        header.append(f"{keys['stress_key']}=" + _quote(" ".join(_fmt(v) for v in stress.ravel().tolist())))
    if frame.config_type is not None:
        header.append(_info_item(CONFIG_TYPE_KEY, frame.config_type))
    written = {c[0].split(":")[0] for c in columns} | {keys["energy_key"], keys["stress_key"]}
    for key, value in frame.info.items():
        if key in written or key in _RESERVED:
            continue
        if not _KEY_RE.match(key):
            raise InputError(f"info key {key!r} is not a usable extxyz key")
        header.append(_info_item(key, value))
    header.append("pbc=" + _quote(" ".join("T" if p else "F" for p in s.pbc)))
    lines = [str(n), " ".join(header)]
    lines += [" ".join(c[1][i] for c in columns) for i in range(n)]
    return "\n".join(lines) + "\n"


def write_extxyz(path, frames, moment_key=DEFAULT_MOMENT_KEY,
                 magnetic_forces_key=DEFAULT_MAGNETIC_FORCES_KEY, energy_key=DEFAULT_ENERGY_KEY,
                 forces_key=DEFAULT_FORCES_KEY, stress_key=DEFAULT_STRESS_KEY, append=False):
    """Write frames to an extended-XYZ file (gzip-compressed when the name ends in ``.gz``).

    ``frames``: a :class:`LabelledFrame`, a :class:`SpinLatticeState`, or a list of them. Moments
    are written as an (N, 3) column under ``moment_key``; labels that are ``None`` in a frame are
    left out; a key set to ``None`` leaves that label out of every frame (``moment_key`` may not
    be None). Stress is written as 9 components. ``frame.info`` and ``frame.arrays`` are written
    as extra per-frame and per-atom entries. Floats are written exactly (``repr``), so
    :func:`read_extxyz` with the same keys gives back identical arrays.
    """
    if moment_key is None:
        raise InputError("write_extxyz needs a moment_key: the moments are always written")
    keys = dict(moment_key=moment_key, magnetic_forces_key=magnetic_forces_key,
                energy_key=energy_key, forces_key=forces_key, stress_key=stress_key)
    _check_keys(keys)
    if isinstance(frames, (LabelledFrame, SpinLatticeState)):
        frames = [frames]
    text = "".join(_frame_text(frame, keys) for frame in frames)
    path = os.fspath(path)
    mode = "at" if append else "wt"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, mode, encoding="utf-8") as handle:
        handle.write(text)


__all__ = ["LabelledFrame", "read_extxyz", "write_extxyz", "stress_to_3x3"]
