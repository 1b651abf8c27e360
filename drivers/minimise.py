"""Moment minimisation at fixed positions: E(m) → min over the moments of the free sites.

Two modes
---------
* ``mode="fixed"`` — fixed-length moments m_i = L_i u_i with |u_i| = 1 and L_i = |m_i| of the
  start. The unknowns live on the product of spheres (S²)ⁿ. The Riemannian gradient of E with
  respect to u_i is g_i = P_i(−L_i h_i) with P_i = 1 − u_i u_iᵀ, and |g_i| = |m_i × h_i|, so the
  residual is the maximum torque max_i |m_i × h_i| (eV). Steps are retracted onto the spheres by
  normalisation, u ← (u + α d)/|u + α d|, so |m_i| is preserved to rounding (≲ 1e-15 relative).
* ``mode="variable"`` — all three components of every free moment move. The residual is
  max_i |h_i| (eV/μB). Default ``parametrisation="polar"``: m_i = ℓ_i u_i with u_i on S² (moved
  like the fixed-length directions) and a signed length ℓ_i, so a rotation does not change |m|
  (in Cartesian coordinates a straight step off the valley |m| = L lengthens the moment by d²/2L,
  which a stiff Landau term punishes: polar needed about half the steps of Cartesian on the Mn₃Pt
  model). ``parametrisation="cartesian"`` keeps x = m. When the potential declares a largest
  valid moment M_Z (:func:`spinlattice.potential.moment_limits`), lengths of that species are
  mapped as ℓ = M tanh(t/M) (polar) or m = M tanh(|x|/M) x/|x| (Cartesian), smooth bijections
  onto the open ball |m| < M: every iterate stays inside the valid range and the model is never
  evaluated outside it. A site pressed against the wall (|m| > (1 − 1e-6) M with h pointing
  outwards) counts only its transverse part m̂ × h towards the residual. Zero start moments
  point along their magnetic force (polar), so they can grow.

``collinear=True`` (variable mode only) restricts moments to m_i = s_i n̂ along one ``axis``
(default: the direction of the largest start moment, else z) with scalars s_i that may change
sign through zero. Fixed-length collinear moments have no continuous degree of freedom (only
flips), so that combination is an error; discrete flips are searched by
:func:`spinlattice.drivers.groundstate.collinear_search`.

Algorithm
---------
L-BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Alg. 7.4–7.5) with memory ``memory``,
initial inverse Hessian γ = sᵀy/yᵀy, and a backtracking Armijo line search (c₁ = 1e-4). On the
sphere it is the Riemannian L-BFGS of Huang, Gallivan & Absil (SIAM J. Optim. 25, 1660 (2015)) in
its simplest form: retraction by normalisation, vector transport by projection onto the new
tangent space (stored s, y pairs are projected at every step). Own code rather than scipy's
L-BFGS-B because (i) the unknowns live on spheres, (ii) convergence must be judged on the
physical residual (torque) rather than on scipy's projected-gradient criterion, (iii) the step
count and evaluation count are reported exactly. A step never moves one site by more than
``max_move`` (unit-vector length in fixed mode, μB in variable mode), which keeps the first
steps from a random start sane.

External field
--------------
``field`` (tesla, (3,)) adds the Zeeman energy E_B = −μ_B Σ_i m_i·B over **all** sites (frozen ones
included, so reported energies are those of the potential plus the field) with h_i += μ_B B. It
is the same energy as :class:`spinlattice.potentials.Zeeman`; use one or the other, not both.

Masks
-----
``mask`` (N,) bool: True = free site, False = frozen (moment kept exactly). Default: all free.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field as dc_field

import numpy as np

from spinlattice.errors import InputError, MomentRangeError
from spinlattice.potential import moment_limits
from spinlattice.properties import ENERGY, MAGNETIC_FORCES
from spinlattice.units import MU_B

MODES = ("fixed", "variable")
_WALL = 1.0 - 1e-6  # fraction of M beyond which a bounded moment counts as "at the wall"


@dataclass
class MinimiseResult:
    """Outcome of a moment minimisation.

    state : the final state (positions unchanged, new moments)
    energy : E at the end, eV (potential + driver field, if any)
    residual : max torque |m × h| (eV) in fixed mode, max |h| (eV/μB) in variable mode, over free
        sites (collinear: max |h·n̂|)
    converged : residual ≤ tol
    steps : L-BFGS iterations taken (≤ max_steps)
    evaluations : potential evaluations (energy + magnetic forces)
    mode, collinear : what was minimised
    message : why it stopped
    energies : (steps + 1,) energy after every iteration, eV
    """

    state: object
    energy: float
    residual: float
    converged: bool
    steps: int
    evaluations: int
    mode: str
    collinear: bool
    message: str
    energies: np.ndarray = dc_field(repr=False, default=None)

    def summary(self) -> str:
        unit = "eV" if self.mode == "fixed" else "eV/μB"
        return (f"{'converged' if self.converged else 'NOT converged'} after {self.steps} steps "
                f"({self.evaluations} evaluations): E = {self.energy:.10f} eV, residual "
                f"{self.residual:.3e} {unit} ({self.message})")


# --- input checks ------------------------------------------------------------------------------

def check_mask(mask, n_atoms):
    """(N,) bool array of free sites from ``mask`` (None → all free); InputError otherwise."""
    if mask is None:
        return np.ones(n_atoms, dtype=bool)
    arr = np.asarray(mask)
    if arr.shape != (n_atoms,):
        raise InputError(f"mask must have shape ({n_atoms},) (one bool per atom), got {arr.shape}")
    if arr.dtype != bool:
        if not np.all(np.isin(arr, (0, 1))):
            raise InputError("mask must hold booleans (True = free site, False = frozen)")
        arr = arr.astype(bool)
    return arr.copy()


def check_field(field):
    """(3,) float field in tesla or None."""
    if field is None:
        return None
    arr = np.asarray(field, dtype=float)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise InputError(f"field must be 3 finite numbers (tesla), got {field!r}")
    return arr


def _unit(axis, what="axis"):
    arr = np.asarray(axis, dtype=float)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or np.linalg.norm(arr) < 1e-12:
        raise InputError(f"{what} must be a non-zero 3-vector, got {axis!r}")
    return arr / np.linalg.norm(arr)


def site_limits(potential, numbers):
    """(N,) largest valid |m| per atom (μB), inf where the potential declares none."""
    limits = moment_limits(potential)
    return np.array([float(limits.get(int(z), np.inf)) for z in numbers])


def evaluate(potential, state, moments, field=None):
    """(E eV, h (N, 3) eV/μB) of ``state`` with ``moments``, plus the driver field if given."""
    out = potential.compute(state.replace(moments=moments), (ENERGY, MAGNETIC_FORCES))
    energy, h = float(out[ENERGY]), np.array(out[MAGNETIC_FORCES], dtype=float)
    if field is not None:
        energy -= MU_B * float(np.sum(moments @ field))
        h = h + MU_B * field
    return energy, h


# --- parametrisations --------------------------------------------------------------------------

class _Sphere:
    """x = unit vectors (n, 3) of the free sites; m = L x."""

    def __init__(self, lengths):
        self.lengths = lengths[:, None]

    def moments(self, x):
        return self.lengths * x

    def project(self, x, v):
        return v - np.sum(v * x, axis=1, keepdims=True) * x

    def retract(self, x, d):
        y = x + d
        return y / np.linalg.norm(y, axis=1, keepdims=True)

    def gradient(self, x, h):
        return self.project(x, -self.lengths * h)

    def residual(self, x, h):
        return float(np.max(np.linalg.norm(np.cross(self.moments(x), h), axis=1), initial=0.0))


class _Polar:
    """x (n, 4) = [u (unit 3-vector), t] per site; m = ℓ(t) u with ℓ = t, or M tanh(t/M) where
    bounded. Rotations move u on its sphere (retraction by normalisation) and leave |m| alone, so
    a stiff longitudinal (Landau) energy does not make the rotation steps short, as it does in
    Cartesian coordinates where a straight step off the valley |m| = L changes the length by
    d²/2L. ℓ may change sign (a moment passes through zero)."""

    def __init__(self, limits):
        self.limits = limits
        self.bounded = np.isfinite(limits)
        self.big = np.where(self.bounded, limits, 1.0)

    def lengths(self, t):
        return np.where(self.bounded, self.big * np.tanh(t / self.big), t)

    def moments(self, x):
        return self.lengths(x[:, 3])[:, None] * x[:, :3]

    def project(self, x, v):
        out = v.copy()
        u = x[:, :3]
        out[:, :3] -= np.sum(v[:, :3] * u, axis=1, keepdims=True) * u
        return out

    def retract(self, x, d):
        y = x + d
        y[:, :3] /= np.linalg.norm(y[:, :3], axis=1, keepdims=True)
        return y

    def gradient(self, x, h):
        u, t = x[:, :3], x[:, 3]
        ell = self.lengths(t)
        dl = np.where(self.bounded, 1.0 - np.tanh(t / self.big) ** 2, 1.0)
        g = np.empty_like(x)
        gu = -ell[:, None] * h
        g[:, :3] = gu - np.sum(gu * u, axis=1, keepdims=True) * u
        g[:, 3] = -np.sum(h * u, axis=1) * dl
        return g

    def h0(self, x, q, s, y):
        """Block initial inverse Hessian: one scalar γ = sᵀy/yᵀy for the directions, one for the
        lengths (a cheap preconditioner; any SPD H₀ keeps L-BFGS descent)."""
        out = np.empty_like(q)
        scalar = _dot(s, y) / _dot(y, y)
        for sl in (np.s_[:, :3], np.s_[:, 3]):
            sy, yy = _dot(s[sl], y[sl]), _dot(y[sl], y[sl])
            out[sl] = q[sl] * (sy / yy if sy > 0 and yy > 0 else scalar)
        return out

    def residual(self, x, h):
        m = self.moments(x)
        res = np.linalg.norm(h, axis=1)
        if self.bounded.any():
            size = np.linalg.norm(m, axis=1)
            pressed = self.bounded & (size > _WALL * self.limits) & (np.sum(m * h, axis=1) > 0)
            if pressed.any():
                res[pressed] = np.linalg.norm(np.cross(m[pressed], h[pressed]), axis=1) / size[pressed]
        return float(np.max(res, initial=0.0))

    def start(self, moments, h):
        """x for start moments (n, 3); zero moments point along their magnetic force h."""
        size = np.linalg.norm(moments, axis=1)
        hn = np.linalg.norm(h, axis=1)
        u = np.where((size > 1e-12)[:, None], moments / np.where(size > 1e-12, size, 1.0)[:, None],
                     np.where((hn > 0)[:, None], h / np.where(hn > 0, hn, 1.0)[:, None],
                              [[0.0, 0.0, 1.0]]))
        ratio = np.clip(size / self.big, 0.0, 1 - 1e-15)
        t = np.where(self.bounded, self.big * np.arctanh(ratio), size)
        return np.concatenate([u, t[:, None]], axis=1)


class _Ball:
    """x (n, 3) ∈ ℝ³ per site; m = x where unbounded, m = M tanh(|x|/M) x̂ where bounded."""

    def __init__(self, limits):
        self.limits = limits[:, None]
        self.bounded = np.isfinite(limits)

    @staticmethod
    def _radial(r, big):
        """f(r) = M tanh(r/M)/r and f'(r), with the r → 0 limit (f = 1) handled."""
        t = np.tanh(r / big)
        small = r < 1e-8 * big
        safe = np.where(small, 1.0, r)
        f = np.where(small, 1.0 - (r / big) ** 2 / 3.0, big * t / safe)
        df = np.where(small, -2.0 * r / (3.0 * big**2), ((1.0 - t * t) - f) / safe)
        return f, df

    def moments(self, x):
        if not self.bounded.any():
            return x
        m = x.copy()
        b = self.bounded
        r = np.linalg.norm(x[b], axis=1, keepdims=True)
        f, _ = self._radial(r, self.limits[b])
        m[b] = f * x[b]
        return m

    def project(self, x, v):
        return v

    def retract(self, x, d):
        return x + d

    def gradient(self, x, h):
        """∂E/∂x = Jᵀ(−h) with J = f 1 + (f'/r) x xᵀ for bounded sites."""
        g = -h
        if self.bounded.any():
            g = g.copy()
            b = self.bounded
            xb = x[b]
            r = np.linalg.norm(xb, axis=1, keepdims=True)
            f, df = self._radial(r, self.limits[b])
            safe = np.where(r > 0, r, 1.0)
            g[b] = f * g[b] + (df / safe) * np.sum(xb * g[b], axis=1, keepdims=True) * xb
        return g

    def h0(self, x, q, s, y):
        """Block initial inverse Hessian: separate scalars γ = sᵀy/yᵀy for the components along
        each moment (longitudinal, often stiff: Landau) and across it (transverse, often soft:
        exchange, anisotropy). A cheap preconditioner; any SPD H₀ keeps L-BFGS descent."""
        size = np.linalg.norm(x, axis=1, keepdims=True)
        xhat = np.where(size > 0, x / np.where(size > 0, size, 1.0), 0.0)

        def split(v):
            par = np.sum(v * xhat, axis=1, keepdims=True) * xhat
            return par, v - par

        (sp, st), (yp, yt), (qp, qt) = split(s), split(y), split(q)
        out = np.zeros_like(q)
        scalar = _dot(s, y) / _dot(y, y)
        for qb, sb, yb in ((qp, sp, yp), (qt, st, yt)):
            sy, yy = _dot(sb, yb), _dot(yb, yb)
            out += qb * (sy / yy if sy > 0 and yy > 0 else scalar)
        return out

    def residual(self, x, h):
        res = np.linalg.norm(h, axis=1)
        if self.bounded.any():
            m = self.moments(x)
            size = np.linalg.norm(m, axis=1)
            wall = self.bounded & (size > _WALL * self.limits[:, 0])
            outward = np.sum(m * h, axis=1) > 0
            pressed = wall & outward
            if pressed.any():
                res[pressed] = np.linalg.norm(np.cross(m[pressed], h[pressed]), axis=1) / size[pressed]
        return float(np.max(res, initial=0.0))


class _Line:
    """x (n,) scalars; m = s n̂ with s = x or M tanh(x/M) where bounded."""

    def __init__(self, axis, limits):
        self.axis = axis
        self.limits = limits
        self.bounded = np.isfinite(limits)
        self.big = np.where(self.bounded, limits, 1.0)

    def scalars(self, x):
        return np.where(self.bounded, self.big * np.tanh(x / self.big), x)

    def moments(self, x):
        return self.scalars(x)[:, None] * self.axis[None, :]

    def project(self, x, v):
        return v

    def retract(self, x, d):
        return x + d

    def gradient(self, x, h):
        ds = np.where(self.bounded, 1.0 - np.tanh(x / self.big) ** 2, 1.0)
        return -(h @ self.axis) * ds

    def residual(self, x, h):
        hn = h @ self.axis
        s = self.scalars(x)
        pressed = self.bounded & (np.abs(s) > _WALL * self.limits) & (s * hn > 0)
        return float(np.max(np.where(pressed, 0.0, np.abs(hn)), initial=0.0))


# --- L-BFGS ------------------------------------------------------------------------------------

def _dot(a, b):
    return float(np.sum(a * b))


def _two_loop(g, pairs, h0=None):
    """−H g by the L-BFGS two-loop recursion over stored (s, y) pairs (oldest first).

    h0(q, s, y) applies the initial inverse Hessian (default the scalar γ = sᵀy/yᵀy of the
    newest pair)."""
    q = g.copy()
    alphas = []
    for s, y in reversed(pairs):
        rho = 1.0 / _dot(y, s)
        a = rho * _dot(s, q)
        alphas.append((a, rho))
        q -= a * y
    s, y = pairs[-1]
    r = q * (_dot(s, y) / _dot(y, y)) if h0 is None else h0(q, s, y)
    for (s, y), (a, rho) in zip(pairs, reversed(alphas)):
        b = rho * _dot(y, r)
        r += (a - b) * s
    return -r


def lbfgs(func, space, x0, tol, max_steps, memory=10, max_move=0.3, callback=None):
    """Minimise ``func(x) -> (E, h)`` over the parametrisation ``space``.

    Returns (x, E, h, residual, steps, evaluations, message, energies). The residual is
    ``space.residual(x, h)``; iterations stop when it is ≤ ``tol`` or after ``max_steps``.
    """
    x = x0
    energy, h = func(x)
    evaluations = 1
    g = space.gradient(x, h)
    pairs = deque(maxlen=memory)
    energies = [energy]
    message = f"reached max_steps = {max_steps}"
    steps = 0
    eps = 1e-13 * max(1.0, abs(energy))
    while True:
        residual = space.residual(x, h)
        if residual <= tol:
            message = "residual below tolerance"
            break
        if steps >= max_steps:
            break
        d = _two_loop(g, list(pairs), getattr(space, "h0", None) and
                      (lambda q, s_, y_: space.h0(x, q, s_, y_))) if pairs else -g
        d = space.project(x, d)
        slope = _dot(g, d)
        if not slope < 0:
            pairs.clear()
            d, slope = -g, -_dot(g, g)
        move = float(np.max(np.abs(d) if d.ndim == 1 else np.linalg.norm(d, axis=1)))
        if not pairs and move > 0:
            # steepest descent: first step of max_move/3 at most, so the Armijo test starts sane
            scale = min(1.0, max_move / 3.0 / move)
            d, slope, move = d * scale, slope * scale, move * scale
        if move > max_move:
            scale = max_move / move
            d, slope = d * scale, slope * scale
        alpha, accepted = 1.0, False
        for _ in range(40):
            x_new = space.retract(x, alpha * d)
            e_new, h_new = func(x_new)
            evaluations += 1
            if e_new <= energy + 1e-4 * alpha * slope + eps:
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            if pairs:  # curvature memory misled us: restart from steepest descent
                pairs.clear()
                continue
            message = "line search failed (energy noise floor reached?)"
            break
        g_new = space.gradient(x_new, h_new)
        s = space.project(x_new, x_new - x)
        y = g_new - space.project(x_new, g)
        if pairs and d.ndim == 2:  # transport stored pairs to the new tangent space
            pairs = deque(((space.project(x_new, a), space.project(x_new, b)) for a, b in pairs),
                          maxlen=memory)
            pairs = deque(((a, b) for a, b in pairs if _dot(a, b) > 1e-300), maxlen=memory)
        if _dot(s, y) > 1e-12 * np.sqrt(_dot(s, s) * _dot(y, y)) and _dot(y, y) > 0:
            pairs.append((s, y))
        x, energy, h, g = x_new, e_new, h_new, g_new
        steps += 1
        energies.append(energy)
        if callback is not None:
            callback(steps, space.moments(x), energy)
    return x, energy, h, residual, steps, evaluations, message, np.array(energies)


# --- public driver -----------------------------------------------------------------------------

def minimise_moments(potential, state, *, mode="fixed", mask=None, collinear=False, axis=None,
                     field=None, tol=None, max_steps=1000, memory=10, max_move=None,
                     callback=None, parametrisation="polar") -> MinimiseResult:
    """Minimise E over the moments of ``state`` at fixed positions and cell.

    potential : any :class:`~spinlattice.potential.Potential` (needs energy, magnetic_forces)
    state : :class:`~spinlattice.state.SpinLatticeState` with the start moments (N, 3) μB
    mode : "fixed" (|m_i| preserved, residual = max |m × h|, eV) or "variable" (m_i free inside
        the potential's valid range, residual = max |h|, eV/μB)
    mask : (N,) bool, True = free (default all free); frozen moments are kept exactly
    collinear : variable mode only — moments along ``axis`` (3,) with free signed lengths
    field : (3,) external field, tesla: adds −μ_B Σ_i m_i·B (see module doc)
    tol : residual tolerance (default 1e-6 eV or eV/μB)
    max_steps : iteration cap (L-BFGS steps; each takes ≥ 1 evaluation)
    memory : number of stored L-BFGS pairs
    max_move : largest change of one site per step (default 0.3: unit-vector length in fixed
        mode — about 17° — and 0.3 μB in variable mode)
    callback : optional callable(step, moments (N, 3), energy) after every step
    parametrisation : "polar" (default) or "cartesian", variable mode only (see module doc)

    Returns a :class:`MinimiseResult`. Raises :class:`InputError` for bad arguments (mask shape,
    zero moment on a free site in fixed mode, fixed + collinear, ...) and
    :class:`MomentRangeError` when a start moment lies outside the potential's valid range.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, got {mode!r}")
    if parametrisation not in ("polar", "cartesian"):
        raise InputError(f"parametrisation must be 'polar' or 'cartesian', got {parametrisation!r}")
    free = check_mask(mask, state.n_atoms)
    field = check_field(field)
    tol = 1e-6 if tol is None else float(tol)
    if not tol > 0:
        raise InputError(f"tol must be positive, got {tol}")
    if int(max_steps) != max_steps or max_steps < 0:
        raise InputError(f"max_steps must be a non-negative integer, got {max_steps!r}")
    if int(memory) != memory or memory < 1:
        raise InputError(f"memory must be a positive integer, got {memory!r}")
    max_move = 0.3 if max_move is None else float(max_move)
    if not max_move > 0:
        raise InputError(f"max_move must be positive, got {max_move}")
    moments = np.array(state.moments, dtype=float)
    sizes = np.linalg.norm(moments, axis=1)
    limits = site_limits(potential, state.numbers)
    over = sizes > limits
    if np.any(over):
        k = int(np.argmax(over))
        raise MomentRangeError(f"start moment of atom {k} has |m| = {sizes[k]:.4f} μB, above the "
                               f"potential's limit {limits[k]:.4f} μB for Z = {state.numbers[k]}")

    if mode == "fixed":
        if collinear:
            raise InputError("collinear=True needs mode='variable': fixed-length collinear moments "
                             "can only flip (use groundstate.collinear_search for flips)")
        zero = free & (sizes < 1e-12)
        if np.any(zero):
            raise InputError(f"fixed-length mode needs non-zero moments on free sites; atoms "
                             f"{np.nonzero(zero)[0][:10].tolist()} have |m| = 0 (mask them or use "
                             f"mode='variable')")
        space = _Sphere(sizes[free])
        x0 = moments[free] / sizes[free, None]
    elif collinear:
        if axis is None:
            big = int(np.argmax(np.where(free, sizes, -1.0)))
            axis = moments[big] if sizes[big] > 1e-12 else (0.0, 0.0, 1.0)
        n = _unit(axis)
        space = _Line(n, limits[free])
        s = moments[free] @ n
        big = np.where(np.isfinite(limits[free]), limits[free], 1.0)
        ratio = np.clip(s / big, -1 + 1e-15, 1 - 1e-15)
        x0 = np.where(np.isfinite(limits[free]), big * np.arctanh(ratio), s)
    elif parametrisation == "polar":
        space = _Polar(limits[free])
        _, h0 = evaluate(potential, state, moments, field)
        x0 = space.start(moments[free], h0[free])
    else:
        space = _Ball(limits[free])
        x0 = moments[free].copy()
        b = space.bounded
        if b.any():
            r = np.linalg.norm(x0[b], axis=1, keepdims=True)
            big = space.limits[b]
            ratio = np.clip(r / big, 0.0, 1 - 1e-15)
            safe = np.where(r > 0, r, 1.0)
            x0[b] = np.where(r > 0, big * np.arctanh(ratio) / safe, 1.0) * x0[b]

    def func(x):
        m = moments.copy()
        m[free] = space.moments(x)
        energy, h = evaluate(potential, state, m, field)
        return energy, h[free]

    full_callback = None
    if callback is not None:
        def full_callback(step, m_free, energy):
            m = moments.copy()
            m[free] = m_free
            callback(step, m, energy)

    x, energy, h_free, residual, steps, evaluations, message, energies = lbfgs(
        func, space, x0, tol, int(max_steps), int(memory), max_move, full_callback)
    final = moments.copy()
    final[free] = space.moments(x)
    if mode == "fixed":  # exact lengths: renormalise against rounding of the retraction
        final[free] = x / np.linalg.norm(x, axis=1, keepdims=True) * sizes[free, None]
    return MinimiseResult(
        state=state.replace(moments=final), energy=energy, residual=residual,
        converged=residual <= tol, steps=steps, evaluations=evaluations, mode=mode,
        collinear=bool(collinear), message=message, energies=energies)


def residual_of(potential, state, mode="fixed", mask=None, field=None) -> float:
    """The residual :func:`minimise_moments` would report for ``state`` as it is (no steps)."""
    free = check_mask(mask, state.n_atoms)
    _, h = evaluate(potential, state, state.moments, check_field(field))
    if mode == "fixed":
        return float(np.max(np.linalg.norm(np.cross(state.moments[free], h[free]), axis=1),
                            initial=0.0))
    return float(np.max(np.linalg.norm(h[free], axis=1), initial=0.0))


__all__ = ["MinimiseResult", "minimise_moments", "residual_of", "check_mask", "check_field",
           "site_limits", "evaluate", "lbfgs", "MODES"]
