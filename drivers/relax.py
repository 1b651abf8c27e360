"""Joint relaxation of positions, cell and moments: minimise H = E(R, cell, m) + pV.

Degrees of freedom (rows of 3, flattened into one vector x):

* positions in the reference frame s_i, with r_i = F s_i (row form r = s Fᵀ), N rows;
* the deformation gradient F of the cell relative to the start cell, cell = cell₀ Fᵀ, stored as
  c_F · F (3 rows; c_F = ``cell_factor``, default N, as ASE's UnitCellFilter);
* the free moments, n rows: m = c_m x (variable length) or m = L x/|x| (fixed length, L = |m⁰|),
  c_m = ``moment_scale``.

Gradient (E at fixed s is a function of F through r and the cell):

    ∂H/∂s_i = −Fᵀ f_i            (f = forces, eV/Å)
    ∂H/∂F   = V (σ + p 1) F⁻ᵀ    (σ = stress, ASE sign (1/V)∂E/∂ε, eV/Å³; p = pressure)
    ∂H/∂x   = −c_m h             (variable), −(L/|x|) P_⊥(x)(h)   (fixed length)

(the same construction as ASE's UnitCellFilter; Tadmor et al., Phys. Rev. B 59, 235 (1999)).

Convergence is judged on the physical residuals together, each against its own tolerance:
max |f_i| ≤ fmax (eV/Å), max |σ + p1|_ab ≤ smax (eV/Å³), and the moment residual ≤ hmax
(max |h| in eV/μB for variable length, max |m × h| in eV for fixed length).

Optimisers: ``optimizer="lbfgs"`` (default) uses the L-BFGS of :mod:`.minimise` with a block
initial Hessian (separate scalars for positions, cell and moments, which have unrelated
stiffnesses); or pass an ASE optimiser class (``ase.optimize.BFGS``, ``FIRE``, ...):
:class:`JointOptimizable` implements ASE's ``Optimizable`` protocol (ASE ≥ 3.24) with the
convergence test above, so ``opt = BFGS(JointOptimizable(...)); opt.run(fmax=..., steps=...)``
works, ASE's ``fmax`` being ignored in favour of (fmax, smax, hmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinlattice.errors import InputError, MomentRangeError
from spinlattice.properties import ENERGY, FORCES, MAGNETIC_FORCES, STRESS
from spinlattice.units import MU_B

from .minimise import _dot, check_field, check_mask, lbfgs, site_limits

try:  # ASE's optimisable protocol (ASE >= 3.24); a plain base class otherwise
    from ase.optimize.optimize import Optimizable as _OptimizableBase
except ImportError:  # pragma: no cover - old ASE
    _OptimizableBase = object


@dataclass
class RelaxResult:
    """Outcome of a joint relaxation.

    state : final state (positions, cell, moments)
    energy : E at the end, eV (with the driver field; without the pV term)
    enthalpy : E + pV, eV
    max_force (eV/Å), max_stress (eV/Å³, of σ + p1), moment_residual (eV/μB or eV)
    converged : all three residuals within tolerance
    steps, evaluations : optimiser steps and potential evaluations
    message : why it stopped
    """

    state: object
    energy: float
    enthalpy: float
    max_force: float
    max_stress: float
    moment_residual: float
    converged: bool
    steps: int
    evaluations: int
    message: str

    def summary(self) -> str:
        return (f"{'converged' if self.converged else 'NOT converged'} after {self.steps} steps: "
                f"E = {self.energy:.8f} eV, max|F| = {self.max_force:.2e} eV/Å, "
                f"max|σ| = {self.max_stress:.2e} eV/Å³, moment residual "
                f"{self.moment_residual:.2e} ({self.message})")


class JointOptimizable(_OptimizableBase):
    """Positions, cell and moments of a state as one flat vector for an optimiser.

    potential, state : the model and the start
    relax_positions, relax_cell : which lattice degrees of freedom move
    moments : "variable", "fixed" or None (moments held)
    mask : (N,) bool free moments (default all); pressure : eV/Å³; field : tesla (3,)
    cell_factor : scale of the cell rows (default N); moment_scale : c_m (variable mode)
    fmax, smax, hmax : tolerances of :meth:`converged`
    """

    def __init__(self, potential, state, *, relax_positions=True, relax_cell=True,
                 moments="variable", mask=None, pressure=0.0, field=None, cell_factor=None,
                 moment_scale=1.0, fmax=1e-4, smax=1e-6, hmax=1e-5):
        if moments not in ("variable", "fixed", None):
            raise InputError(f"moments must be 'variable', 'fixed' or None, got {moments!r}")
        if relax_cell and not np.all(state.pbc):
            raise InputError("cell relaxation needs a cell periodic in all three directions")
        for name, value in (("fmax", fmax), ("smax", smax), ("hmax", hmax),
                            ("moment_scale", moment_scale)):
            if not float(value) > 0:
                raise InputError(f"{name} must be positive, got {value}")
        self.potential = potential
        self.state0 = state
        self.relax_positions, self.relax_cell, self.mode = relax_positions, relax_cell, moments
        self.free = check_mask(mask, state.n_atoms) if moments else np.zeros(state.n_atoms, bool)
        self.pressure = float(pressure)
        self.field = check_field(field)
        self.cell_factor = float(state.n_atoms if cell_factor is None else cell_factor)
        self.moment_scale = float(moment_scale)
        self.fmax, self.smax, self.hmax = float(fmax), float(smax), float(hmax)
        m0 = state.moments
        self.lengths = np.linalg.norm(m0, axis=1)
        limits = site_limits(potential, state.numbers)
        if np.any(self.lengths > limits):
            k = int(np.argmax(self.lengths > limits))
            raise MomentRangeError(f"start moment of atom {k} (|m| = {self.lengths[k]:.4f} μB) is "
                                   f"above the potential's limit {limits[k]:.4f} μB")
        self.limits = limits
        if moments == "fixed" and np.any(self.free & (self.lengths < 1e-12)):
            raise InputError("fixed-length moments need non-zero moments on free sites")
        n = state.n_atoms
        self.sizes = (n if relax_positions else 0, 3 if relax_cell else 0, int(self.free.sum()))
        self.F = np.eye(3)
        self.s = state.positions.copy()
        self.m = m0.copy()
        x = [self.s if relax_positions else np.zeros((0, 3)),
             self.cell_factor * self.F if relax_cell else np.zeros((0, 3))]
        if moments == "variable":
            x.append(m0[self.free] / self.moment_scale)
        elif moments == "fixed":
            x.append(m0[self.free] / self.lengths[self.free, None])
        self.x = np.concatenate(x).reshape(-1)
        self.evaluations = 0
        self._cache = None
        self.set_x(self.x)

    # --- state from the vector -----------------------------------------------------------------
    def _split(self, x):
        x = np.asarray(x, dtype=float).reshape(-1, 3)
        a, b, _ = self.sizes
        return x[:a], x[a:a + b], x[a + b:]

    def set_x(self, x):
        x = np.asarray(x, dtype=float).reshape(-1)
        if self._cache is not None and x.shape == self.x.shape and np.array_equal(x, self.x):
            return
        s, f, mx = self._split(x)
        if self.relax_cell:
            self.F = f / self.cell_factor
        if self.relax_positions:
            self.s = s
        m = self.state0.moments.copy()
        if self.mode == "variable":
            m[self.free] = self.moment_scale * mx
        elif self.mode == "fixed":
            m[self.free] = self.lengths[self.free, None] * mx / np.linalg.norm(mx, axis=1, keepdims=True)
        self.m = m
        self.x = np.asarray(x, dtype=float).reshape(-1).copy()
        self._cache = None

    def current_state(self):
        return self.state0.replace(positions=self.s @ self.F.T, cell=self.state0.cell @ self.F.T,
                                   moments=self.m)

    def _evaluate(self):
        if self._cache is None:
            state = self.current_state()
            if self.mode == "variable" and np.any(np.linalg.norm(self.m, axis=1) > self.limits):
                raise MomentRangeError("a relaxation step left the potential's valid moment range; "
                                       "use a smaller step or moments='fixed'")
            props = [ENERGY, FORCES, MAGNETIC_FORCES] + ([STRESS] if np.all(state.pbc) else [])
            out = self.potential.compute(state, props)
            energy, h = float(out[ENERGY]), np.array(out[MAGNETIC_FORCES], dtype=float)
            if self.field is not None:
                energy -= MU_B * float(np.sum(self.m @ self.field))
                h = h + MU_B * self.field
            stress = np.array(out[STRESS]) if STRESS in out else np.zeros((3, 3))
            self.evaluations += 1
            self._cache = (state, energy, np.array(out[FORCES]), stress, h)
        return self._cache

    # --- ASE Optimizable protocol --------------------------------------------------------------
    def ndofs(self):
        return self.x.size

    def get_x(self):
        return self.x.copy()

    def get_value(self):
        state, energy, *_ = self._evaluate()
        return energy + self.pressure * state.volume

    def get_gradient(self):
        state, _, forces, stress, h = self._evaluate()
        parts = []
        if self.relax_positions:
            parts.append(-forces @ self.F)
        if self.relax_cell:
            total = stress + self.pressure * np.eye(3)
            parts.append(state.volume * total @ np.linalg.inv(self.F).T / self.cell_factor)
        if self.mode == "variable":
            parts.append(-self.moment_scale * h[self.free])
        elif self.mode == "fixed":
            _, _, mx = self._split(self.x)
            size = np.linalg.norm(mx, axis=1, keepdims=True)
            u = mx / size
            hf = h[self.free]
            parts.append(-(self.lengths[self.free, None] / size) * (hf - np.sum(hf * u, axis=1,
                                                                                 keepdims=True) * u))
        return np.concatenate(parts).reshape(-1) if parts else np.zeros(0)

    def iterimages(self):
        yield self.current_state().to_atoms()

    def residuals(self):
        """(max |f| eV/Å, max |σ + p1| eV/Å³, moment residual) at the current point."""
        state, _, forces, stress, h = self._evaluate()
        f = float(np.max(np.linalg.norm(forces, axis=1), initial=0.0)) if self.relax_positions else 0.0
        s = float(np.max(np.abs(stress + self.pressure * np.eye(3)))) if self.relax_cell else 0.0
        if self.mode == "variable":
            r = float(np.max(np.linalg.norm(h[self.free], axis=1), initial=0.0))
        elif self.mode == "fixed":
            r = float(np.max(np.linalg.norm(np.cross(self.m[self.free], h[self.free]), axis=1),
                             initial=0.0))
        else:
            r = 0.0
        return f, s, r

    def scaled_residual(self):
        """max(f/fmax, s/smax, r/hmax): ≤ 1 means converged."""
        f, s, r = self.residuals()
        return max(f / self.fmax, s / self.smax, r / self.hmax)

    def converged(self, gradient=None, fmax=None):
        return self.scaled_residual() <= 1.0

    def blocks(self):
        """Slices of x (flat) for positions, cell, moments — for a block initial Hessian."""
        a, b, c = (3 * k for k in self.sizes)
        return [sl for sl in (slice(0, a), slice(a, a + b), slice(a + b, a + b + c))
                if sl.stop > sl.start]


class _FlatSpace:
    """Adapter of a JointOptimizable to :func:`.minimise.lbfgs` (Euclidean, block H₀)."""

    def __init__(self, opt):
        self.opt = opt
        self.slices = opt.blocks()

    def moments(self, x):
        return x

    def project(self, x, v):
        return v

    def retract(self, x, d):
        return x + d

    def gradient(self, x, grad):
        return grad

    def residual(self, x, grad):
        self.opt.set_x(x)
        return self.opt.scaled_residual()

    def h0(self, x, q, s, y):
        out = np.empty_like(q)
        scalar = _dot(s, y) / _dot(y, y)
        for sl in self.slices:
            sy, yy = _dot(s[sl], y[sl]), _dot(y[sl], y[sl])
            out[sl] = q[sl] * (sy / yy if sy > 0 and yy > 0 else scalar)
        return out


def relax(potential, state, *, relax_positions=True, relax_cell=True, moments="variable",
          mask=None, pressure=0.0, field=None, fmax=1e-4, smax=1e-6, hmax=1e-5, max_steps=1000,
          optimizer="lbfgs", max_move=0.1, cell_factor=None, moment_scale=1.0,
          memory=10) -> RelaxResult:
    """Relax positions, cell and moments of ``state`` together (see the module doc).

    optimizer : "lbfgs" (own, block-preconditioned) or an ASE optimiser class
    max_move : largest change of one row of x per step (Å for positions; internal L-BFGS only)
    Other arguments as in :class:`JointOptimizable`. Returns a :class:`RelaxResult`.
    """
    opt = JointOptimizable(potential, state, relax_positions=relax_positions,
                           relax_cell=relax_cell, moments=moments, mask=mask, pressure=pressure,
                           field=field, cell_factor=cell_factor, moment_scale=moment_scale,
                           fmax=fmax, smax=smax, hmax=hmax)
    if opt.ndofs() == 0:
        raise InputError("nothing to relax: positions, cell and moments are all held")
    if isinstance(optimizer, str):
        if optimizer.lower() != "lbfgs":
            raise InputError(f"optimizer must be 'lbfgs' or an ASE optimiser class, got {optimizer!r}")

        def func(x):
            opt.set_x(x)
            return opt.get_value(), opt.get_gradient()

        x, _, _, _, steps, _, message, _ = lbfgs(func, _FlatSpace(opt), opt.get_x(), 1.0,
                                                 int(max_steps), int(memory), float(max_move))
        opt.set_x(x)
    else:
        dyn = optimizer(opt, logfile=None)
        dyn.run(fmax=1.0, steps=int(max_steps))
        steps, message = dyn.nsteps, f"{optimizer.__name__} stopped"
    state_out, energy, *_ = opt._evaluate()
    f, s, r = opt.residuals()
    converged = opt.scaled_residual() <= 1.0
    return RelaxResult(state=state_out, energy=energy,
                       enthalpy=energy + opt.pressure * state_out.volume, max_force=f,
                       max_stress=s, moment_residual=r, converged=converged, steps=int(steps),
                       evaluations=opt.evaluations,
                       message="all residuals within tolerance" if converged else message)


__all__ = ["JointOptimizable", "RelaxResult", "relax"]
