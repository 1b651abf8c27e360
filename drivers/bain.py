"""The Bain path bcc → fcc in the body-centred tetragonal (bct) description, by NEB and by scan.

A two-atom bct cell diag(a, a, c) with atoms at (0, 0, 0) and (a/2, a/2, c/2) is bcc at c/a = 1
and fcc at c/a = √2 (the fcc cube's axes are the bct a-axes turned by 45° about c). Volume per
atom V = a²c/2, so a = (2V/(c/a))^{1/3}, c = (c/a) a.

Magnetic starting states (moments along z, μB): "FM" (m, m); "AFM" (m, −m) — B2-type
antiferromagnet in bcc, layered AFM-I ([001] planes alternating) in fcc; "NM" (0, 0), which stays
exactly zero under moment relaxation (h = 0 at m = 0 for any model even in m) — a symmetry-
constrained non-magnetic state, not necessarily a minimum in m.

* :func:`ca_scan` — constrained scan: at each c/a the volume is relaxed (or held) with the
  moments relaxed at every trial volume, warm-started from the previous c/a.
* :func:`bain_endpoints` / :func:`bain_neb` — the NEB: end points bcc and fcc at a chosen
  volume (``cell_mode="fixed_volume"``: every image keeps that volume) or with the volume
  relaxed at each end point (``cell_mode="variable"``: the images relax their cells freely
  perpendicular to the path), the initial band linear in the cell (:func:`.neb.interpolate`).
* :func:`compare_with_scan` — E per atom of the NEB images against the scan interpolated (cubic
  spline) at the images' c/a. The scan is a valid path where c/a increases monotonically along
  the band, every image lies inside the scanned range and no magnetic switch separates it from
  its neighbours; only those images are compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import minimize_scalar

from spinlattice.errors import InputError
from spinlattice.properties import ENERGY
from spinlattice.state import SpinLatticeState

from .minimise import minimise_moments
from .neb import interpolate, neb

SQRT2 = float(np.sqrt(2.0))
STARTS = {"FM": (1.0, 1.0), "AFM": (1.0, -1.0), "NM": (0.0, 0.0)}


def bct_state(c_over_a, volume_per_atom, moments, number=26):
    """Two-atom bct state (see the module doc); moments (2,) along z or (2, 3), μB."""
    ca, v = float(c_over_a), float(volume_per_atom)
    if not (ca > 0 and v > 0):
        raise InputError(f"c/a and the volume per atom must be positive, got {ca}, {v}")
    a = (2.0 * v / ca) ** (1 / 3)
    c = ca * a
    return SpinLatticeState(positions=[[0, 0, 0], [a / 2, a / 2, c / 2]], numbers=[number] * 2,
                            cell=np.diag([a, a, c]), pbc=True, moments=moments)


def start_moments(start, size=2.2):
    """(2, 3) start moments from "FM" | "AFM" | "NM" or explicit (2,)/(2, 3) values."""
    if isinstance(start, str):
        key = start.upper()
        if key not in STARTS:
            raise InputError(f"magnetic start must be one of {sorted(STARTS)} or moments, got {start!r}")
        return np.array([[0.0, 0.0, size * s] for s in STARTS[key]])
    m = np.asarray(start, dtype=float)
    if m.shape == (2,):
        m = np.stack([np.zeros(2), np.zeros(2), m], axis=1)
    if m.shape != (2, 3):
        raise InputError(f"start moments must have shape (2,) or (2, 3), got {m.shape}")
    return m


def c_over_a(state):
    """c/a = |h₃| / √(|h₁||h₂|) of a (near-)tetragonal cell."""
    lengths = np.linalg.norm(state.cell, axis=1)
    return float(lengths[2] / np.sqrt(lengths[0] * lengths[1]))


def relaxed_moments(potential, state, moment_kw):
    """(state with relaxed moments, E eV); moments exactly zero stay zero."""
    if not np.any(state.moments):
        return state, float(potential.compute(state, (ENERGY,))[ENERGY])
    res = minimise_moments(potential, state, **moment_kw)
    return res.state, res.energy


def relax_volume(potential, state, moment_kw, bounds=(0.85, 1.15), xtol=1e-7):
    """Minimise E over an isotropic scale s of ``state`` (cell and positions × s, shape kept),
    moments relaxed at every trial (warm start) → (state, E). ``bounds`` on s; InputError when
    the minimum sits on a bound."""
    current = {"state": state}

    def energy(s):
        trial = current["state"].replace(positions=state.positions * s, cell=state.cell * s)
        relaxed, e = relaxed_moments(potential, trial, moment_kw)
        current["state"] = relaxed
        return e

    res = minimize_scalar(energy, bounds=bounds, method="bounded", options={"xatol": xtol})
    s = float(res.x)
    if min(s - bounds[0], bounds[1] - s) < 10 * xtol:
        raise InputError(f"volume relaxation hit the bound s = {s:.4f} of {bounds}: start closer "
                         f"to the equilibrium volume")
    final = current["state"].replace(positions=state.positions * s, cell=state.cell * s)
    return relaxed_moments(potential, final, moment_kw)


def _moment_kw(hmax, collinear, moment_steps=500):
    return dict(mode="variable", collinear=collinear, axis=(0.0, 0.0, 1.0) if collinear else None,
                tol=hmax, max_steps=moment_steps)


@dataclass
class ScanResult:
    """Constrained c/a scan: c_over_a (K,), volume (K,) Å³/atom, energy (K,) eV/atom, moments
    (K, 2, 3) μB, states (K,), relaxed_volume (bool), start (str)."""

    c_over_a: np.ndarray
    volume: np.ndarray
    energy: np.ndarray
    moments: np.ndarray
    states: list
    relaxed_volume: bool
    start: str

    def merged(self, other):
        """A scan with the points of both (sorted by c/a; duplicates within 1e-9 taken once)."""
        ca = np.concatenate([self.c_over_a, other.c_over_a])
        order = np.argsort(ca, kind="stable")
        keep = np.concatenate([[True], np.diff(ca[order]) > 1e-9])
        order = order[keep]
        pick = lambda a, b: np.concatenate([a, b])[order]  # noqa: E731
        states = self.states + other.states
        return ScanResult(ca[order], pick(self.volume, other.volume),
                          pick(self.energy, other.energy), pick(self.moments, other.moments),
                          [states[k] for k in order], self.relaxed_volume, self.start)

    def spline(self):
        """Cubic spline E(c/a), eV/atom (the scan's c/a increasing)."""
        order = np.argsort(self.c_over_a)
        return CubicSpline(self.c_over_a[order], self.energy[order])


def ca_scan(potential, ca_values, *, start="FM", volume=None, moment_size=2.2, number=26,
            hmax=1e-8, collinear=True) -> ScanResult:
    """E(c/a) of the bct cell with the volume relaxed at each c/a (``volume=None``; the first
    point starts from the bcc volume of the potential's a₀ guess 11.8 Å³/atom and then from the
    previous point) or held at ``volume`` Å³/atom, moments relaxed (collinear along z by default)
    and warm-started from the previous point. ``ca_values`` must be strictly monotonic."""
    ca = np.asarray(ca_values, dtype=float)
    if ca.ndim != 1 or ca.size < 2 or not np.all(np.isfinite(ca)) or np.any(ca <= 0):
        raise InputError("ca_values must be at least two positive finite numbers")
    steps = np.diff(ca)
    if not (np.all(steps > 0) or np.all(steps < 0)):
        k = int(np.argmax(steps * np.sign(steps[0]) <= 0))
        raise InputError(f"ca_values must be strictly monotonic: c/a = {ca[k]:.4f} is followed by "
                         f"{ca[k + 1]:.4f}")
    kw = _moment_kw(hmax, collinear)
    m = start_moments(start, moment_size)
    v = 11.8 if volume is None else float(volume)
    states, energies, volumes = [], [], []
    for x in ca:
        state = bct_state(x, v, m, number)
        if volume is None:
            state, e = relax_volume(potential, state, kw)
            v = state.volume / 2
        else:
            state, e = relaxed_moments(potential, state, kw)
        m = state.moments
        states.append(state)
        energies.append(e / 2)
        volumes.append(state.volume / 2)
    return ScanResult(ca, np.array(volumes), np.array(energies),
                      np.array([s.moments for s in states]), states, volume is None,
                      start if isinstance(start, str) else "custom")


def bain_endpoints(potential, *, start="FM", volume=None, moment_size=2.2, number=26, hmax=1e-8,
                   collinear=True):
    """(bcc, fcc) bct states at ``volume`` Å³/atom (both) or each at its relaxed volume (None),
    moments relaxed from ``start`` — one start for both, or a pair (bcc start, fcc start), e.g.
    ("FM", "AFM") for a path that must change its magnetic order."""
    kw = _moment_kw(hmax, collinear)
    pair = tuple(start) if isinstance(start, (tuple, list)) and len(start) == 2 and all(
        isinstance(x, str) for x in start) else (start, start)
    out = []
    for ca, begin in zip((1.0, SQRT2), pair):
        m = start_moments(begin, moment_size)
        state = bct_state(ca, 11.8 if volume is None else volume, m, number)
        state, _ = relax_volume(potential, state, kw) if volume is None else \
            relaxed_moments(potential, state, kw)
        out.append(state)
    return tuple(out)


def bain_neb(potential, *, start="FM", volume=None, n_images=9, moment_size=2.2, number=26,
             hmax=1e-8, collinear=True, **neb_kw):
    """NEB bcc → fcc (see the module doc) → (NEBResult, c/a per image (n,), volume per atom (n,)).

    ``volume`` None: end points at their relaxed volumes, ``cell_mode="variable"``; a number:
    both end points at that volume per atom, ``cell_mode="fixed_volume"``. Other keywords go to
    :func:`.neb.neb` (k, climb, fmax, max_steps, ...)."""
    bcc, fcc = bain_endpoints(potential, start=start, volume=volume, moment_size=moment_size,
                              number=number, hmax=hmax, collinear=collinear)
    images = interpolate(bcc, fcc, n_images)
    neb_kw.setdefault("cell_mode", "variable" if volume is None else "fixed_volume")
    kw = dict(moments="relax", moment_mode="variable", collinear=collinear,
              axis=(0.0, 0.0, 1.0) if collinear else None, hmax=hmax)
    kw.update(neb_kw)
    result = neb(potential, images, **kw)
    ca = np.array([c_over_a(s) for s in result.images])
    vol = np.array([s.volume / s.n_atoms for s in result.images])
    return result, ca, vol


def compare_with_scan(result, ca, scans, switch_free=True):
    """Per-image comparison of an NEB (``result``, its c/a per image ``ca``) with scans.

    scans : one :class:`ScanResult` or {label: ScanResult} ("FM", "AFM", "NM"); with a dict each
        image is compared with the scan of its own magnetic label (result.descriptors["label"]).
    Returns a dict: index, c_over_a, neb, scan (the scan's own value where it has a point at the
    image's c/a to 1e-9, else its cubic spline), difference (eV/atom, over the compared images),
    max_abs_difference (None when c/a is not monotonic along the band), and the highest point of
    the band and of the scan of the climbing image's label (the scan's from its spline on 2001
    points). Images are compared where the scan is a valid path (module doc).
    """
    labels = result.descriptors["label"]
    if isinstance(scans, ScanResult):
        scans = {label: scans for label in set(labels)}
    n_atoms = result.images[0].n_atoms
    e = result.energies / n_atoms
    monotonic = bool(np.all(np.diff(ca) > 0))
    flagged = set()
    if switch_free:
        for sw in result.switches:
            if sw["magnetic"]:
                flagged.update(sw["between"])
    idx, ref = [], []
    for k in range(len(ca)):
        scan = scans.get(labels[k])
        if scan is None or k in flagged:
            continue
        lo, hi = float(np.min(scan.c_over_a)), float(np.max(scan.c_over_a))
        exact = np.nonzero(np.abs(scan.c_over_a - ca[k]) < 1e-9)[0]
        if exact.size:  # a scan point at this c/a: no interpolation
            idx.append(k)
            ref.append(float(scan.energy[exact[0]]))
        elif lo - 1e-9 <= ca[k] <= hi + 1e-9:
            idx.append(k)
            ref.append(float(scan.spline()(np.clip(ca[k], lo, hi))))
    diff = e[idx] - np.array(ref)
    top = int(np.argmax(e))
    out = {"valid": monotonic, "index": idx, "c_over_a": ca[idx], "neb": e[idx],
           "scan": np.array(ref), "difference": diff,
           "max_abs_difference": float(np.max(np.abs(diff), initial=0.0)) if monotonic else None,
           "neb_maximum": {"c_over_a": float(ca[top]), "energy": float(e[top]),
                           "label": labels[top]},
           "scan_maximum": None}
    scan = scans.get(labels[top])
    if scan is not None:
        fine = np.linspace(np.min(scan.c_over_a), np.max(scan.c_over_a), 2001)
        values = scan.spline()(fine)
        j = int(np.argmax(values))
        out["scan_maximum"] = {"c_over_a": float(fine[j]), "energy": float(values[j]),
                               "label": labels[top]}
    return out


__all__ = ["bct_state", "start_moments", "c_over_a", "relax_volume", "ca_scan", "ScanResult",
           "bain_endpoints", "bain_neb", "compare_with_scan", "STARTS", "SQRT2"]
