"""Heisenberg potentials from exchange files: TB2J ``exchange.out`` and UppASD input.

Conventions (details and derivations in docs/conventions.md):

* spinlattice:  E = −Σ_{i<j} J_ij m_i·m_j, each pair once, m in μB, J in eV/μB².
* TB2J:         E = −Σ_{i≠j} J_ij e_i·e_j, every pair twice (i→j and j→i are both listed),
                unit vectors e, J in meV (the unit is read from the ``J_iso(meV)`` header).
* UppASD:       H = −Σ_{i≠j} J_ij e_i·e_j, the same double counting with unit vectors, J in mRy
                (the jfile convention of the UppASD manual; the code mounts the couplings as
                2 J_ij/(|m_i||m_j|) on the moment vectors, which is the same energy).

Both files therefore convert the same way, with the reference moments |m_i| written with them
(TB2J ``Atoms`` section, UppASD ``momfile``):

    J_ours(i, j) = 2 J_file(i, j) / (|m_i| |m_j|)

so that a collinear state with the reference moments has the file's energy. The bonds of a file
(:class:`ExchangeBonds`) are grouped into shells by species pair and distance and averaged
(:func:`shell_table_from_bonds`); the potential is a :class:`~.exchange.Heisenberg` with a
:class:`~.couplings.ShellTable`. Inequivalent bonds at the same distance (e.g. the two 7.45 Å
families of bcc Fe) are averaged, with a warning when their spread is large.

Malformed files raise :class:`~spinlattice.errors.FileFormatError` naming the file and line.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass

import numpy as np

from spinlattice.errors import FileFormatError, InputError
from spinlattice.neighbors import neighbor_list
from spinlattice.units import MEV, MRY, RYDBERG

from .couplings import ShellTable
from .exchange import Heisenberg
from .pairs import pair_key, species_number, species_symbol

#: Energy units accepted in exchange files, in eV.
ENERGY_UNITS = {"meV": MEV, "mRy": MRY, "eV": 1.0, "Ry": RYDBERG}


@dataclass
class ExchangeBonds:
    """Bond-resolved isotropic exchange read from a file (one row per listed bond i → j).

    cell : (3, 3) Å; positions : (n, 3) Å; numbers : (n,) atomic numbers; labels : n names;
    moments : (n,) reference |m|, μB; i, j : (B,) sites; shifts : (B, 3) int, the bond vector is
    positions[j] − positions[i] + shifts @ cell; distances : (B,) Å;
    exchange : (B,) J in the file's convention (pairs twice, unit vectors) converted to eV.
    """

    source: str
    cell: np.ndarray
    positions: np.ndarray
    numbers: np.ndarray
    labels: list
    moments: np.ndarray
    i: np.ndarray
    j: np.ndarray
    shifts: np.ndarray
    distances: np.ndarray
    exchange: np.ndarray

    def exchange_per_moment(self):
        """J in spinlattice's convention, eV/μB²: 2 J_file / (|m_i||m_j|)."""
        return 2.0 * self.exchange / (self.moments[self.i] * self.moments[self.j])


def _bond_geometry(cell, positions, i, j, shifts):
    vectors = positions[j] - positions[i] + shifts @ cell
    return vectors, np.linalg.norm(vectors, axis=1)


def shell_table_from_bonds(bonds, max_distance=None, resolution=0.01, tolerance=0.05,
                           taper=0.05, spread_warning=0.02, min_moment=0.05,
                           reference_moments=None):
    """Group bonds into shells (species pair, distance within ``resolution`` Å) and average
    J_ours over each shell; return a :class:`~.couplings.ShellTable`.

    max_distance : keep bonds up to this distance (Å). Exchange files list the bonds of a box of
    cells, not of a sphere: the shells are checked against the neighbours of the file's own
    structure, and with ``max_distance=None`` the shells from the first incomplete one on are
    dropped (with a warning; an explicit max_distance beyond it only warns).
    tolerance, taper : see ShellTable;
    spread_warning : warn when a shell's bonds differ from its mean by more than this fraction
    of the largest |J| in the file; min_moment : μB, bonds of smaller reference moments are an
    error (the conversion divides by |m_i||m_j|); reference_moments : {species: |m| μB} to use
    instead of the file's moments (e.g. when a Wannier moment is not the physical one).
    """
    if reference_moments:
        moments = bonds.moments.copy()
        for key, value in reference_moments.items():
            if not value > 0:
                raise InputError(f"reference moment of {key!r} must be positive, got {value}")
            moments[bonds.numbers == species_number(key)] = float(value)
        bonds = ExchangeBonds(**{**bonds.__dict__, "moments": moments})
    incomplete, detail = first_incomplete_shell(bonds, resolution, max_distance)
    if incomplete is not None:
        if max_distance is None and incomplete > bonds.distances.min() + resolution:
            max_distance = incomplete - resolution
            warnings.warn(f"{bonds.source}: {detail}: the bond list is a box of cells, not a "
                          f"sphere; shells from {incomplete:.3f} Å on are dropped (pass "
                          f"max_distance= to choose)", stacklevel=3)
        else:
            warnings.warn(f"{bonds.source}: {detail}: shells from {incomplete:.3f} Å on are "
                          f"incomplete", stacklevel=3)
    small = bonds.moments < min_moment
    used = np.ones(len(bonds.i), dtype=bool)
    if max_distance is not None:
        used &= bonds.distances <= max_distance
    if not used.any():
        raise InputError(f"{bonds.source}: no bonds within {max_distance} Å")
    bad = used & (small[bonds.i] | small[bonds.j])
    if bad.any():
        k = int(np.argmax(bad))
        raise InputError(
            f"{bonds.source}: bond {bonds.labels[bonds.i[k]]}-{bonds.labels[bonds.j[k]]} joins a "
            f"reference moment below {min_moment} μB; J/(|m_i||m_j|) is undefined")
    j_ours = bonds.exchange_per_moment()[used]
    zi, zj = bonds.numbers[bonds.i[used]], bonds.numbers[bonds.j[used]]
    dist = bonds.distances[used]
    scale = max(np.max(np.abs(j_ours)), 1e-300)
    shells = {}
    for key in sorted({pair_key(a, b) for a, b in zip(zi, zj)}):
        sel = np.nonzero((np.minimum(zi, zj) == key[0]) & (np.maximum(zi, zj) == key[1]))[0]
        order = sel[np.argsort(dist[sel], kind="stable")]
        breaks = np.nonzero(np.diff(dist[order]) > resolution)[0] + 1
        entries = []
        for group in np.split(order, breaks):
            mean = float(np.mean(j_ours[group]))
            spread = float(np.max(np.abs(j_ours[group] - mean)))
            r = float(np.mean(dist[group]))
            if spread > spread_warning * scale:
                warnings.warn(
                    f"{bonds.source}: the {len(group)} {species_symbol(key[0])}-"
                    f"{species_symbol(key[1])} bonds at {r:.3f} Å differ by up to "
                    f"{spread / scale:.1%} of the largest |J|; the shell average is used",
                    stacklevel=3)
            entries.append((r, mean))
        shells[(species_symbol(key[0]), species_symbol(key[1]))] = entries
    return ShellTable(shells, tolerance=tolerance, taper=taper)


def first_incomplete_shell(bonds, resolution=0.01, max_distance=None):
    """(distance Å, description) of the first shell of a species pair with fewer listed bonds
    than the file's structure has neighbours there, or (None, "") when every shell up to
    ``max_distance`` (default: the longest bond) is complete."""
    limit = float(bonds.distances.max()) if max_distance is None else min(
        float(max_distance), float(bonds.distances.max()))
    nl = neighbor_list(bonds.positions, bonds.cell, [True] * 3, limit + resolution)
    zi, zj = bonds.numbers[bonds.i], bonds.numbers[bonds.j]
    ni, nj = bonds.numbers[nl.i], bonds.numbers[nl.j]
    first, detail = None, ""
    for key in sorted({pair_key(a, b) for a, b in zip(zi, zj)}):
        listed = np.sort(bonds.distances[(np.minimum(zi, zj) == key[0]) & (np.maximum(zi, zj) == key[1])])
        expected = np.sort(nl.distances[(np.minimum(ni, nj) == key[0]) & (np.maximum(ni, nj) == key[1])])
        breaks = np.nonzero(np.diff(expected) > resolution)[0] + 1
        for group in np.split(expected, breaks):
            if group[0] > limit + resolution / 2:
                break
            lo, hi = group[0] - resolution / 2, group[-1] + resolution / 2
            n_listed = int(np.count_nonzero((listed >= lo) & (listed <= hi)))
            if n_listed < len(group):
                r = float(np.mean(group))
                if first is None or r < first:
                    first = r
                    detail = (f"{n_listed} of the {len(group)} {species_symbol(key[0])}-"
                              f"{species_symbol(key[1])} bonds at {r:.3f} Å are listed")
                break
    return first, detail


# ----------------------------------------------------------------------------------- TB2J ----
_BOND = re.compile(
    r"^\s*(?P<a>[A-Za-z]+\d*)\s+(?P<b>[A-Za-z]+\d*)\s+\(\s*(?P<R>[^)]*)\)\s+(?P<J>\S+)\s+"
    r"\((?P<vec>[^)]*)\)\s+(?P<d>\S+)\s*$")
_BOND_START = re.compile(r"^\s*[A-Z][a-z]?\d+(\s|$)")  # an atom label such as "Fe1" opens a bond
_UNIT = re.compile(r"J_iso\((?P<unit>[^)]*)\)")


def _floats(tokens, path, lineno, what, count=None):
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        raise FileFormatError(f"{path}:{lineno}: {what}: non-numeric value in {tokens}") from None
    if count is not None and len(values) != count:
        raise FileFormatError(f"{path}:{lineno}: {what}: expected {count} numbers, got {len(values)}")
    if not all(np.isfinite(values)):
        raise FileFormatError(f"{path}:{lineno}: {what}: non-finite value in {tokens}")
    return values


def _label_species(label, path, lineno):
    symbol = re.match(r"[A-Za-z]+", label).group(0)
    try:
        return species_number(symbol)
    except InputError:
        raise FileFormatError(f"{path}:{lineno}: atom label {label!r} is not an element") from None


def read_tb2j_bonds(path, vector_tolerance=0.02):
    """Parse a TB2J ``exchange.out`` into :class:`ExchangeBonds` (isotropic J only).

    Reads the ``Cell (Angstrom)``, ``Atoms`` (collinear ``w_magmom`` or vector ``M(x) M(y)
    M(z)`` columns) and ``Exchange`` sections; every bond line must be followed by its
    ``J_iso:`` line (a file cut after a bond is reported as truncated) and its printed vector
    must match the cell and positions within ``vector_tolerance`` Å. Every line starting with an
    atom label opens a bond and must parse; DMI, anisotropic-exchange and orbital-decomposition
    lines are skipped.
    """
    path = os.fspath(path)
    with open(path) as handle:
        lines = handle.read().splitlines()
    cell = None
    atoms = None
    unit = None
    bonds = []
    pending = None  # (lineno, J) of a bond still waiting for its J_iso line
    section = None
    k = 0
    while k < len(lines):
        line = lines[k]
        lineno = k + 1
        stripped = line.strip()
        if stripped.startswith("===="):
            if pending is not None:
                raise FileFormatError(f"{path}:{pending[0]}: bond without its J_iso line")
            section = None
        elif stripped.startswith("Cell (Angstrom)"):
            if k + 3 >= len(lines):
                raise FileFormatError(f"{path}:{lineno}: truncated cell")
            rows = [_floats(lines[k + a].split(), path, k + a + 1, "cell row", 3) for a in (1, 2, 3)]
            cell = np.array(rows)
            k += 3
        elif stripped.startswith("Atoms:"):
            atoms, k = _parse_tb2j_atoms(lines, k + 1, path)
            continue
        elif stripped.startswith("Exchange:"):
            section = "exchange"
            if k + 1 >= len(lines):
                raise FileFormatError(f"{path}:{lineno}: truncated after 'Exchange:'")
            match = _UNIT.search(lines[k + 1])
            if match is None:
                raise FileFormatError(f"{path}:{lineno + 1}: no J_iso(unit) column header")
            unit = match.group("unit").strip()
            if unit not in ENERGY_UNITS:
                raise FileFormatError(f"{path}:{lineno + 1}: unknown energy unit {unit!r}; "
                                      f"known: {', '.join(ENERGY_UNITS)}")
            k += 1
        elif section == "exchange" and stripped:
            if stripped.startswith("J_iso:"):
                value = _floats(stripped.split()[1:2], path, lineno, "J_iso", 1)[0]
                if pending is None or abs(value - pending[1]) > 1e-9 * max(1.0, abs(value)):
                    raise FileFormatError(f"{path}:{lineno}: J_iso line does not match its bond")
                pending = None
            elif _BOND_START.match(line):
                if pending is not None:
                    raise FileFormatError(f"{path}:{pending[0]}: bond without its J_iso line")
                match = _BOND.match(line)
                if match is None:
                    raise FileFormatError(f"{path}:{lineno}: malformed bond line: {stripped!r}")
                shift = _floats(match.group("R").split(","), path, lineno, "cell shift R", 3)
                if any(s != int(s) for s in shift):
                    raise FileFormatError(f"{path}:{lineno}: cell shift R must be integers")
                value = _floats([match.group("J")], path, lineno, "J_iso", 1)[0]
                vector = _floats(match.group("vec").split(","), path, lineno, "bond vector", 3)
                bonds.append((lineno, match.group("a"), match.group("b"), shift, value, vector))
                pending = (lineno, value)
            # other lines of a bond block (DMI, J_ani, orbital decompositions, separators) are
            # not read
        k += 1
    if pending is not None:
        raise FileFormatError(f"{path}:{pending[0]}: file truncated after a bond (no J_iso line)")
    if cell is None:
        raise FileFormatError(f"{path}: no 'Cell (Angstrom):' section")
    if atoms is None:
        raise FileFormatError(f"{path}: no 'Atoms:' section")
    if unit is None or not bonds:
        raise FileFormatError(f"{path}: no exchange bonds (missing or empty 'Exchange:' section)")
    labels, numbers, positions, moments = atoms
    index = {label: a for a, label in enumerate(labels)}
    i, j, shifts, values, printed = [], [], [], [], []
    for lineno, a, b, shift, value, vector in bonds:
        for label in (a, b):
            if label not in index:
                raise FileFormatError(f"{path}:{lineno}: atom {label!r} is not in the Atoms section")
        i.append(index[a])
        j.append(index[b])
        shifts.append(shift)
        values.append(value)
        printed.append(vector)
    i, j = np.array(i), np.array(j)
    shifts = np.array(shifts, dtype=np.int64)
    vectors, distances = _bond_geometry(cell, positions, i, j, shifts)
    mismatch = np.max(np.abs(vectors - np.array(printed)), axis=1)
    if np.any(mismatch > vector_tolerance):
        p = int(np.argmax(mismatch))
        raise FileFormatError(
            f"{path}:{bonds[p][0]}: bond vector {printed[p]} does not match the cell and "
            f"positions ({vectors[p].round(4).tolist()})")
    return ExchangeBonds(path, cell, positions, numbers, labels, moments, i, j, shifts,
                         distances, np.array(values) * ENERGY_UNITS[unit])


def _parse_tb2j_atoms(lines, k, path):
    """Atoms section from line index k: header, rows until 'Total'. Returns (atoms, next k)."""
    while k < len(lines) and not lines[k].strip().startswith("Atom"):
        k += 1
    if k >= len(lines):
        raise FileFormatError(f"{path}: truncated Atoms section (no column header)")
    header = lines[k]
    if "M(x)" in header:
        n_moment = 3
    elif "magmom" in header:
        n_moment = 1
    else:
        raise FileFormatError(f"{path}:{k + 1}: Atoms header without moment columns: {header.strip()!r}")
    labels, numbers, positions, moments = [], [], [], []
    k += 1
    while True:
        if k >= len(lines) or lines[k].strip().startswith("===="):
            raise FileFormatError(f"{path}:{k + 1}: Atoms section truncated (no 'Total' line)")
        tokens = lines[k].split()
        if tokens and tokens[0] == "Total":
            break
        if len(tokens) != 5 + n_moment:
            raise FileFormatError(f"{path}:{k + 1}: atom line needs {5 + n_moment} columns, "
                                  f"got {len(tokens)}")
        values = _floats(tokens[1:], path, k + 1, "atom line")
        labels.append(tokens[0])
        numbers.append(_label_species(tokens[0], path, k + 1))
        positions.append(values[:3])
        moments.append(float(np.linalg.norm(values[4:])))
        k += 1
    if not labels:
        raise FileFormatError(f"{path}:{k + 1}: no atoms listed")
    return (labels, np.array(numbers), np.array(positions), np.array(moments)), k + 1


def read_tb2j(path, max_distance=None, tolerance=0.05, taper=0.05, **shell_options):
    """Heisenberg potential from a TB2J ``exchange.out`` (J_ours = 2 J_TB2J / (|m_i||m_j|)).

    max_distance (Å) drops longer bonds; tolerance, taper and ``shell_options`` go to
    :func:`shell_table_from_bonds`. Returns :class:`~.exchange.Heisenberg`.
    """
    bonds = read_tb2j_bonds(path)
    return Heisenberg(shell_table_from_bonds(bonds, max_distance=max_distance, tolerance=tolerance,
                                             taper=taper, **shell_options))


# --------------------------------------------------------------------------------- UppASD ----
def _data_lines(path):
    """(line number, tokens) of the non-empty lines of a file, comments (#, !) removed."""
    out = []
    with open(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            tokens = re.split(r"[#!]", line, maxsplit=1)[0].split()
            if tokens:
                out.append((lineno, tokens))
    if not out:
        raise FileFormatError(f"{path}: empty file")
    return out


def _int(token, path, lineno, what):
    try:
        return int(token)
    except ValueError:
        raise FileFormatError(f"{path}:{lineno}: {what} must be an integer, got {token!r}") from None


def _species_of_types(species, types, path):
    out = {}
    for t in sorted(set(types)):
        if isinstance(species, dict):
            if t not in species:
                raise InputError(f"{path}: atom type {t} has no species in {species!r}")
            out[t] = species_number(species[t])
        else:
            out[t] = species_number(species)
    return out


def read_uppasd_bonds(jfile, posfile, momfile, cell, alat, species, maptype=2,
                      posfiletype="C", unit="mRy"):
    """Parse UppASD ``jfile`` + ``posfile`` + ``momfile`` into :class:`ExchangeBonds`.

    cell : (3, 3) lattice vectors in units of ``alat`` (as in inpsd.dat); alat : Å.
    species : element of every atom type, {type: "Fe", ...} or one element for all types.
    maptype 2: jfile columns ``i j R1 R2 R3 J [r]`` with sites i, j and the integer cell shift R
    (bond vector r_j − r_i + R·cell); maptype 1: ``ti tj x y z J [r]`` with atom types and the
    bond vector (Cartesian in alat units for posfiletype C, lattice coordinates for D), applied
    to every site of type ti. posfile ``site type x y z``; momfile ``site chem |m| ex ey ez``.
    Random-alloy files (extra chemical columns) are not supported. J in ``unit`` (mRy default).
    """
    if unit not in ENERGY_UNITS:
        raise InputError(f"unknown energy unit {unit!r}; known: {', '.join(ENERGY_UNITS)}")
    if maptype not in (1, 2) or posfiletype not in ("C", "D"):
        raise InputError(f"maptype must be 1 or 2 and posfiletype C or D, got {maptype}, {posfiletype}")
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    if not alat > 0:
        raise InputError(f"alat must be a positive length in Å, got {alat}")
    sites, types, basis = {}, {}, {}
    for lineno, tokens in _data_lines(posfile):
        if len(tokens) != 5:
            raise FileFormatError(f"{posfile}:{lineno}: posfile line needs 'site type x y z' "
                                  f"(random-alloy files are not supported), got {len(tokens)} columns")
        site = _int(tokens[0], posfile, lineno, "site")
        if site in sites:
            raise FileFormatError(f"{posfile}:{lineno}: site {site} listed twice")
        types[site] = _int(tokens[1], posfile, lineno, "type")
        x = np.array(_floats(tokens[2:5], posfile, lineno, "position", 3))
        basis[site] = x @ cell if posfiletype == "D" else x
        sites[site] = len(sites)
    order = sorted(sites, key=sites.get)
    moments = {}
    for lineno, tokens in _data_lines(momfile):
        if len(tokens) != 6:
            raise FileFormatError(f"{momfile}:{lineno}: momfile line needs 'site chem |m| ex ey ez', "
                                  f"got {len(tokens)} columns")
        site = _int(tokens[0], momfile, lineno, "site")
        if site not in sites:
            raise FileFormatError(f"{momfile}:{lineno}: site {site} is not in the posfile")
        if _int(tokens[1], momfile, lineno, "chemical type") != 1:
            raise FileFormatError(f"{momfile}:{lineno}: random alloys (chemical type != 1) are not supported")
        moments[site] = abs(_floats(tokens[2:3], momfile, lineno, "moment", 1)[0])
    missing = [s for s in order if s not in moments]
    if missing:
        raise FileFormatError(f"{momfile}: no moment for sites {missing}")
    by_type = _species_of_types(species, types.values(), posfile)
    positions = np.array([basis[s] for s in order])
    inverse = np.linalg.inv(cell)
    i, j, shifts, values = [], [], [], []
    for lineno, tokens in _data_lines(jfile):
        if len(tokens) not in (6, 7):
            raise FileFormatError(f"{jfile}:{lineno}: jfile line needs 'i j x y z J [r]' "
                                  f"(random-alloy and tensor files are not supported), got "
                                  f"{len(tokens)} columns")
        a = _int(tokens[0], jfile, lineno, "i")
        b = _int(tokens[1], jfile, lineno, "j")
        x = np.array(_floats(tokens[2:5], jfile, lineno, "bond vector", 3))
        value = _floats(tokens[5:6], jfile, lineno, "J", 1)[0]
        if maptype == 2:
            for s in (a, b):
                if s not in sites:
                    raise FileFormatError(f"{jfile}:{lineno}: site {s} is not in the posfile")
            if np.any(np.abs(x - np.round(x)) > 1e-6):
                raise FileFormatError(f"{jfile}:{lineno}: maptype 2 needs integer cell shifts, got {x}")
            i.append(sites[a])
            j.append(sites[b])
            shifts.append(np.round(x).astype(np.int64))
            values.append(value)
            continue
        vector = x @ cell if posfiletype == "D" else x
        sources = [s for s in order if types[s] == a]
        targets = [s for s in order if types[s] == b]
        if not sources or not targets:
            raise FileFormatError(f"{jfile}:{lineno}: atom type {a if not sources else b} "
                                  f"is not in the posfile")
        for s in sources:
            frac = [(basis[s] + vector - basis[t]) @ inverse for t in targets]
            hits = [k for k, f in enumerate(frac) if np.all(np.abs(f - np.round(f)) < 1e-4)]
            if not hits:
                raise FileFormatError(f"{jfile}:{lineno}: no site of type {b} at bond vector "
                                      f"{x.tolist()} from site {s}")
            i.append(sites[s])
            j.append(sites[targets[hits[0]]])
            shifts.append(np.round(frac[hits[0]]).astype(np.int64))
            values.append(value)
    cell_a, positions_a = cell * alat, positions * alat
    i, j, shifts = np.array(i), np.array(j), np.array(shifts, dtype=np.int64).reshape(-1, 3)
    _, distances = _bond_geometry(cell_a, positions_a, i, j, shifts)
    if np.any(distances < 1e-8):
        k = int(np.argmin(distances))
        raise FileFormatError(f"{jfile}: bond {k + 1} joins a site to itself (zero length)")
    numbers = np.array([by_type[types[s]] for s in order])
    labels = [f"{species_symbol(z)}{s}" for z, s in zip(numbers, order)]
    return ExchangeBonds(os.fspath(jfile), cell_a, positions_a, numbers, labels,
                         np.array([moments[s] for s in order]), i, j, shifts, distances,
                         np.array(values) * ENERGY_UNITS[unit])


def read_uppasd_input(inpsd):
    """The keywords of an UppASD ``inpsd.dat`` the exchange reader needs.

    Returns {"cell": (3, 3) in alat units, "alat": Å or None (inpsd gives metres),
    "posfile", "momfile", "exchange": paths relative to the inpsd directory,
    "maptype": int (default 1), "posfiletype": "C" | "D" (default "C")}.
    """
    inpsd = os.fspath(inpsd)
    lines = _data_lines(inpsd)
    folder = os.path.dirname(inpsd)
    found = {"maptype": 1, "posfiletype": "C", "alat": None}
    for n, (lineno, tokens) in enumerate(lines):
        key = tokens[0].lower()
        if key == "cell":
            rows = [tokens[1:4]] + [lines[n + a][1][:3] for a in (1, 2) if n + a < len(lines)]
            if len(rows) != 3:
                raise FileFormatError(f"{inpsd}:{lineno}: cell needs three rows")
            found["cell"] = np.array([_floats(r, inpsd, lineno, "cell row", 3) for r in rows])
        elif key in ("posfile", "momfile", "exchange") and len(tokens) > 1:
            found[key] = os.path.join(folder, tokens[1])
        elif key == "maptype" and len(tokens) > 1:
            found["maptype"] = _int(tokens[1], inpsd, lineno, "maptype")
        elif key == "posfiletype" and len(tokens) > 1:
            found["posfiletype"] = tokens[1].upper()
        elif key == "alat" and len(tokens) > 1:
            found["alat"] = _floats(tokens[1:2], inpsd, lineno, "alat", 1)[0] * 1e10
    for key in ("cell", "posfile", "momfile", "exchange"):
        if key not in found:
            raise FileFormatError(f"{inpsd}: keyword {key!r} is missing")
    return found


def read_uppasd(inpsd, species, alat=None, unit="mRy", max_distance=None, tolerance=0.05,
                taper=0.05, **shell_options):
    """Heisenberg potential from an UppASD input (inpsd.dat naming posfile, momfile, exchange).

    species : element of the atom types ({type: "Fe"} or one symbol); alat : Å, overrides the
    inpsd ``alat`` (metres). J_ours = 2 J_UppASD / (|m_i||m_j|) with the momfile moments.
    """
    options = read_uppasd_input(inpsd)
    alat = alat if alat is not None else options["alat"]
    if alat is None:
        raise InputError(f"{inpsd} has no 'alat' keyword: pass alat= (Å)")
    bonds = read_uppasd_bonds(options["exchange"], options["posfile"], options["momfile"],
                              options["cell"], alat, species, maptype=options["maptype"],
                              posfiletype=options["posfiletype"], unit=unit)
    return Heisenberg(shell_table_from_bonds(bonds, max_distance=max_distance, tolerance=tolerance,
                                             taper=taper, **shell_options))


def write_uppasd(bonds, directory, unit="mRy", alat=None, max_distance=None):
    """Write ``bonds`` as UppASD input (inpsd.dat, posfile, momfile, jfile; maptype 2,
    posfiletype D, J in ``unit``). Returns (path of inpsd.dat, {type: element}).

    Atom types are numbered per species (1, 2, ... in order of appearance); alat defaults to the
    length of the first cell vector. Only bonds up to ``max_distance`` Å are written.
    """
    if unit not in ENERGY_UNITS:
        raise InputError(f"unknown energy unit {unit!r}; known: {', '.join(ENERGY_UNITS)}")
    alat = float(np.linalg.norm(bonds.cell[0])) if alat is None else float(alat)
    os.makedirs(directory, exist_ok=True)
    species = list(dict.fromkeys(bonds.numbers.tolist()))
    type_of = {z: k + 1 for k, z in enumerate(species)}
    frac = bonds.positions @ np.linalg.inv(bonds.cell)
    cell = bonds.cell / alat
    with open(os.path.join(directory, "inpsd.dat"), "w") as f:
        f.write(f"simid    {os.path.basename(bonds.source)[:8]:8s}\n")
        f.write("ncell    12 12 12\nBC       P P P\n")
        f.write("cell     " + "\n         ".join(" ".join(f"{x:.12f}" for x in row) for row in cell) + "\n")
        f.write(f"alat     {alat * 1e-10:.12e}\nSym      0\nmaptype  2\nposfiletype D\n")
        f.write("posfile  ./posfile\nmomfile  ./momfile\nexchange ./jfile\n")
    with open(os.path.join(directory, "posfile"), "w") as f:
        for s, (z, x) in enumerate(zip(bonds.numbers, frac)):
            f.write(f"{s + 1} {type_of[z]} {x[0]:.12f} {x[1]:.12f} {x[2]:.12f}\n")
    with open(os.path.join(directory, "momfile"), "w") as f:
        for s, m in enumerate(bonds.moments):
            f.write(f"{s + 1} 1 {m:.8f} 0.0 0.0 1.0\n")
    keep = np.ones(len(bonds.i), bool) if max_distance is None else bonds.distances <= max_distance
    with open(os.path.join(directory, "jfile"), "w") as f:
        for a, b, s, value, r in zip(bonds.i[keep], bonds.j[keep], bonds.shifts[keep],
                                     bonds.exchange[keep] / ENERGY_UNITS[unit], bonds.distances[keep]):
            f.write(f"{a + 1} {b + 1} {s[0]} {s[1]} {s[2]} {value:.12e} {r / alat:.6f}\n")
    return os.path.join(directory, "inpsd.dat"), {type_of[z]: species_symbol(z) for z in species}


__all__ = [
    "ExchangeBonds", "read_tb2j_bonds", "read_tb2j", "read_uppasd_bonds", "read_uppasd_input",
    "read_uppasd", "write_uppasd", "shell_table_from_bonds", "first_incomplete_shell", "ENERGY_UNITS",
]
