"""Magnetic anisotropy scans: energy as a function of the common spin axis, for any potential.

A collinear reference (moments m_i = s_i |m_i| n, s_i = ±1) is turned rigidly so that the axis
n points along each direction d of a grid, positions fixed:

    m_i(d) = s_i |m_i| d,        e(d) = [E(d) − E(n)] / N      (eV per atom of the cell, N atoms)

(summed per site when the potential returns per-site ``energies``, so a float32 model's large
atomic energies cancel before the sum). Without spin–orbit coupling the energy is invariant under
rotating all moments alone, so e(d) ≡ 0 and every fitted constant is zero to rounding
(:attr:`AnisotropyScan.spread` is the check; :func:`anisotropy_scan` warns when a potential that
declares ``spin_orbit = False`` is not flat).

Fitted forms (linear least squares in the constants; d is a unit vector):

* uniaxial about an axis a, cos θ = d·a (the form of
  :class:`spinlattice.potentials.UniaxialAnisotropy`):

      e(d) = e0 − K1 cos²θ − K2 cos⁴θ            (K1 > 0: easy axis)

  equivalently e0' + K1' sin²θ + K2' sin⁴θ with K1' = K1 + 2 K2, K2' = −K2 (the sin² form of
  the textbooks; both are reported).
* cubic, direction cosines α = R d in the crystal frame (rows of R = crystal axes in the lab):

      e(d) = e0 + K1 (α1²α2² + α2²α3² + α3²α1²) + K2 α1²α2²α3²
      (K1 > 0: easy ⟨100⟩; e[110] − e[100] = K1/4, e[111] − e[100] = K1/3 + K2/27)

Constants are per atom of the cell (eV/atom). The analytic on-site terms multiply powers of the
full moment, so for a one-species crystal with moments |m|: K1 = K1^term |m|², K2 = K2^term |m|⁴
(uniaxial) and K1 = K1^term |m|⁴, K2 = K2^term |m|⁶ (cubic). Uncertainties are the standard errors
of the least-squares coefficients from the residual (the residual itself measures how well the
form describes the potential: terms beyond K2, or a symmetry lower than the form's).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .exchange import collinear_axis

#: A potential without SOC whose scan varies by more than this (eV/atom) is reported.
FLAT_TOLERANCE = 1e-9


def sphere_directions(n):
    """``n`` unit vectors (n, 3) spread evenly over the sphere (Fibonacci lattice)."""
    if n < 1:
        raise ValueError("need at least one direction")
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = np.pi * (1.0 + np.sqrt(5.0)) * k
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def great_circle(start, end, n, full=False):
    """``n`` unit vectors (n, 3) from ``start`` towards ``end`` along their great circle, ending
    at ``end`` (or going all the way round, 2π, with ``full``); also returns the angles (rad)
    from ``start``."""
    a = np.asarray(start, dtype=float)
    a = a / np.linalg.norm(a)
    b = np.asarray(end, dtype=float)
    b = b - (b @ a) * a
    if np.linalg.norm(b) < 1e-12:
        raise ValueError("start and end must not be parallel")
    b = b / np.linalg.norm(b)
    stop = 2.0 * np.pi if full else np.arctan2(np.asarray(end) @ b, np.asarray(end) @ a)
    angles = np.linspace(0.0, stop, n, endpoint=not full)
    return np.cos(angles)[:, None] * a + np.sin(angles)[:, None] * b, angles


def turned_moments(state, direction):
    """Moments (N, 3) of the collinear reference turned so that its axis points along
    ``direction``: m_i = s_i |m_i| d."""
    _, signs = collinear_axis(state.moments)
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    return (signs * np.linalg.norm(state.moments, axis=1))[:, None] * d[None, :]


@dataclass
class AnisotropyScan:
    """directions : (D, 3) unit vectors; energies : (D,) e(d) eV/atom relative to the
    reference axis (module doc); n_atoms; spin_orbit : what the potential declared."""

    directions: np.ndarray
    energies: np.ndarray
    reference_axis: np.ndarray
    n_atoms: int
    spin_orbit: bool

    @property
    def spread(self) -> float:
        """max − min of e(d), eV/atom (zero for a potential without SOC)."""
        return float(np.ptp(self.energies))

    def as_dict(self):
        return {"directions": self.directions.tolist(), "energies_eV_per_atom":
                self.energies.tolist(), "reference_axis": self.reference_axis.tolist(),
                "n_atoms": self.n_atoms, "spin_orbit": self.spin_orbit, "spread": self.spread}


@dataclass
class AnisotropyFit:
    """form : "uniaxial" or "cubic"; K1, K2 and their standard errors (eV/atom); e0 (eV/atom);
    rms_residual (eV/atom); axes : the uniaxial axis (3,) or the crystal axes (3, 3);
    sin2 : (K1', K2') of the sin² form (uniaxial only)."""

    form: str
    K1: float
    K2: float
    K1_err: float
    K2_err: float
    e0: float
    rms_residual: float
    axes: np.ndarray
    n_points: int

    @property
    def sin2(self):
        if self.form != "uniaxial":
            return None
        return (self.K1 + 2.0 * self.K2, -self.K2)

    def predict(self, directions):
        """e(d) of the fitted form for directions (D, 3), eV/atom."""
        return self.e0 + _design(self.form, self.axes, directions)[:, 1:] @ np.array(
            [self.K1, self.K2])

    def as_dict(self):
        out = {"form": self.form, "K1": self.K1, "K2": self.K2, "K1_err": self.K1_err,
               "K2_err": self.K2_err, "e0": self.e0, "rms_residual": self.rms_residual,
               "axes": np.asarray(self.axes).tolist(), "n_points": self.n_points,
               "K1_ueV": 1e6 * self.K1, "K2_ueV": 1e6 * self.K2}
        if self.form == "uniaxial":
            out["K1_sin2"], out["K2_sin2"] = self.sin2
        return out


def _site_energy_fn(potential, state, site_energies):
    if site_energies:
        try:
            potential.compute(state, ("energies",))["energies"]
            return lambda s: np.asarray(potential.compute(s, ("energies",))["energies"],
                                        dtype=np.float64)
        except (KeyError, NotImplementedError, ValueError):
            pass
    return lambda s: np.array([potential.compute(s, ("energy",))["energy"]], dtype=np.float64)


def anisotropy_scan(potential, state, directions, site_energies=True):
    """e(d) (module doc) of ``potential`` for every direction (D, 3); positions fixed.

    state : periodic or finite :class:`~spinlattice.state.SpinLatticeState` with collinear
    moments (ferro-, ferri- or antiferromagnetic: the signs s_i are kept). Returns
    :class:`AnisotropyScan`. Cost: D + 1 energy evaluations.
    """
    directions = np.asarray(directions, dtype=float).reshape(-1, 3)
    norms = np.linalg.norm(directions, axis=1)
    if np.any(norms < 1e-12):
        raise ValueError("directions must be non-zero vectors")
    directions = directions / norms[:, None]
    axis, _ = collinear_axis(state.moments)
    energy = _site_energy_fn(potential, state, site_energies)
    reference = energy(state)
    values = np.array([float(np.sum(energy(state.replace(moments=turned_moments(state, d)))
                                    - reference)) for d in directions]) / state.n_atoms
    scan = AnisotropyScan(directions=directions, energies=values, reference_axis=axis,
                          n_atoms=state.n_atoms, spin_orbit=bool(potential.spin_orbit))
    if not scan.spin_orbit and scan.spread > FLAT_TOLERANCE:
        warnings.warn(f"{potential!r} declares no spin-orbit coupling but its energy changes by "
                      f"{scan.spread:.3g} eV/atom with the spin axis (broken spin-rotation "
                      "invariance)", stacklevel=2)
    return scan


def _design(form, axes, directions):
    d = np.asarray(directions, dtype=float).reshape(-1, 3)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    one = np.ones(len(d))
    if form == "uniaxial":
        c2 = (d @ np.asarray(axes, dtype=float)) ** 2
        return np.stack([one, -c2, -c2 * c2], axis=1)
    if form == "cubic":
        a2 = (d @ np.asarray(axes, dtype=float).T) ** 2
        f1 = a2[:, 0] * a2[:, 1] + a2[:, 1] * a2[:, 2] + a2[:, 2] * a2[:, 0]
        return np.stack([one, f1, a2[:, 0] * a2[:, 1] * a2[:, 2]], axis=1)
    raise ValueError(f"unknown anisotropy form {form!r}: 'uniaxial' or 'cubic'")


def _fit(form, axes, scan):
    design = _design(form, axes, scan.directions)
    if len(scan.energies) < 3:
        raise ValueError("need at least 3 directions to fit e0, K1, K2")
    rank = np.linalg.matrix_rank(design, tol=1e-10)
    if rank < 3:
        raise ValueError(f"the directions do not determine the {form} K1 and K2 (rank {rank}): "
                         "use a sphere grid or more great circles")
    coef, *_ = np.linalg.lstsq(design, scan.energies, rcond=None)
    resid = scan.energies - design @ coef
    dof = max(len(resid) - 3, 1)
    cov = float(resid @ resid) / dof * np.linalg.inv(design.T @ design)
    err = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return AnisotropyFit(form=form, K1=float(coef[1]), K2=float(coef[2]), K1_err=float(err[1]),
                         K2_err=float(err[2]), e0=float(coef[0]),
                         rms_residual=float(np.sqrt(np.mean(resid**2))),
                         axes=np.asarray(axes, dtype=float), n_points=len(resid))


def fit_uniaxial(scan, axis=(0.0, 0.0, 1.0)):
    """Fit e(d) = e0 − K1 (d·a)² − K2 (d·a)⁴ by linear least squares; :class:`AnisotropyFit`."""
    a = np.asarray(axis, dtype=float)
    return _fit("uniaxial", a / np.linalg.norm(a), scan)


def fit_cubic(scan, axes=None):
    """Fit e(d) = e0 + K1 Σ α_a²α_b² + K2 α1²α2²α3², α = R d (rows of ``axes`` = crystal axes,
    default the identity) by linear least squares; :class:`AnisotropyFit`."""
    axes = np.eye(3) if axes is None else np.asarray(axes, dtype=float)
    if axes.shape != (3, 3) or not np.allclose(axes @ axes.T, np.eye(3), atol=1e-8):
        raise ValueError("cubic axes must be an orthonormal (3, 3) matrix (rows = crystal axes)")
    return _fit("cubic", axes, scan)


def cubic_energy_differences(fit):
    """e[110] − e[100] and e[111] − e[100] (eV/atom) of a cubic fit: K1/4 and K1/3 + K2/27."""
    return {"110-100": fit.K1 / 4.0, "111-100": fit.K1 / 3.0 + fit.K2 / 27.0}


__all__ = ["sphere_directions", "great_circle", "turned_moments", "anisotropy_scan",
           "AnisotropyScan", "AnisotropyFit", "fit_uniaxial", "fit_cubic",
           "cubic_energy_differences", "FLAT_TOLERANCE"]
