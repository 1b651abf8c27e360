"""Curie temperature estimates from a temperature sweep, with uncertainties.

Three independent estimates, compared:

1. Power law below T_C: m(T) = A (T_C − T)^β fitted by weighted least squares of ln m inside a
   window of temperatures; parametric bootstrap (resample m within its error bars, refit) for
   the errors, plus the spread over windows.
2. Binder cumulant crossing: U4(T) of two or more system sizes cross at T_C (finite-size scaling;
   K. Binder, Z. Phys. B 43, 119 (1981)); errors by bootstrap of the U4 values.
3. Peaks of the susceptibility χ(T) and heat capacity C_v(T) (parabola through the maximum and its
   neighbours; these approach T_C from the finite-size-shifted side).

:func:`compare_estimates` warns when they disagree beyond their combined errors;
:func:`mean_field_temperature` gives the mean-field scale that sets a temperature grid.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import brentq

from spinlattice.units import K_B


def _power_law(t, amplitude, t_c, beta):
    return amplitude * np.clip(t_c - t, 1e-12, None) ** beta


def _fit_at(t, log_m, weight, t_c):
    """Weighted linear fit of ln m = ln A + β ln(T_C − T) at fixed T_C: (ln A, β, χ²)."""
    x = np.log(t_c - t)
    design = np.stack([np.ones_like(x), x], axis=1) * weight[:, None]
    coef, *_ = np.linalg.lstsq(design, log_m * weight, rcond=None)
    return coef[0], coef[1], float(np.sum((design @ coef - log_m * weight) ** 2))


def _fit_once(t, m, err):
    """(A, T_C, β): χ² minimised over T_C ∈ (max T, max T + 2 × span] (bounded Brent), with
    the linear fit in ln m at each T_C (σ_ln m = σ/m)."""
    from scipy.optimize import minimize_scalar

    log_m, weight = np.log(m), m / err
    span = t.max() - t.min()
    res = minimize_scalar(lambda tc: _fit_at(t, log_m, weight, tc)[2], method="bounded",
                          bounds=(t.max() + 1e-6 * span, t.max() + 2.0 * span),
                          options={"xatol": 1e-6 * span})
    log_a, beta, _ = _fit_at(t, log_m, weight, res.x)
    return np.exp(log_a), float(res.x), float(beta)


def fit_power_law(temperatures, magnetisation, errors, window=None, n_bootstrap=200, rng=None):
    """Fit m = A (T_C − T)^β to points with window[0] ≤ T ≤ window[1].

    temperatures (K), magnetisation and errors (same units, e.g. μB/site) are (n,) arrays; at
    least 4 points must fall inside the window. The fit minimises χ² of ln m (σ_ln m = σ/m) over
    T_C in (max T, max T + 2 × span] with ln A and β solved linearly at each T_C; errors from a
    parametric bootstrap (m resampled within its error bars, refitted).
    Returns dict with T_C, T_C_err, beta, beta_err, amplitude, window, n_points, chi2_per_dof.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    t = np.asarray(temperatures, dtype=float)
    m = np.asarray(magnetisation, dtype=float)
    err = np.maximum(np.asarray(errors, dtype=float), 1e-12)
    lo, hi = (t.min(), t.max()) if window is None else window
    inside = (t >= lo) & (t <= hi) & (m > 0)
    if inside.sum() < 4:
        raise ValueError(f"the power-law fit needs ≥ 4 temperatures in the window {lo}–{hi} K, "
                         f"got {int(inside.sum())}")
    t, m, err = t[inside], m[inside], err[inside]
    amplitude, t_c, beta = _fit_once(t, m, err)
    boot = []
    for _ in range(n_bootstrap):
        trial = m + err * rng.standard_normal(m.shape)
        if np.all(trial > 0):
            boot.append(_fit_once(t, trial, err))
    boot = np.array(boot)
    chi2 = float(np.sum(((m - _power_law(t, amplitude, t_c, beta)) / err) ** 2))
    return {"T_C": t_c, "T_C_err": float(boot[:, 1].std(ddof=1)), "beta": beta,
            "beta_err": float(boot[:, 2].std(ddof=1)), "amplitude": float(amplitude),
            "window": [float(lo), float(hi)], "n_points": int(inside.sum()),
            "chi2_per_dof": chi2 / max(1, len(t) - 3)}


def _crossing(t, u_a, u_b):
    """Temperature where two piecewise-linear curves on the same grid cross (first sign change
    of U_a − U_b), or None."""
    d = u_a - u_b
    for k in range(len(t) - 1):
        if d[k] == 0:
            return float(t[k])
        if d[k] * d[k + 1] < 0:
            f = lambda x: np.interp(x, t[k:k + 2], d[k:k + 2])
            return float(brentq(f, t[k], t[k + 1]))
    return None


def binder_crossing(temperatures, binder_by_size, errors_by_size, n_bootstrap=200, rng=None):
    """T_C from crossings of U4(T) curves of different sizes (all on one temperature grid).

    binder_by_size, errors_by_size : dict size → (n,) U4 and its error. Every pair of sizes
    gives a crossing; the estimate is their mean, the error the bootstrap spread (resampling U4
    within its errors). Returns dict with T_C_binder, T_C_binder_err, crossings, or None values
    when the curves do not cross in the range.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    t = np.asarray(temperatures, dtype=float)
    order = np.argsort(t)
    t = t[order]
    sizes = sorted(binder_by_size)
    if len(sizes) < 2:
        raise ValueError("a Binder crossing needs at least two system sizes")
    u = {s: np.asarray(binder_by_size[s], dtype=float)[order] for s in sizes}
    e = {s: np.asarray(errors_by_size[s], dtype=float)[order] for s in sizes}
    pairs = [(a, b) for k, a in enumerate(sizes) for b in sizes[k + 1:]]

    def estimate(curves):
        found = [_crossing(t, curves[a], curves[b]) for a, b in pairs]
        found = [x for x in found if x is not None]
        return (float(np.mean(found)) if found else None), found

    t_c, crossings = estimate(u)
    if t_c is None:
        return {"T_C_binder": None, "T_C_binder_err": None, "crossings": []}
    boot = [estimate({s: u[s] + e[s] * rng.standard_normal(t.shape) for s in sizes})[0]
            for _ in range(n_bootstrap)]
    boot = np.array([b for b in boot if b is not None])
    return {"T_C_binder": t_c, "T_C_binder_err": float(boot.std(ddof=1)) if len(boot) > 1
            else None, "crossings": crossings}


def peak_temperature(temperatures, values):
    """Temperature of the maximum of ``values`` (n,): vertex of the parabola through the largest
    point and its two neighbours (the grid point itself at an end of the range)."""
    t = np.asarray(temperatures, dtype=float)
    order = np.argsort(t)
    t, y = t[order], np.asarray(values, dtype=float)[order]
    k = int(np.argmax(y))
    if k == 0 or k == len(t) - 1:
        return float(t[k])
    a, b, _ = np.polyfit(t[k - 1:k + 2], y[k - 1:k + 2], 2)
    return float(np.clip(-b / (2 * a), t[k - 1], t[k + 1])) if a < 0 else float(t[k])


def compare_estimates(estimates, n_sigma=3.0, spread=None):
    """Warn (``UserWarning``) and return messages for pairs of T_C estimates that disagree.

    estimates : dict name → (value, error or None); a None error uses ``spread`` (K), e.g. the
    temperature grid spacing, for peak positions. Returns the list of messages.
    """
    items = [(k, v, e if e is not None else spread) for k, (v, e) in estimates.items()
             if v is not None]
    messages = []
    for i, (na, va, ea) in enumerate(items):
        for nb, vb, eb in items[i + 1:]:
            sigma = np.hypot(ea or 0.0, eb or 0.0)
            if sigma > 0 and abs(va - vb) > n_sigma * sigma:
                msg = (f"T_C estimates disagree: {na} = {va:.1f} K vs {nb} = {vb:.1f} K "
                       f"(difference {abs(va - vb):.1f} K > {n_sigma:g} × {sigma:.1f} K)")
                messages.append(msg)
                warnings.warn(msg, stacklevel=2)
    return messages


def fit_power_law_with_window_error(temperatures, magnetisation, errors, window, n_drop=2,
                                    rng=None):
    """:func:`fit_power_law` in ``window`` plus the spread from dropping the 1..``n_drop``
    highest temperatures of the window (finite-size rounding near T_C makes the window the
    dominant systematic error). T_C_err and beta_err combine the bootstrap error and the window
    spread in quadrature; both parts are reported (``*_err_stat``, ``*_err_window``)."""
    t = np.asarray(temperatures, dtype=float)
    main = fit_power_law(t, magnetisation, errors, window=window, rng=rng)
    inside = np.sort(t[(t >= window[0]) & (t <= window[1])])
    variants = []
    for k in range(1, n_drop + 1):
        if len(inside) - k < 4:
            break
        variants.append(fit_power_law(t, magnetisation, errors, rng=rng,
                                      window=(window[0], float(inside[-1 - k]))))
    for key in ("T_C", "beta"):
        spread = float(np.std([main[key]] + [v[key] for v in variants], ddof=1)) \
            if variants else 0.0
        main[key + "_err_stat"] = main[key + "_err"]
        main[key + "_err_window"] = spread
        main[key + "_err"] = float(np.hypot(main[key + "_err"], spread))
    return main


def mean_field_temperature(potential, state, rng, n_random=8):
    """Mean-field T_C (K) of the model around the FM reference ``state``:

        k_B T_MF = (2/3) (⟨E⟩_random − E_FM) / N,

    ⟨E⟩_random the mean energy of ``n_random`` states of independent uniformly random moment
    directions (same |m|). For a Heisenberg model ⟨E⟩_random = 0 and this is the usual
    k_B T_MF = (1/3) Σ_j J_0j |m|²; for other potentials it uses the whole orientation
    dependence of the energy, not only its bilinear part.
    """
    e_fm = potential.compute(state, ("energy",))["energy"]
    size = np.linalg.norm(state.moments, axis=1, keepdims=True)
    e_random = []
    for _ in range(n_random):
        d = rng.standard_normal(state.moments.shape)
        d *= size / np.linalg.norm(d, axis=1, keepdims=True)
        e_random.append(potential.compute(state.replace(moments=d), ("energy",))["energy"])
    t_mf = 2.0 * (np.mean(e_random) - e_fm) / (3.0 * state.n_atoms * K_B)
    if not t_mf > 0:
        raise ValueError("random moment directions lie below the ferromagnet: the reference is "
                         "not ferromagnetic, there is no Curie temperature to find")
    return float(t_mf)
