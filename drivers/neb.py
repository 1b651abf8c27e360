"""Nudged elastic band with the cell as a path coordinate (solid-state NEB) and relaxed moments.

Coordinates
-----------
Every image is a :class:`~spinlattice.state.SpinLatticeState`. The band moves in one Euclidean
space of M rows of 3 (the same for every image):

* ``cell_mode="variable"`` (solid-state NEB; Sheppard, Xiao, Chemelewski, Johnson & Henkelman,
  J. Chem. Phys. 136, 074103 (2012)): with the reference cell h₀ (rows; the first image's cell)
  and the deformation gradient F of image k, h_k = h₀ Fᵀ, the coordinates are
  the N reference-frame positions r̃_i = F⁻¹ r_i (Å) and the 3 rows of J (F − 1), with
  J = V₀^{1/3} N^{1/6} (V₀ = det h₀): the cell rows have units of length, and their stiffness
  V C/J² = C (V/N)^{1/3} (C an elastic constant) is intensive, of the order of an interatomic
  force constant (≈ 2–3 eV/Å² for Fe), whatever the size of the cell.
  The generalised forces are exact derivatives of the enthalpy H = E + pV:

      f̃_i = Fᵀ f_i                      (row form f_i F; f = −∂E/∂r, eV/Å)
      f̃_cell = −V (σ + p1) F⁻ᵀ / J      (σ = stress, ASE sign (1/V) ∂E/∂ε, eV/Å³)

  (the construction of ASE's UnitCellFilter with cell_factor = J; Tadmor et al., Phys. Rev. B 59,
  235 (1999)). Sheppard et al. measure the cell step of each spring by the strain between the two
  neighbouring images; with one reference cell for the whole band the two agree to first order in
  that strain, and the band is an ordinary NEB in a fixed space with exact forces.
* ``cell_mode="fixed_volume"``: as "variable", with the cell force projected onto the tangent
  plane of det F = const (normal F⁻ᵀ) and the volume restored after every step (F scaled by
  (V_k/det h)^{1/3}): the Bain path "at the volume the user chooses".
* ``cell_mode="fixed"``: ordinary NEB, coordinates = Cartesian positions, spring vectors by the
  minimum-image convention (ase.geometry.find_mic) — term by term ASE's ``NEB`` with
  ``method="improvedtangent"``.

Forces on the band (Henkelman & Jónsson, J. Chem. Phys. 113, 9978 (2000), Eqs. 8–12; climbing
image: Henkelman, Uberuaga & Jónsson, J. Chem. Phys. 113, 9901 (2000), Eq. 5): with t_k the
spring vector x_{k+1} − x_k, the improved tangent τ_k (t_k uphill, t_{k−1} downhill, energy-
weighted mixture at extrema, normalised),

    F_k^NEB = f̃_k − (f̃_k·τ_k) τ_k + (κ_k |t_k| − κ_{k−1} |t_{k−1}|) τ_k
    F_imax^CI = f̃ − 2 (f̃·τ) τ                  (climbing image: no springs)

Convergence: max over intermediate images and rows of |F^NEB| ≤ ``fmax`` (eV/Å; cell rows
included), with the climbing image active when ``climb`` is set. Optimiser: FIRE (Bitzek,
Bitzek, Koskinen, Gähler, Moseler & Gumbsch, Phys. Rev. Lett. 97, 170201 (2006)) on all images at
once, with a largest step per row ``max_step`` (Å).

Moments
-------
``moments="relax"`` (default): at every force evaluation of every image the moments are
minimised at fixed positions and cell by :func:`.minimise.minimise_moments` (variable length
unless ``moment_mode="fixed"``), warm-started from that image's moments of the previous
evaluation, to the residual ``hmax``. The band then lives on the Born–Oppenheimer-like surface
E*(R, h) = min_m E(R, h, m), whose forces and stress are those of E at the relaxed moments
(envelope theorem, error O(hmax)). Warm starts follow one branch of magnetic states, which
makes the band hysteretic where two branches cross; so when a neighbouring image's moments differ
from an image's relaxed moments by more than ``restart_threshold`` (μB, at any site) the image is
also relaxed from the neighbour's moments and the lower energy kept: the band then follows the
lower envelope of the branches, and a switch sits between the two images where they cross.
``moments="frozen"``: moments held as given (the ASE check). ``moments="coordinates"``: the
moments are N more rows w m of the band (w = ``moment_weight``, Å/μB; generalised force h/w), so
the band finds the minimum energy path in the joint space of lattice and moments; its saddle is
the relaxed-moments saddle (h = 0 there), the images in between differ with the metric w. No
valid-range wall is applied to the moments in this mode.
The end points' moments are relaxed once at the start (``moments="relax"``).
Magnetic descriptors per image and the detection of magnetic-state switches between neighbours
are in :mod:`.magpath`.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field

import numpy as np
from ase.geometry import find_mic

from spinlattice.errors import InputError
from spinlattice.properties import ENERGY, FORCES, MAGNETIC_FORCES, STRESS

from .magpath import magnetic_descriptors, detect_switches, tangential_derivatives
from .minimise import minimise_moments

CELL_MODES = ("variable", "fixed_volume", "fixed")
MOMENT_MODES = ("relax", "frozen", "coordinates")


# --- input checks ------------------------------------------------------------------------------

def check_images(images, cell_mode="variable"):
    """Raise :class:`InputError` unless ``images`` (≥ 3 states) share atom count, species order
    and periodicity (and, for ``cell_mode="fixed"``, the cell)."""
    images = list(images)
    if cell_mode not in CELL_MODES:
        raise InputError(f"cell_mode must be one of {CELL_MODES}, got {cell_mode!r}")
    if len(images) < 3:
        raise InputError(f"an NEB needs at least 3 images (2 end points + 1), got {len(images)}")
    first = images[0]
    for k, im in enumerate(images[1:], 1):
        if im.n_atoms != first.n_atoms:
            raise InputError(f"image {k} has {im.n_atoms} atoms, image 0 has {first.n_atoms}: all "
                             f"images must hold the same atoms in the same order")
        if not np.array_equal(im.numbers, first.numbers):
            bad = int(np.argmax(im.numbers != first.numbers))
            raise InputError(f"image {k} has species Z = {im.numbers[bad]} at atom {bad} where "
                             f"image 0 has Z = {first.numbers[bad]}: images must list the same "
                             f"species in the same order")
        if not np.array_equal(im.pbc, first.pbc):
            raise InputError(f"image {k} has pbc {im.pbc.tolist()}, image 0 {first.pbc.tolist()}")
        if cell_mode == "fixed" and not np.allclose(im.cell, first.cell, rtol=0, atol=1e-10):
            raise InputError(f"image {k} has a different cell: cell_mode='fixed' needs one cell "
                             f"(use cell_mode='variable' for a cell-changing path)")
    if cell_mode != "fixed" and not np.all(first.pbc):
        raise InputError("a variable-cell NEB needs a cell periodic in all three directions")
    return images


# --- coordinates -------------------------------------------------------------------------------

@dataclass
class BandSpace:
    """The coordinate space of a band (see the module doc).

    cell_mode : "variable" | "fixed_volume" | "fixed"
    reference_cell : (3, 3) h₀, Å (rows); pbc : (3,)
    cell_weight : J (Å), 0 in fixed mode; n_atoms : N
    moment_weight : w (Å/μB) of N moment rows w m appended after the lattice rows
        (``moments="coordinates"``), 0 = none
    """

    cell_mode: str
    reference_cell: np.ndarray
    pbc: np.ndarray
    cell_weight: float
    n_atoms: int
    moment_weight: float = 0.0

    @classmethod
    def for_images(cls, images, cell_mode="variable", cell_weight=None, moment_weight=0.0):
        first = images[0]
        if cell_mode == "fixed":
            weight = 0.0
        elif cell_weight is None:
            weight = first.volume ** (1 / 3) * first.n_atoms ** (1 / 6)
        else:
            weight = float(cell_weight)
            if not weight > 0:
                raise InputError(f"cell_weight must be positive, got {cell_weight}")
        return cls(cell_mode, first.cell.copy(), first.pbc.copy(), weight, first.n_atoms,
                   float(moment_weight))

    @property
    def variable(self):
        return self.cell_mode != "fixed"

    @property
    def n_lattice(self):
        """Number of lattice rows (atoms, plus 3 cell rows in the variable modes)."""
        return self.n_atoms + 3 * self.variable

    def deformation(self, cell):
        """F with cell = h₀ Fᵀ (rows)."""
        return np.linalg.solve(self.reference_cell, cell).T

    def to_x(self, state):
        """(M, 3) coordinates of ``state``: positions, or r̃ (N rows) + J (F − 1) (3 rows);
        then w m (N rows) when the moments are coordinates."""
        rows = [state.positions.copy()]
        if self.variable:
            F = self.deformation(state.cell)
            rows = [state.positions @ np.linalg.inv(F).T, self.cell_weight * (F - np.eye(3))]
        if self.moment_weight:
            rows.append(self.moment_weight * state.moments)
        return np.vstack(rows)

    def split(self, x):
        """(positions-like rows, F) of coordinates ``x``."""
        if not self.variable:
            return x[:self.n_atoms], np.eye(3)
        return x[:self.n_atoms], np.eye(3) + x[self.n_atoms:self.n_lattice] / self.cell_weight

    def to_state(self, x, template):
        """``template`` with the positions, cell (and moments, if coordinates) of ``x``."""
        r, F = self.split(x)
        extra = {"moments": x[self.n_lattice:] / self.moment_weight} if self.moment_weight else {}
        if not self.variable:
            return template.replace(positions=r.copy(), **extra)
        return template.replace(positions=r @ F.T, cell=self.reference_cell @ F.T, **extra)

    def forces(self, x, forces, stress, volume, pressure=0.0, h=None):
        """Generalised forces (M, 3): f F for atoms, −V (σ + p1) F⁻ᵀ / J for the cell rows,
        h / w for moment rows (h = −∂E/∂m, eV/μB)."""
        rows = [np.array(forces, dtype=float)]
        if self.variable:
            _, F = self.split(x)
            cell = -volume * (stress + pressure * np.eye(3)) @ np.linalg.inv(F).T / self.cell_weight
            if self.cell_mode == "fixed_volume":
                cell = self.project_volume(x, cell)
            rows = [forces @ F, cell]
        if self.moment_weight:
            rows.append(np.asarray(h, dtype=float) / self.moment_weight)
        return np.vstack(rows)

    def project_volume(self, x, cell_rows):
        """Remove from cell rows (3, 3) the component along ∂ det F/∂F ∝ F⁻ᵀ."""
        _, F = self.split(x)
        n = np.linalg.inv(F).T
        n /= np.linalg.norm(n)
        return cell_rows - np.sum(cell_rows * n) * n

    def restore_volume(self, x, volume):
        """x with F scaled so that det(h₀ Fᵀ) = ``volume`` (fixed_volume mode)."""
        r, F = self.split(x)
        F = F * (volume / abs(np.linalg.det(self.reference_cell @ F.T))) ** (1 / 3)
        return np.vstack([r, self.cell_weight * (F - np.eye(3)), x[self.n_lattice:]])

    def displacement(self, x1, x2):
        """x2 − x1 with the atom rows by the minimum-image convention in the reference cell."""
        d = np.array(x2 - x1, dtype=float)
        if self.pbc.any():
            d[:self.n_atoms] = find_mic(d[:self.n_atoms], self.reference_cell, self.pbc)[0]
        return d


def check_path(space, xs):
    """Raise :class:`InputError` unless the images progress monotonically from the first to the
    last: λ_k = (x_k − x₀)·(x_n − x₀)/|x_n − x₀|² strictly increasing, neighbours distinct."""
    total = sum((space.displacement(xs[k], xs[k + 1]) for k in range(len(xs) - 1)))
    span = float(np.sum(total * total))
    steps = [float(np.linalg.norm(space.displacement(xs[k], xs[k + 1]))) for k in range(len(xs) - 1)]
    if span < 1e-20:
        raise InputError("the first and last images coincide: nothing to connect")
    for k, s in enumerate(steps):
        if s < 1e-8:
            raise InputError(f"images {k} and {k + 1} coincide (distance {s:.1e}): a path needs "
                             f"distinct images")
    lam, run = [0.0], np.zeros_like(total)
    for k in range(len(xs) - 1):
        run = run + space.displacement(xs[k], xs[k + 1])
        lam.append(float(np.sum(run * total)) / span)
    lam = np.array(lam)
    back = np.nonzero(np.diff(lam) <= 0)[0]
    if back.size:
        k = int(back[0])
        raise InputError(f"the path is not monotonic: image {k + 1} (progress {lam[k + 1]:.3f}) "
                         f"does not lie beyond image {k} (progress {lam[k]:.3f}) along the line "
                         f"from the first to the last image; order the images along the path")
    return lam


# --- interpolation -----------------------------------------------------------------------------

def interpolate(initial, final, n_images):
    """``n_images`` states (end points included) from ``initial`` to ``final``: cell rows and
    scaled positions s (fractional; the difference taken as the nearest image, s₁ − s₀ − round(·)
    along periodic directions) and moments linear in t = k/(n_images − 1)."""
    check_images([initial, final, final], cell_mode="variable" if np.all(initial.pbc) else "fixed")
    if int(n_images) != n_images or n_images < 3:
        raise InputError(f"n_images must be an integer ≥ 3, got {n_images!r}")
    s0 = np.linalg.solve(initial.cell.T, initial.positions.T).T
    s1 = np.linalg.solve(final.cell.T, final.positions.T).T
    ds = s1 - s0
    ds[:, initial.pbc] -= np.round(ds[:, initial.pbc])
    out = []
    for t in np.linspace(0.0, 1.0, int(n_images)):
        cell = (1 - t) * initial.cell + t * final.cell
        out.append(initial.replace(positions=(s0 + t * ds) @ cell, cell=cell,
                                   moments=(1 - t) * initial.moments + t * final.moments))
    out[0], out[-1] = initial.copy(), final.copy()
    return out


# --- forces on the band ------------------------------------------------------------------------

def improved_tangent(t_prev, t_next, e_prev, e, e_next):
    """τ of Henkelman & Jónsson (2000), Eqs. 8–11, normalised (ASE's order of operations)."""
    if e_next > e > e_prev:
        tangent = t_next.copy()
    elif e_next < e < e_prev:
        tangent = t_prev.copy()
    else:
        big = max(abs(e_next - e), abs(e_prev - e))
        small = min(abs(e_next - e), abs(e_prev - e))
        tangent = t_next * big + t_prev * small if e_next > e_prev else t_next * small + t_prev * big
    norm = np.linalg.norm(tangent)
    tangent /= norm if norm > 0 else 1.0
    return tangent


def project_forces(springs, energies, forces, k, climb_index=None):
    """NEB forces (n − 2, M, 3) and tangents from spring vectors ``springs`` (n − 1, M, 3),
    ``energies`` (n,), true forces of the intermediate images ``forces`` (n − 2, M, 3), spring
    constants ``k`` (n − 1,) eV/Å², and the climbing image index (1..n − 2) or None."""
    n = len(energies)
    out = np.empty_like(forces)
    tangents = np.empty_like(forces)
    for i in range(1, n - 1):
        t1, t2 = springs[i - 1], springs[i]
        tau = improved_tangent(t1, t2, energies[i - 1], energies[i], energies[i + 1])
        f = forces[i - 1]
        ft = np.vdot(f, tau)
        if climb_index == i:
            out[i - 1] = f - 2.0 * ft * tau
        else:
            out[i - 1] = f - ft * tau + (np.linalg.norm(t2) * k[i] - np.linalg.norm(t1) * k[i - 1]) * tau
        tangents[i - 1] = tau
    return out, tangents


def max_row_norm(f):
    return float(np.max(np.linalg.norm(f.reshape(-1, 3), axis=1), initial=0.0))


# --- the band ----------------------------------------------------------------------------------

@dataclass
class BandEvaluation:
    """One evaluation of the band: ``states`` (n), ``energies`` (n,) eV, generalised true forces
    ``forces`` (n, M, 3) (end points included), NEB forces ``neb_forces`` (n − 2, M, 3),
    ``tangents`` (n − 2, M, 3), ``springs`` (n − 1, M, 3), ``climb_index`` or None,
    ``moment_steps`` (n,) minimiser iterations of this evaluation."""

    states: list
    energies: np.ndarray
    forces: np.ndarray
    neb_forces: np.ndarray
    tangents: np.ndarray
    springs: np.ndarray
    climb_index: int | None
    moment_steps: np.ndarray


class Band:
    """Images, coordinates and the force evaluation of an NEB (plain container; see :func:`neb`)."""

    def __init__(self, potential, images, *, k=0.1, cell_mode="variable", cell_weight=None,
                 moments="relax", moment_mode="variable", collinear=False, axis=None, hmax=1e-6,
                 moment_steps=500, pressure=0.0, restart_threshold=0.25, moment_weight=1.0,
                 check_monotonic=True):
        images = check_images(images, cell_mode)
        if moments not in MOMENT_MODES:
            raise InputError(f"moments must be one of {MOMENT_MODES}, got {moments!r}")
        n = len(images)
        k = np.broadcast_to(np.asarray(k, dtype=float), (n - 1,)).copy() if np.ndim(k) == 0 else \
            np.asarray(k, dtype=float)
        if k.shape != (n - 1,) or not np.all(k > 0):
            raise InputError(f"k must be a positive number or {n - 1} positive numbers, got {k}")
        self.potential, self.k, self.pressure = potential, k, float(pressure)
        self.space = BandSpace.for_images(images, cell_mode, cell_weight,
                                          moment_weight if moments == "coordinates" else 0.0)
        self.moments, self.moment_kw = moments, dict(mode=moment_mode, collinear=collinear,
                                                     axis=axis, tol=float(hmax),
                                                     max_steps=int(moment_steps))
        self.states = [im.copy() for im in images]
        self.x = np.array([self.space.to_x(s) for s in self.states])
        self.volumes = np.array([s.volume for s in self.states])
        if cell_mode == "fixed_volume":  # volumes linear in the image index between the ends
            self.volumes = np.linspace(self.volumes[0], self.volumes[-1], n)
            self.x = self.step_to(self.x)
        if check_monotonic:
            check_path(self.space, self.x)
        self.evaluations = 0
        self.restarts = 0
        self.restart_threshold = None if restart_threshold is None else float(restart_threshold)
        self._end = [None, None]
        self.moment_unconverged = 0

    def _relax(self, state):
        res = minimise_moments(self.potential, state, **self.moment_kw)
        self.moment_unconverged += 0 if res.converged else 1
        return res

    def _image(self, k, x):
        """Energy, generalised force and relaxed state of image k at coordinates x."""
        state = self.space.to_state(x, self.states[k])
        steps = 0
        if self.moments == "relax":
            res = self._relax(state)
            if self.restart_threshold is not None and 0 < k < len(self.states) - 1:
                for j in (k - 1, k + 1):  # lower branch check near a magnetic switch
                    other = self.states[j].moments
                    if np.max(np.linalg.norm(other - res.state.moments, axis=1)) > self.restart_threshold:
                        alt = self._relax(state.replace(moments=other))
                        self.restarts += 1
                        if alt.energy < res.energy - 1e-12:
                            res = alt
            state, steps = res.state, res.steps
        props = (ENERGY, FORCES) + (STRESS,) * self.space.variable + \
            (MAGNETIC_FORCES,) * (self.moments == "coordinates")
        out = self.potential.compute(state, props)
        self.evaluations += 1
        energy = float(out[ENERGY]) + self.pressure * state.volume * self.space.variable
        f = self.space.forces(x, np.asarray(out[FORCES]), np.asarray(out.get(STRESS, np.zeros((3, 3)))),
                              state.volume, self.pressure, out.get(MAGNETIC_FORCES))
        return state, energy, f, steps

    def evaluate(self, x=None, climb=False):
        """Evaluate all images at coordinates ``x`` (n, M, 3) (default: current) → BandEvaluation;
        updates the stored states (warm start of the next moment relaxation)."""
        x = self.x if x is None else x
        n = len(x)
        energies, forces, steps = np.empty(n), np.empty_like(x), np.zeros(n, dtype=int)
        for k in range(n):
            if k in (0, n - 1) and self._end[k != 0] is not None:
                self.states[k], energies[k], forces[k], steps[k] = self._end[k != 0]
                continue
            self.states[k], energies[k], forces[k], steps[k] = self._image(k, x[k])
            if k in (0, n - 1):
                self._end[k != 0] = (self.states[k], energies[k], forces[k], 0)
        springs = np.array([self.space.displacement(x[k], x[k + 1]) for k in range(n - 1)])
        imax = 1 + int(np.argmax(energies[1:-1])) if climb else None
        neb_f, tangents = project_forces(springs, energies, forces[1:-1], self.k, imax)
        if self.space.cell_mode == "fixed_volume":
            a, b = self.space.n_atoms, self.space.n_lattice
            for j in range(n - 2):
                neb_f[j, a:b] = self.space.project_volume(x[j + 1], neb_f[j, a:b])
        self.x = np.array(x)
        return BandEvaluation(list(self.states), energies, forces, neb_f, tangents, springs, imax,
                              steps)

    def step_to(self, x):
        """Coordinates after a step, with the fixed_volume retraction applied (end points kept)."""
        if self.space.cell_mode == "fixed_volume":
            x = np.array([xk if k in (0, len(x) - 1) else self.space.restore_volume(xk, v)
                          for k, (xk, v) in enumerate(zip(x, self.volumes))])
        return x


def neb_forces(potential, images, k=0.1, climb=False, cell_mode="fixed", moments="frozen", **kw):
    """One evaluation of the band of ``images`` → :class:`BandEvaluation` (no optimisation)."""
    band = Band(potential, images, k=k, cell_mode=cell_mode, moments=moments, **kw)
    return band.evaluate(climb=climb)


# --- optimiser and driver ----------------------------------------------------------------------

@dataclass
class NEBResult:
    """Outcome of :func:`neb`.

    images : list of n states (relaxed moments); energies : (n,) eV (enthalpy E + pV when a
    pressure is set); relative : energies − energies[0], eV
    path : (n,) cumulative generalised distance along the band, Å
    derivatives : (n,) dE/ds along the tangent from the true forces, eV/Å
    max_force : final max |F^NEB| (eV/Å); converged; steps; evaluations (image force calls)
    climb_index : climbing image or None; barrier : max E − E₀ (eV); reaction_energy : E_n − E₀
    moments : (n, N, 3) μB; descriptors : per-image magnetic descriptors (dict of (n,) arrays)
    switches : list of dicts, one per neighbour pair flagged by :func:`.magpath.detect_switches`
    history : max force per step; message : why it stopped
    """

    images: list
    energies: np.ndarray
    relative: np.ndarray
    path: np.ndarray
    derivatives: np.ndarray
    max_force: float
    converged: bool
    steps: int
    evaluations: int
    climb_index: int | None
    barrier: float
    reaction_energy: float
    moments: np.ndarray
    descriptors: dict
    switches: list
    message: str
    history: np.ndarray = dc_field(repr=False, default=None)

    def summary(self) -> str:
        magnetic = sum(s["magnetic"] for s in self.switches)
        return (f"NEB {'converged' if self.converged else 'NOT converged'} after {self.steps} "
                f"steps ({self.evaluations} image evaluations): max|F| = {self.max_force:.2e} "
                f"eV/Å, barrier {self.barrier:.6f} eV, reaction energy {self.reaction_energy:.6f} "
                f"eV, climbing image {self.climb_index}, {magnetic} magnetic switch(es), "
                f"{len(self.switches) - magnetic} energy cusp(s) only ({self.message})")


def fire(band, *, fmax, max_steps, climb, climb_fmax, max_step, dt=0.1, dt_max=1.0, n_min=5,
         f_inc=1.1, f_dec=0.5, a_start=0.1, f_a=0.99, callback=None):
    """FIRE on the intermediate images (Bitzek et al. 2006; ASE's default parameters)."""
    dt_start = dt
    ev = band.evaluate(climb=False)
    climbing = climb and max_row_norm(ev.neb_forces) < climb_fmax
    if climbing:
        ev = band.evaluate(climb=True)
    v = np.zeros_like(ev.neb_forces)
    a, n_pos, steps, history = a_start, 0, 0, []
    message = f"reached max_steps = {max_steps}"
    while True:
        f = ev.neb_forces
        fm = max_row_norm(f)
        history.append(fm)
        if callback is not None:
            callback(steps, ev, fm)
        if fm <= fmax and (climbing or not climb):
            message = "max NEB force below fmax"
            break
        if climb and not climbing and fm < climb_fmax:
            climbing, v, a, n_pos, dt = True, np.zeros_like(v), a_start, 0, dt_start
            ev = band.evaluate(climb=True)
            continue
        if steps >= max_steps:
            break
        vf = np.vdot(f, v)
        if vf > 0:
            v = (1 - a) * v + a * f / np.linalg.norm(f) * np.linalg.norm(v)
            if n_pos > n_min:
                dt, a = min(dt * f_inc, dt_max), a * f_a
            n_pos += 1
        else:
            v[:], a, dt, n_pos = 0.0, a_start, dt * f_dec, 0
        v = v + dt * f
        dr = dt * v
        big = max_row_norm(dr)
        if big > max_step:
            dr *= max_step / big
        x = band.x.copy()
        x[1:-1] += dr
        x = band.step_to(x)
        ev = band.evaluate(x, climb=climbing)
        steps += 1
    return ev, fm, fm <= fmax and (climbing or not climb), steps, message, np.array(history)


def neb(potential, images, *, k=0.1, climb=True, fmax=0.01, max_steps=1000, climb_fmax=0.1,
        max_step=0.1, cell_mode="variable", cell_weight=None, moments="relax",
        moment_mode="variable", collinear=False, axis=None, hmax=1e-6, moment_steps=500,
        pressure=0.0, restart_threshold=0.25, moment_weight=1.0, moment_jump=0.25, cusp_tol=None,
        sublattice=None, dt=0.1, dt_max=1.0, callback=None) -> NEBResult:
    """Relax the band through ``images`` (list of ≥ 3 states, end points fixed).

    potential : any Potential (energy, forces, magnetic_forces; stress unless cell_mode="fixed")
    k : spring constant(s), eV/Å² (scalar or n − 1 values)
    climb : climbing image once max|F^NEB| < ``climb_fmax``; fmax : convergence, eV/Å
    max_step : largest move of one coordinate row per FIRE step, Å; dt, dt_max : FIRE's initial
        and largest time step (stable for dt < 2/√λ_max of the stiffest mode, units eV, Å)
    cell_mode : "variable" (solid-state NEB), "fixed_volume", "fixed" (ordinary NEB)
    cell_weight : J (Å), default V₀^{1/3} N^{1/6}; pressure : eV/Å³ (enthalpy E + pV)
    moments : "relax" (minimised at every force call, warm-started), "frozen" or "coordinates"
        (moment rows of weight ``moment_weight`` Å/μB in the band)
    moment_mode, collinear, axis, hmax, moment_steps : passed to :func:`.minimise.minimise_moments`
    restart_threshold : μB; relax also from a neighbour's moments when they differ by more
        (lower-branch check, module doc); None: never
    moment_jump (μB), cusp_tol (eV, default 5e-3 × N), sublattice ((N,) ±1 or None) : switch
        detection, see :func:`.magpath.detect_switches`
    callback : callable(step, BandEvaluation, max_force) after every evaluation

    Raises :class:`InputError` for images with different atoms or species, a non-monotonic or
    degenerate initial path, or bad options. Returns :class:`NEBResult`.
    """
    for name, value in (("fmax", fmax), ("max_step", max_step), ("climb_fmax", climb_fmax)):
        if not float(value) > 0:
            raise InputError(f"{name} must be positive, got {value}")
    band = Band(potential, images, k=k, cell_mode=cell_mode, cell_weight=cell_weight,
                moments=moments, moment_mode=moment_mode, collinear=collinear, axis=axis,
                hmax=hmax, moment_steps=moment_steps, pressure=pressure,
                restart_threshold=restart_threshold, moment_weight=moment_weight)
    ev, fm, converged, steps, message, history = fire(
        band, fmax=float(fmax), max_steps=int(max_steps), climb=bool(climb),
        climb_fmax=float(climb_fmax), max_step=float(max_step), dt=float(dt),
        dt_max=float(dt_max), callback=callback)
    return summarise(band, ev, fm, converged, steps, message, history, moment_jump=moment_jump,
                     cusp_tol=cusp_tol, sublattice=sublattice)


def summarise(band, ev, fm, converged, steps, message, history, *, moment_jump=0.25,
              cusp_tol=None, sublattice=None) -> NEBResult:
    """Build the :class:`NEBResult` of a band evaluation (path, derivatives, magnetism)."""
    lengths = np.linalg.norm(ev.springs.reshape(len(ev.springs), -1), axis=1)
    path = np.concatenate([[0.0], np.cumsum(lengths)])
    derivatives = tangential_derivatives(ev.springs, ev.tangents, ev.forces)
    moments = np.array([s.moments for s in ev.states])
    desc = magnetic_descriptors(moments, sublattice)
    n_atoms = ev.states[0].n_atoms
    switches = detect_switches(ev.energies, path, derivatives, moments, desc,
                               moment_jump=moment_jump,
                               cusp_tol=5e-3 * n_atoms if cusp_tol is None else cusp_tol)
    if band.restarts:
        message += f"; {band.restarts} lower-branch checks from neighbouring moments"
    if band.moment_unconverged:
        message += f"; {band.moment_unconverged} moment relaxations did not converge"
    e = ev.energies
    return NEBResult(images=ev.states, energies=e.copy(), relative=e - e[0], path=path,
                     derivatives=derivatives, max_force=fm, converged=bool(converged),
                     steps=steps, evaluations=band.evaluations, climb_index=ev.climb_index,
                     barrier=float(np.max(e) - e[0]), reaction_energy=float(e[-1] - e[0]),
                     moments=moments, descriptors=desc, switches=switches, message=message,
                     history=history)


__all__ = ["neb", "NEBResult", "Band", "BandSpace", "BandEvaluation", "neb_forces",
           "interpolate", "check_images", "check_path", "project_forces", "improved_tangent",
           "CELL_MODES", "MOMENT_MODES"]
