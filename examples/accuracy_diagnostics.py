"""Where the held-out error sits: per-frame diagnostics for docs/accuracy.md (examples/accuracy.py).

* :func:`fe_error_concentration`: the Fe test frames with the largest energy error (volume per
  atom, |m|, energy above the lowest reference energy per atom) and the test RMSE without them.
* :func:`fe_error_by_range`: the Fe test errors binned by how far a frame is from equilibrium
  (energy above the lowest reference energy per atom; largest reference stress component).
* :func:`fe_training_residuals`: where the *training* energy error of a run sits (elastic
  cells by nearest-neighbour distance and |m|) and whether a least-squares pair potential
  fitted to the residuals removes it (a missing pair term would).
* :func:`fe_model_agreement`: whether differently trained models share their largest test
  errors, how far those frames are from the training set, and what a committee mean gives.
* :func:`fe_label_consistency`: whether the reference stresses are the strain derivative of the
  reference energies (pairs of frames related by a small strain,
  :mod:`spinlattice.potentials.training.labels`), per config type, and whether the same
  structures carry the same energy in different config types.
* :func:`nio_constraint_outliers`: NiO frames whose constrained Ni moment magnitudes are off the
  DeltaSpin target (an unconverged constraint: the longitudinal magnetic force then carries the
  longitudinal stiffness, which frames at fixed |m| never show) and the magnetic-force error
  of the held-out-folder models with and without them.
"""

import json
from pathlib import Path

import numpy as np

from spinlattice.units import GPA


def frames_of_split(run, frames, which="test"):
    """The ``which`` ("train", "valid" or "test") frames of ``run`` (from its split.json)."""
    return [frames[i] for i in json.loads((Path(run) / "split.json").read_text())[which]]


def evaluate_test_set(run, frames, stationary=False):
    """(test frames, per-frame energy error meV/atom, collect_errors dict) of a run;
    ``stationary``: with the labels h = 0 (so the dict also holds h at the DFT moments; energy,
    forces and stress are the same). One evaluation serves every Fe table below."""
    from spinlattice.potentials.training.data import with_stationary_moments, without_moments
    from spinlattice.potentials.training.loop import load_any_model
    from spinlattice.potentials.training.loss import collect_errors

    test = frames_of_split(run, frames)
    if json.loads((Path(run) / "config.json").read_text())["data"]["zero_moments"]:
        test = [without_moments(f) for f in test]  # a non-magnetic run's frames
    if stationary:
        test = with_stationary_moments(test)
    err = collect_errors(load_any_model(Path(run) / "model.pt"), test)
    return test, (err["pred_energy"] - err["ref_energy"]) * 1e3, err


def _e_min(frames):
    """Lowest reference energy per atom (eV) of the data set."""
    return min(f.energy / f.n_atoms for f in frames)


def fe_error_concentration(w, name, evaluated, frames, n_top=5):
    """Markdown: the ``n_top`` test frames of run ``name`` (``evaluated`` =
    :func:`evaluate_test_set`) with the largest |energy error| and the energy RMSE of the test
    set with and without them."""
    test, d, _ = evaluated
    e_min = _e_min(frames)
    top = np.argsort(-np.abs(d))[:n_top]
    share = float(np.sum(d[top] ** 2) / np.sum(d ** 2))
    rest = np.sqrt(np.mean(np.delete(d, top) ** 2))
    w(f"Largest test energy errors of `{name}` (they carry {100 * share:.0f} % of the "
      f"squared error; test energy RMSE {np.sqrt(np.mean(d ** 2)):.1f} meV/atom, "
      f"{rest:.1f} without these {n_top} of {len(d)} frames):\n")
    w("| config type | atoms | volume [Å³/atom] | mean \\|m\\| [μB] | E − E_min [eV/atom] | "
      "error [meV/atom] |")
    w("|---|---|---|---|---|---|")
    for k in top:
        f = test[k]
        vol = abs(np.linalg.det(f.state.cell)) / f.n_atoms
        m = np.linalg.norm(f.state.moments, axis=1).mean()
        w(f"| {f.config_type} | {f.n_atoms} | {vol:.2f} | {m:.2f} | "
          f"{f.energy / f.n_atoms - e_min:.2f} | {d[k]:+.0f} |")
    w("")


#: bin edges: energy above E_min (eV/atom) and the largest |σ_ref| component (GPa)
ENERGY_BINS = (0.0, 0.25, 0.5, 1.0, np.inf)
STRESS_BINS = (0.0, 10.0, 50.0, 100.0, np.inf)


def _bin_masks(values, bins):
    """{(lo, hi): mask} for the bins [lo, hi) of ``values``."""
    return {(lo, hi): (values >= lo) & (values < hi) for lo, hi in zip(bins[:-1], bins[1:])}


def fe_error_by_range(w, name, evaluated, frames):
    """Markdown: test RMSE of energy (meV/atom), forces (meV/Å) and stress (GPa) of run
    ``name`` (``evaluated`` = :func:`evaluate_test_set`) in bins of E − E_min per atom and of
    max |σ_ref|. The issue's targets are single numbers over a test set whose 2-atom elastic
    cells reach 7.8 eV/atom above E_min and |σ| ≈ 400 GPa; this shows where the error sits
    against the range a simulation visits."""
    test, d, err = evaluated
    e_min = _e_min(frames)
    above = np.array([f.energy / f.n_atoms - e_min for f in test])
    n_at = np.array([f.n_atoms for f in test])
    df = (err["pred_forces"] - err["ref_forces"]).reshape(-1, 3)
    frame_of_atom = np.repeat(np.arange(len(test)), n_at)
    stress_ok = err["ref_stress"].size == 9 * len(test)
    if stress_ok:
        ds = (err["pred_stress"] - err["ref_stress"]).reshape(-1, 9) / GPA
        smax = np.abs(err["ref_stress"].reshape(-1, 9)).max(axis=1) / GPA
    w(f"Test errors of `{name}` by distance from equilibrium (RMSE; energy meV/atom, "
      "forces meV/Å, stress GPa):\n")
    w("| frames with | n | energy | forces | stress |")
    w("|---|---|---|---|---|")
    groups = [(f"E − E_min in [{lo:g}, {hi:g}) eV/atom", m)
              for (lo, hi), m in _bin_masks(above, ENERGY_BINS).items()]
    if stress_ok:
        groups += [(f"max \\|σ_ref\\| in [{lo:g}, {hi:g}) GPa", m)
                   for (lo, hi), m in _bin_masks(smax, STRESS_BINS).items()]
    for name, m in groups:
        if not m.any():
            continue
        e = np.sqrt(np.mean(d[m] ** 2))
        f = (f"{1e3 * np.sqrt(np.mean(df[m[frame_of_atom]] ** 2)):.0f}"
             if len(df) == n_at.sum() else "—")
        s_ = f"{np.sqrt(np.mean(ds[m] ** 2)):.2f}" if stress_ok else "—"
        w(f"| {name.replace('inf', '∞')} | {m.sum()} | {e:.1f} | {f} | {s_} |")
    w("")


#: the pair basis of fe_training_residuals: Gaussians every 0.125 Å (width 0.125 Å) from 1.5 Å
#: to the cutoff, times the cosine cutoff
PAIR_CENTRES, PAIR_WIDTH, PAIR_CUTOFF = np.arange(1.5, 4.51, 0.125), 0.125, 4.5


def _pair_features(r, n_atoms):
    """(K,) per-atom sums of the pair basis over the directed pair distances ``r`` (Å) of a
    frame: ½ Σ_{i≠j} b_k(r_ij) / N."""
    fc = 0.5 * (np.cos(np.pi * r / PAIR_CUTOFF) + 1.0)
    b = np.exp(-(((r[:, None] - PAIR_CENTRES) / PAIR_WIDTH) ** 2)) * fc[:, None]
    return 0.5 * b.sum(axis=0) / n_atoms


def fe_training_residuals(w, run, frames, ridge=1e-2):
    """Markdown: the training-set energy error of ``run`` on the 2-atom elastic cells
    (CCMC-bcc-hcp-elastic) binned by the shortest interatomic distance d_min and by mean |m|,
    against the other config types; then ridge least squares of the per-atom energy residual
    of the training frames on a pair basis (E_pair/N = Σ_k c_k ½ Σ_ij b_k(r_ij)/N), applied to
    validation and test. If the model lacked a pair term (e.g. the steep repulsion under
    compression) this would remove much of the error."""
    from spinlattice.neighbors import state_neighbor_list
    from spinlattice.potentials.training.loop import load_any_model
    from spinlattice.potentials.training.loss import collect_errors

    model = load_any_model(Path(run) / "model.pt")
    sets = {k: frames_of_split(run, frames, k) for k in ("train", "valid", "test")}
    res = {}
    for k, fs in sets.items():
        err = collect_errors(model, fs)
        res[k] = (err["pred_energy"] - err["ref_energy"]) * 1e3
    dist = {k: [state_neighbor_list(f.state, PAIR_CUTOFF).distances for f in fs]
            for k, fs in sets.items()}
    train, d = sets["train"], res["train"]
    cell = np.array([f.config_type == "CCMC-bcc-hcp-elastic_Jun2020" for f in train])
    dmin = np.array([r.min() for r in dist["train"]])
    mag = np.array([np.linalg.norm(f.state.moments, axis=1).mean() for f in train])
    w(f"Training-set energy RMSE of `{Path(run).name}` [meV/atom] (2-atom elastic cells by "
      f"d_min and by mean |m|; all other config types {np.sqrt(np.mean(d[~cell] ** 2)):.1f} "
      f"over {np.sum(~cell)} frames):\n")
    w("| elastic cells with | n | energy RMSE |")
    w("|---|---|---|")
    for label, values, bins in (("d_min [Å]", dmin, (0, 1.9, 2.1, 2.3, 2.5, np.inf)),
                                ("mean \\|m\\| [μB]", mag, (0, 0.5, 1.5, 2.5, np.inf))):
        for (lo, hi), m in _bin_masks(values, bins).items():
            m = m & cell
            if m.any():
                w(f"| {label} in [{lo:g}, {hi:g}) | {m.sum()} | "
                  f"{np.sqrt(np.mean(d[m] ** 2)):.1f} |".replace("inf", "∞"))
    X = {k: np.array([_pair_features(r, f.n_atoms) for r, f in zip(dist[k], fs)])
         for k, fs in sets.items()}
    A = X["train"]
    c = np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), -A.T @ d)
    w("\nA pair potential fitted to the training residuals (ridge least squares, "
      f"{len(PAIR_CENTRES)} Gaussians from 1.5 to 4.5 Å) changes the energy RMSE "
      + ", ".join(f"{k} {np.sqrt(np.mean(res[k] ** 2)):.1f} → "
                  f"{np.sqrt(np.mean((res[k] + X[k] @ c) ** 2)):.1f}" for k in sets)
      + " meV/atom.\n")


def nearest_training_distance(test, train):
    """(n_test,) Euclidean distance from each test frame to the nearest training frame in the
    per-atom pair-distance histogram of :func:`_pair_features` (a structural descriptor: equal
    for frames whose pair-distance distributions agree up to 4.5 Å, moments ignored)."""
    from spinlattice.neighbors import state_neighbor_list

    def descriptor(f):
        return _pair_features(state_neighbor_list(f.state, PAIR_CUTOFF).distances, f.n_atoms)

    X = np.array([descriptor(f) for f in train])
    return np.array([np.linalg.norm(X - descriptor(f), axis=1).min() for f in test])


def fe_model_agreement(w, evaluated, train, n_top=6):
    """Markdown: do differently trained models (``evaluated`` = {name: :func:`evaluate_test_set`},
    same test split) share their largest test energy errors, and are those frames far from the
    training set (:func:`nearest_training_distance` against ``train``)? Errors shared in sign
    and size by every model are a property of the data coverage, not of one fit; a committee
    mean then does not remove them, though its spread flags them."""
    names = list(evaluated)
    test = evaluated[names[0]][0]
    if len({len(evaluated[n][1]) for n in names}) != 1:
        raise ValueError("fe_model_agreement: the runs were not evaluated on the same test set")
    d = np.array([evaluated[n][1] for n in names])  # (n_models, n_test) meV/atom
    best = int(np.argmin(np.sqrt(np.mean(d ** 2, axis=1))))
    top = np.argsort(-np.abs(d[best]))[:n_top]
    spread = d.std(axis=0)
    far = nearest_training_distance(test, train)
    w(f"Energy errors [meV/atom] of {len(names)} runs on the test frames where "
      f"`{names[best]}` errs most; the distance to the nearest training frame (pair-distance "
      f"histogram) is given as its rank among the {len(test)} test frames (1 = most isolated):\n")
    w("| frame | volume [Å³/atom] | " + " | ".join(f"`{n}`" for n in names)
      + " | spread | isolation rank |")
    w("|---" * (len(names) + 4) + "|")
    rank = np.empty(len(far), int)
    rank[np.argsort(-far)] = np.arange(1, len(far) + 1)
    for k in top:
        f = test[k]
        vol = abs(np.linalg.det(f.state.cell)) / f.n_atoms
        w(f"| {f.config_type[:12]} ({f.n_atoms} atoms) | {vol:.1f} | "
          + " | ".join(f"{x:+.0f}" for x in d[:, k]) + f" | {spread[k]:.0f} | {rank[k]} |")
    committee = np.sqrt(np.mean(d.mean(axis=0) ** 2))
    w(f"\nCommittee mean of the {len(names)} runs: test energy RMSE {committee:.1f} meV/atom "
      f"(best single run {np.sqrt(np.mean(d[best] ** 2)):.1f}). Spread across runs: median "
      f"{np.median(spread):.1f} meV/atom over the test set, {np.median(spread[top]):.0f} on "
      f"the frames above. Median isolation rank of the {n_top} frames: "
      f"{int(np.median(rank[top]))}.\n")


def fe_committees(w, evaluated, committees):
    """Markdown: test errors of the committee mean of each list of runs in ``committees``
    (:class:`spinlattice.CommitteePotential`; members from ``evaluated``, as returned by
    :func:`evaluate_test_set`), and for the largest committee how well its spread σ_E ranks
    the frames' energy errors (:func:`spread_ranking`)."""
    from spinlattice.potentials.training.loss import (combine_errors, metrics, metrics_table,
                                                      spread_ranking, spread_ranking_text)

    committees = [c for c in committees if all(name in evaluated for name in c)]
    if not committees:
        return
    w("### A committee of models\n")
    w("The mean of several models is a potential too (`spinlattice.CommitteePotential`; "
      "`spinlattice evaluate A.pt B.pt DATA`). Test RMSE of the mean and of its members "
      "(energy meV/atom / forces meV/Å / stress GPa):\n")
    w("| committee | mean | members |")
    w("|---|---|---|")

    def cells(o):
        return (f"{o['energy']['rmse']:.2f} / {o['forces']['rmse']:.1f} / "
                f"{o['stress']['rmse']:.2f}")

    combined = {}
    for names in committees:
        combined[tuple(names)] = combine_errors([evaluated[n][2] for n in names])
        mean = metrics(combined[tuple(names)])["overall"]
        each = [cells(metrics(evaluated[n][2])["overall"]) for n in names]
        w(f"| {' + '.join(names)} | {cells(mean)} | {'; '.join(each)} |")
    largest = max(committees, key=len)
    combined = combined[tuple(largest)]
    w(f"\nThe spread of the {len(largest)} members, σ_E (standard deviation of their energies "
      "per atom), as an error estimate on the test frames:\n")
    w("```\n" + spread_ranking_text(spread_ranking(combined)) + "\n```\n")
    w(metrics_table(metrics(combined), f"committee of {len(largest)}, test set") + "\n")


def fe_label_consistency(w, frames, max_strain=0.01, branch_tol=0.05):
    """Markdown: per config type, whether the reference stresses are the strain derivative of
    the reference energies, and the energy offsets between config types that hold the same
    structures (:func:`~spinlattice.potentials.training.labels.consistency_by_group`)."""
    from spinlattice.potentials.training.labels import consistency_by_group, offset_text
    c = consistency_by_group(frames, max_strain, branch_tol=branch_tol)
    w(f"Pairs of frames with the same fractional coordinates and cells related by a strain "
      f"‖F − 1‖ ≤ {max_strain:g}, on the same magnetic branch (no site's |m| changes by more "
      f"than {branch_tol:g} μB). Residual = ΔE_ref − work of the reference stresses (and of the "
      "forces on internal displacements ≤ 0.001 in fractional coordinates; trapezoid rule, "
      "error ~ C‖F − 1‖³ V: 0.004 meV/atom at 1 % strain in EMT Cu); "
      "offset = the isotropic stress offset s that best explains it "
      "(σ_ref ≈ (1/V)∂E_ref/∂ε + s·1, a Pulay-like error):\n")
    w("| config type | pairs (same branch) | RMS ΔE_ref [meV/atom] | RMS residual [meV/atom] | "
      "offset s ± standard error | RMS residual after s [meV/atom] |")
    w("|---|---|---|---|---|---|")
    for t, g in c["groups"].items():
        w(f"| {t} | {g['n_pairs']} ({g['n_same_branch']}) | {g['rms_energy_change']:.2f} | "
          f"{g['rms_residual']:.3f} | {offset_text(g)} | {g['rms_residual_after_offset']:.3f} |")
    w("\nPairs across config types (E of the second type − E of the first − work):\n")
    w("| first type | second type | pairs | mean ± std residual [meV/atom] |")
    w("|---|---|---|---|")
    for t1, t2, n, mean, std in c["cross"]:
        w(f"| {t1} | {t2} | {n} | {mean:+.2f} ± {std:.2f} |")
    w("")


def fe_moment_stationarity(w, evaluated):
    """Markdown: for each magnetic Fe run ({name: :func:`evaluate_test_set` with ``stationary``}),
    the magnetic force h = −∂E/∂m the model gives at
    the converged DFT moments of the (magnetic) test frames -- 0 for a model whose moment
    relaxation keeps the DFT moments -- and the point-defect energy errors, where the low
    moments next to interstitials probe the magnitude dependence at fixed geometry."""
    w("| run | RMS h at the DFT moments, test [meV/μB] | of which point_def | point_def energy "
      "RMSE [meV/atom] | worst point_def frame [meV/atom] |")
    w("|---|---|---|---|---|")
    for name, (test, d, err) in evaluated.items():
        h = err["pred_magnetic_forces"].reshape(-1, 3) * 1e3
        pd = np.array([f.config_type == "point_def" for f in test])
        labelled = [f for f in test if f.magnetic_forces is not None]  # h's rows, in order
        pd_atoms = np.repeat([f.config_type == "point_def" for f in labelled],
                             [f.n_atoms for f in labelled])
        w(f"| {name} | {np.sqrt(np.mean(h ** 2)):.0f} | "
          f"{np.sqrt(np.mean(h[pd_atoms] ** 2)):.0f} | {np.sqrt(np.mean(d[pd] ** 2)):.1f} | "
          f"{d[pd][np.argmax(np.abs(d[pd]))]:+.1f} |")
    w("")


def fe_moment_relaxation(w, runs, frames, n_md=2):
    """Markdown: relax the moments (collinear along x, lengths free; positions fixed) of the
    test point-defect frames and ``n_md`` MD-bcc 300 K frames from their DFT values with each
    run's model; report how far they move (RMS and std of |m| before/after) and the energy
    gained. h = 0 at the DFT moments makes them stationary, not a minimum: the longitudinal
    curvature per site is not in data without magnetic forces."""
    import torch

    from spinlattice.drivers import minimise_moments
    from spinlattice.potentials.mmace import MMACEPotential, load_model

    w("| run | frames | RMS \\|Δm\\| [μB] | std of m_x, DFT → relaxed [μB] | "
      "corr(DFT, relaxed) | ΔE [meV/atom] |")
    w("|---|---|---|---|---|---|")
    for run in runs:
        if not (Path(run) / "model.pt").exists():
            continue
        test = frames_of_split(run, frames)
        pick = ([f for f in test if f.config_type == "point_def"]
                + [f for f in test if f.config_type == "MD-bcc_Te300K"][:n_md])
        pot = MMACEPotential(load_model(Path(run) / "model.pt", dtype=torch.float64))
        dm, sd0, sd1, corr, de = [], [], [], [], []
        for f in pick:
            r = minimise_moments(pot, f.state, mode="variable", collinear=True, axis=[1, 0, 0],
                                 tol=1e-4, max_steps=500)
            m0, m1 = f.state.moments[:, 0], r.state.moments[:, 0]
            dm.append(np.mean((m1 - m0) ** 2))
            sd0.append(m0.std())
            sd1.append(m1.std())
            corr.append(np.corrcoef(m0, m1)[0, 1])
            de.append((r.energy - r.energies[0]) / f.n_atoms)  # energies[0]: at the start
        w(f"| {Path(run).name} | {len(pick)} | {np.sqrt(np.mean(dm)):.2f} | "
          f"{np.mean(sd0):.2f} → {np.mean(sd1):.2f} | {np.mean(corr):.2f} | "
          f"{1e3 * np.mean(de):.1f} |")
    w("")


def constraint_deviation(frame, target, floor=0.5):
    """max over atoms with |m| > ``floor`` of ||m| − target| (μB)."""
    mag = np.linalg.norm(frame.state.moments, axis=1)
    return float(np.abs(mag[mag > floor] - target).max()) if (mag > floor).any() else 0.0


def nio_constraint_outliers(w, runs, frames, target=1.2737, tol=2e-3):
    """Markdown: NiO frames with max ||m_Ni| − target| > ``tol`` and the test magnetic-force
    RMSE of the data_0-held-out runs with and without them."""
    dev = np.array([constraint_deviation(f, target) for f in frames])
    bad = np.nonzero(dev > tol)[0]
    w(f"Constraint check: {len(bad)} of {len(frames)} frames have a Ni moment magnitude more than "
      f"{tol} μB off the DeltaSpin target {target} μB (median deviation {np.median(dev):.1e} μB): "
      + ", ".join(f"{frames[k].info.get('source_file', '?').split('/')[-2]} frame {k} "
                  f"({dev[k]:.4f} μB)" for k in bad) + ".\n")
    rows = []
    for sub in ("nio_soc_test0", "nio_nosoc_test0", "nio_soc_test0_mse"):
        run = Path(runs) / sub
        if not (run / "model.pt").exists():
            continue
        test_idx = json.loads((run / "split.json").read_text())["test"]
        _, _, err = evaluate_test_set(run, frames)
        n_at = [frames[i].n_atoms for i in test_idx]
        keep = np.repeat([dev[i] <= tol for i in test_idx], [3 * n for n in n_at])
        ref, pred = err["ref_magnetic_forces"], err["pred_magnetic_forces"]
        rel = [np.sqrt(np.mean((pred[s] - ref[s]) ** 2)) / np.sqrt(np.mean(ref[s] ** 2))
               for s in (np.ones_like(keep), keep)]
        rows.append(f"| {sub} | {rel[0]:.2f} | {rel[1]:.2f} |")
    if rows:
        w("| run (test folder data_0) | magnetic forces rel. RMSE | without the unconverged "
          "frame(s) |")
        w("|---|---|---|")
        for r in rows:
            w(r)
        w("")
