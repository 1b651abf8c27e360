"""Distance-dependent pair couplings C(r) for the exchange terms (J, biquadratic K, DMI D).

Each coupling is plain data with one method, ``evaluate(zi, zj, r) -> (C (P,), dC/dr (P,))``,
for pairs of atomic numbers zi, zj at distances r (Å), plus ``cutoff`` (Å) and ``table`` (the
:class:`~.pairs.SpeciesPairTable` of the species pairs it knows; pairs without an entry couple
with C = 0). The unit of C is set by the term that uses it (eV/μB² for J and D, eV/μB⁴ for K).

* :class:`ShellTable` — one value per neighbour shell, keyed by species pair and distance (what
  TB2J / UppASD give). Flat within ±``tolerance`` of the shell distance and tapered to zero by a
  C² step over ``taper`` beyond it, so the energy stays continuous if an atom leaves its shell;
  inside the flat part dC/dr = 0 (a rigid-lattice model: it exerts no lattice forces there).
* :class:`BetheSlater` — J(r) = 4α (r/δ)² [1 − γ (r/δ)²] exp(−(r/δ)²) · S(r), a Bethe–Slater
  curve in the form used for spin-lattice dynamics by Tranchida, Plimpton, Thibaudeau & Thompson, J. Comput. Phys. 372,
  406 (2018) (LAMMPS SPIN), with the C² switch S of :func:`~.pairs.smooth_cutoff` from
  ``cutoff − taper`` to ``cutoff`` instead of a hard cutoff.
* :class:`CubicDecay` — J(r) = J₀ (1 − r/r_c)³ for r < r_c, the exchange function of the
  spin-lattice dynamics of Ma, Woo & Dudarev, Phys. Rev. B 78, 024434 (2008) (SPILADY); C² at r_c
  by construction.
"""

from __future__ import annotations

import numpy as np

from spinlattice.errors import InputError

from .pairs import SpeciesPairTable, finite_number, pair_parameter_rows, smooth_cutoff


class ShellTable:
    """Coupling per neighbour shell: {species pair: [(distance Å, value), ...]}.

    C(r) = Σ_s C_s w_s(|r − r_s|): w_s = 1 within t_s of the shell distance r_s and falls to 0
    by a C² step over a further τ_s. t_s = ``tolerance`` and τ_s = ``taper`` unless the next
    shell of the pair is closer than 2 (tolerance + taper): then both shrink in proportion so
    the window ends half way to the nearest other shell (windows never overlap, and C(r) is
    continuous everywhere). ``cutoff`` = max_s (r_s + t_s + τ_s). Distances of one pair must be
    distinct.
    """

    def __init__(self, shells, tolerance=0.05, taper=0.05):
        self.tolerance = finite_number("shell tolerance", tolerance, nonnegative=True)
        self.taper = finite_number("shell taper", taper, nonnegative=True)
        if self.tolerance + self.taper <= 0:
            raise InputError("shell tolerance + taper must be positive")
        if not isinstance(shells, dict) or not shells:
            raise InputError("ShellTable needs a non-empty dict {species pair: [(distance, value), ...]}")
        self.table = SpeciesPairTable(list(shells))
        reach = self.tolerance + self.taper
        self._distances, self._values, self._flat, self._reach = [], [], [], []
        for key, entries in shells.items():
            entries = list(entries)
            if not entries:
                raise InputError(f"no shells given for pair {key!r}")
            rows = []
            for entry in entries:
                if len(entry) != 2:
                    raise InputError(f"shell of {key!r} must be (distance, value), got {entry!r}")
                rows.append((finite_number(f"shell distance of {key!r}", entry[0], positive=True),
                             finite_number(f"shell value of {key!r}", entry[1])))
            rows.sort()
            d = np.array([r[0] for r in rows])
            gaps = np.diff(d)
            if np.any(gaps <= 1e-6):
                k = int(np.argmin(gaps))
                raise InputError(f"two shells of {key!r} at the same distance {d[k]:.6f} Å")
            half_gap = np.minimum(np.append(gaps, np.inf), np.insert(gaps, 0, np.inf)) / 2
            scale = np.minimum(1.0, half_gap / reach)
            self._distances.append(d)
            self._values.append(np.array([r[1] for r in rows]))
            self._flat.append(self.tolerance * scale)
            self._reach.append(reach * scale)
        self.cutoff = max(float(np.max(d + w)) for d, w in zip(self._distances, self._reach))

    def shells(self):
        """{(Z1, Z2): [(distance, value), ...]} with atomic-number keys."""
        return {pair: list(zip(d.tolist(), v.tolist()))
                for pair, d, v in zip(self.table.pairs, self._distances, self._values)}

    def evaluate(self, zi, zj, r):
        rows = self.table.rows(zi, zj)
        value, deriv = np.zeros_like(r), np.zeros_like(r)
        for row, (d, v, flat, reach) in enumerate(
                zip(self._distances, self._values, self._flat, self._reach)):
            sel = np.nonzero(rows == row)[0]
            if sel.size == 0:
                continue
            rs = r[sel]
            k = np.searchsorted(d, rs)
            lower = np.maximum(k - 1, 0)
            upper = np.minimum(k, len(d) - 1)
            nearest = np.where(np.abs(rs - d[lower]) <= np.abs(rs - d[upper]), lower, upper)
            offset = rs - d[nearest]
            w, dw = smooth_cutoff(np.abs(offset), flat[nearest], reach[nearest])
            value[sel] = v[nearest] * w
            deriv[sel] = v[nearest] * dw * np.sign(offset)
        return value, deriv

    def __repr__(self):
        n = sum(len(d) for d in self._distances)
        return (f"ShellTable(pairs={self.table.describe()}, shells={n}, "
                f"tolerance={self.tolerance}, taper={self.taper}, cutoff={self.cutoff:.3f})")


class BetheSlater:
    """J(r) = 4α (r/δ)² [1 − γ (r/δ)²] exp(−(r/δ)²) · S(r).

    parameters : {species pair or "*": (α, γ, δ)}; α in the coupling's unit, γ dimensionless,
        δ > 0 in Å. cutoff : Å; taper : width (Å) of the C² switch S ending at ``cutoff``.
    """

    def __init__(self, parameters, cutoff, taper=0.5):
        self.table, self._p = pair_parameter_rows(parameters, ("alpha", "gamma", "delta"), "BetheSlater")
        if np.any(self._p[:, 2] <= 0):
            raise InputError(f"BetheSlater delta must be positive, got {self._p[:, 2].tolist()}")
        self.cutoff = finite_number("BetheSlater cutoff", cutoff, positive=True)
        self.taper = finite_number("BetheSlater taper", taper, nonnegative=True)
        if self.taper > self.cutoff:
            raise InputError(f"taper {self.taper} is longer than the cutoff {self.cutoff}")
        self.parameters = parameters

    def evaluate(self, zi, zj, r):
        rows = self.table.rows(zi, zj)
        known = rows >= 0
        alpha, gamma, delta = (np.where(known, self._p[rows, k], v) for k, v in ((0, 0.0), (1, 0.0), (2, 1.0)))
        x = r / delta
        gauss = np.exp(-x * x)
        f = 4.0 * alpha * x * x * (1.0 - gamma * x * x) * gauss
        df = 4.0 * alpha * gauss * (2.0 * x - (4.0 * gamma + 2.0) * x**3 + 2.0 * gamma * x**5) / delta
        s, ds = smooth_cutoff(r, self.cutoff - self.taper, self.cutoff)
        return f * s, df * s + f * ds

    def __repr__(self):
        return f"BetheSlater({self.parameters!r}, cutoff={self.cutoff}, taper={self.taper})"


class CubicDecay:
    """J(r) = J₀ (1 − r/r_c)³ for r < r_c, 0 beyond.

    parameters : {species pair or "*": (J₀, r_c)}; r_c > 0 in Å. ``cutoff`` = largest r_c.
    """

    def __init__(self, parameters):
        self.table, self._p = pair_parameter_rows(parameters, ("j0", "r_c"), "CubicDecay")
        if np.any(self._p[:, 1] <= 0):
            raise InputError(f"CubicDecay r_c must be positive, got {self._p[:, 1].tolist()}")
        self.cutoff = float(self._p[:, 1].max())
        self.parameters = parameters

    def evaluate(self, zi, zj, r):
        rows = self.table.rows(zi, zj)
        known = rows >= 0
        j0 = np.where(known, self._p[rows, 0], 0.0)
        rc = np.where(known, self._p[rows, 1], 1.0)
        x = np.clip(1.0 - r / rc, 0.0, None)
        return j0 * x**3, -3.0 * j0 * x**2 / rc

    def __repr__(self):
        return f"CubicDecay({self.parameters!r})"


__all__ = ["ShellTable", "BetheSlater", "CubicDecay"]
