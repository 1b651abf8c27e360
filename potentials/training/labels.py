"""Are the stress labels the strain derivative of the energy labels? A check on DFT data.

A conservative potential has σ = (1/V) ∂E/∂ε exactly (ASE sign: positive = tensile, atoms
moving affinely with the cell). Reference data need not: a finite plane-wave basis at fixed
cutoff adds a Pulay stress (Francis & Payne, J. Phys. Condens. Matter 2, 4395 (1990)), a
different smearing or k-mesh between runs adds energy noise, and a stress written with the
opposite sign convention or in the wrong unit is simply wrong. Any such mismatch is an error
floor that no model fitted to both labels can go below. Frames related by a small homogeneous
strain measure it:

    E_b − E_a = ½ [V_a σ_a : sym(F − 1) + V_b σ_b : sym(1 − F⁻¹)]
                − ½ Σ_i (f_a,i · Δs_i C_a + f_b,i · Δs_i C_b) + O(‖F − 1‖³, |Δs|³)      (1)

with C_b = C_a Fᵀ (C has the lattice vectors as rows, s_i are fractional coordinates, f_i
forces). This is the trapezoid rule for ∫ (V σ : D − f · ṡ C) dt along the straight path F(t) = 1 + t (F − 1),
s(t) = s_a + t Δs, whose rate of deformation D = sym(Ḟ F(t)⁻¹) is sym(F − 1) at a and
sym(1 − F⁻¹) at b; the error is the path's third derivative of E / 12, ~ C_ijkl ‖F − 1‖³ V.
The force term (zero for frames without forces) covers small internal displacements. (1) holds
when both frames have the same atoms at nearly the same fractional coordinates and, for
spin-polarised DFT, lie on the same magnetic branch: self-consistent moments make E stationary
in m, so moments that change smoothly with strain add nothing at first order, but a jump to
another self-consistent solution adds the energy difference of the branches.

A constant isotropic offset s in the stress labels (σ_label = σ + s·1, e.g. a Pulay stress)
changes the right side of (1) by s · V tr(ε), ε = sym(F − 1), to leading order;
:func:`stress_energy_consistency` fits s by least squares.
"""

from __future__ import annotations

import numpy as np

from spinlattice.units import GPA


def strain_pairs(frames, max_strain=0.03, position_tol=1e-3):
    """Pairs of labelled frames related by a small homogeneous strain, and eq. (1) for each.

    frames : LabelledFrame list; only frames with energy and stress labels are used.
    max_strain : largest Frobenius norm ‖F − 1‖ of the deformation gradient of a pair.
    position_tol : largest difference of fractional coordinates (modulo 1).
    Returns a dict of arrays over the n pairs: ``pairs`` (n, 2) indices into ``frames``,
    ``strain`` (n,) ‖F − 1‖, ``energy_change`` (n,) (E_b − E_a)/N eV/atom, ``work`` (n,) the
    right side of (1) per atom (eV/atom: the work of the stress and force labels),
    ``volumetric`` (n,) ½(V_a + V_b) tr(ε)/N Å³/atom (the coefficient of an isotropic stress
    offset) and ``moment_change`` (n,) max_i ||m_b,i| − |m_a,i|| μB.
    """
    groups = {}
    for k, f in enumerate(frames):
        if f.energy is not None and f.stress is not None:
            groups.setdefault(np.asarray(f.state.numbers).tobytes(), []).append(k)
    out = {name: [] for name in ("pairs", "strain", "energy_change", "work",
                                 "volumetric", "moment_change")}
    for members in groups.values():
        _pairs_of_group([frames[k] for k in members], np.array(members), max_strain,
                        position_tol, out)
    result = {k: np.asarray(v, dtype=float) for k, v in out.items()}
    result["pairs"] = result["pairs"].reshape(-1, 2).astype(np.int64)
    return result


def _pairs_of_group(frames, index, max_strain, position_tol, out):
    """Append the pairs among ``frames`` (same atomic numbers, in order) to ``out``."""
    cells = np.array([np.asarray(f.state.cell, dtype=float) for f in frames])
    vol = np.abs(np.linalg.det(cells))
    if np.any(vol < 1e-9):
        return  # non-periodic frames have no stress
    frac = np.array([np.asarray(f.state.positions) @ np.linalg.inv(c)
                     for f, c in zip(frames, cells)])
    mags = np.array([np.linalg.norm(f.state.moments, axis=1) for f in frames])
    energy = np.array([f.energy for f in frames])
    stress = np.array([np.asarray(f.stress, dtype=float).reshape(3, 3) for f in frames])
    n_atoms = frames[0].n_atoms
    forces = np.array([np.zeros((n_atoms, 3)) if f.forces is None else f.forces for f in frames])
    eye = np.eye(3)
    for a in range(len(frames) - 1):
        b = np.arange(a + 1, len(frames))
        F = np.linalg.solve(cells[a][None], cells[b]).transpose(0, 2, 1)
        norm = np.linalg.norm(F - eye, axis=(1, 2))
        d = frac[b] - frac[a]
        d -= np.round(d)
        near = (norm <= max_strain) & (np.abs(d).max(axis=(1, 2)) <= position_tol)
        for j, Fj, ds in zip(b[near], F[near], d[near]):
            eps = 0.5 * (Fj + Fj.T) - eye
            back = eye - np.linalg.inv(Fj)
            work = 0.5 * (vol[a] * np.sum(stress[a] * eps)
                          + vol[j] * np.sum(stress[j] * 0.5 * (back + back.T))
                          - np.sum(forces[a] * (ds @ cells[a]))
                          - np.sum(forces[j] * (ds @ cells[j])))
            out["pairs"].append((index[a], index[j]))
            out["strain"].append(np.linalg.norm(Fj - eye))
            out["energy_change"].append((energy[j] - energy[a]) / n_atoms)
            out["work"].append(work / n_atoms)
            out["volumetric"].append(0.5 * (vol[a] + vol[j]) * np.trace(eps) / n_atoms)
            out["moment_change"].append(np.abs(mags[j] - mags[a]).max())


def stress_energy_consistency(frames, max_strain=0.03, position_tol=1e-3, branch_tol=0.05):
    """How far the stress labels are from the strain derivative of the energy labels.

    Uses :func:`strain_pairs`; pairs whose moment magnitudes change by more than
    ``branch_tol`` μB on some site are counted as a change of magnetic branch and left out of
    the fit. Returns a dict: ``n_pairs``, ``n_same_branch``, ``rms_energy_change`` and
    ``rms_residual`` (meV/atom; residual = left − right side of (1), same-branch pairs),
    ``rms_residual_all`` (meV/atom, every pair), ``stress_offset`` (GPa; the isotropic
    offset s of the stress labels that best explains the residuals: σ_label ≈ ∂E/∂ε / V + s·1),
    ``stress_offset_error`` (GPa; its standard error: large when the pairs hardly change the
    volume) and ``rms_residual_after_offset`` (meV/atom). ``n_pairs`` = 0 (and NaN figures)
    when no frames are related by a small strain.
    """
    return _summary(strain_pairs(frames, max_strain, position_tol), branch_tol)


def _summary(p, branch_tol, select=None):
    """The dict of :func:`stress_energy_consistency` over the pairs ``p`` of
    :func:`strain_pairs` (only those where the boolean mask ``select`` is true)."""
    select = np.ones(len(p["work"]), bool) if select is None else select
    same = select & (p["moment_change"] <= branch_tol)
    residual = p["energy_change"] - p["work"]
    out = dict(n_pairs=int(select.sum()), n_same_branch=int(same.sum()))
    if not same.any():
        return {**out, **{k: float("nan") for k in (
            "rms_energy_change", "rms_residual", "rms_residual_all", "stress_offset",
            "stress_offset_error", "rms_residual_after_offset")}}
    r, a = residual[same], p["volumetric"][same]
    aa = float(np.dot(a, a))
    coef = float(np.dot(a, r)) / aa if aa > 0 else 0.0
    rest = r - coef * a
    dof = max(len(r) - 1, 1)
    error = float(np.sqrt(np.dot(rest, rest) / dof / aa)) / GPA if aa > 0 else float("inf")
    rms = lambda x: float(1e3 * np.sqrt(np.mean(x ** 2)))  # noqa: E731  eV → meV
    return {**out, "rms_energy_change": rms(p["energy_change"][same]), "rms_residual": rms(r),
            "rms_residual_all": rms(residual[select]), "stress_offset": -coef / GPA,
            "stress_offset_error": error, "rms_residual_after_offset": rms(rest)}


def offset_text(c, undetermined=1.0):
    """"+0.19 ± 0.00 GPa" for a :func:`stress_energy_consistency` result, or a note when the
    standard error exceeds ``undetermined`` GPa (pairs that hardly change the volume)."""
    if not c["stress_offset_error"] <= undetermined:
        return "undetermined (the pairs hardly change the volume)"
    return f"{c['stress_offset']:+.2f} ± {c['stress_offset_error']:.2f} GPa"


def consistency_by_group(frames, max_strain=0.01, position_tol=1e-3, branch_tol=0.05,
                         key="config_type"):
    """:func:`stress_energy_consistency` per group of frames, and the offsets between groups.

    Groups are the frames' ``config_type`` (or ``info[key]``). Pairs whose two frames come
    from different groups measure a constant energy offset between the two sets of
    calculations (different DFT settings), which no single model can fit.
    Returns {"groups": {group: consistency dict} (groups with same-branch pairs only),
    "cross": [(group 1, group 2, pairs, mean, std)]}: the residual E_2 − E_1 − work in
    meV/atom over the same-branch pairs with one frame from each group.
    """
    from .data import group_of

    names = np.array([str(group_of(f, key)) for f in frames])
    p = strain_pairs(frames, max_strain, position_tol)  # once: a group's pairs are among them
    first, second = names[p["pairs"][:, 0]], names[p["pairs"][:, 1]]
    groups = {}
    for g in sorted(set(names)):
        c = _summary(p, branch_tol, (first == g) & (second == g))
        if c["n_same_branch"]:
            groups[g] = c
    residual = 1e3 * (p["energy_change"] - p["work"])
    across = (first != second) & (p["moment_change"] <= branch_tol)
    cross = []
    for g1, g2 in sorted({tuple(sorted(x)) for x in zip(first[across], second[across])}):
        sel = across & (((first == g1) & (second == g2)) | ((first == g2) & (second == g1)))
        r = np.where(first[sel] == g1, residual[sel], -residual[sel])
        cross.append((g1, g2, int(sel.sum()), float(r.mean()), float(r.std())))
    return {"groups": groups, "cross": cross}


def twin_energy_offset(frames, group, reference, max_strain=0.01, position_tol=1e-3,
                       branch_tol=0.05, key="config_type"):
    """Energy offset of the labels of ``group`` relative to ``reference`` from twin structures.

    Twins are frames of the two groups with the same atoms at the same fractional coordinates
    (``position_tol``) and cells at most ``max_strain`` apart (:func:`strain_pairs`) on the
    same magnetic branch (``branch_tol`` μB). For each twin pair eq. (1) gives the energy
    difference the labels should have; what is left,

        δ = ⟨(E_group − E_reference)/N − W⟩_pairs    (eV/atom),

    is a constant offset between two sets of calculations (different DFT settings: k-mesh,
    smearing, PAW set), which no single model can fit. Returns (δ, standard deviation of the
    pair residuals, number of pairs), δ and its spread in eV/atom. Raises ``InputError`` when
    either group is absent or the groups share no twin.
    """
    from spinlattice.errors import InputError

    from .data import group_of

    names = [str(group_of(f, key)) for f in frames]
    for g in (group, reference):
        if g not in names:
            raise InputError(f"twin_energy_offset: no frames of group {g!r}")
    pair = [f for f, n in zip(frames, names) if n in (group, reference)]
    cross = consistency_by_group(pair, max_strain, position_tol, branch_tol, key)["cross"]
    if not cross:
        raise InputError(f"twin_energy_offset: groups {group!r} and {reference!r} share no "
                         f"structure within strain {max_strain} (no twins to measure an offset)")
    first, _, n, mean, std = cross[0]  # mean: E of the second group − E of the first − W
    sign = 1.0 if first == reference else -1.0
    return sign * 1e-3 * mean, 1e-3 * std, n
