"""Training data: extxyz → labelled frames (cached), reproducible splits, batches, augmentation.

Everything here is numpy; torch tensors are made by :mod:`.loop` only.

* :func:`load_frames` reads an extxyz file with configurable label keys
  (:func:`spinlattice.io.read_extxyz`; each label optional per frame) and, if ``cache`` is given,
  keeps a pickle next to it keyed by the source's size, mtime and the keys (reading the 2517 Fe
  frames through ASE takes minutes on a busy 2-core machine; the pickle loads in a second).
* :func:`split_frames` makes train / valid / test index sets by whole groups (a frame's
  ``config_type`` or any ``info`` key, e.g. ``source_file``) and by random fractions of the rest,
  with a seeded ``numpy.random.Generator`` — the same seed gives the same split.
* :func:`epoch_batches` shuffles with a generator seeded by ``(seed, epoch)``: the order of any
  epoch is a pure function of the seed, so a resumed run sees exactly the batches it would have.
* :func:`rotate_spins` applies one random global rotation to the moments *and* the magnetic
  forces of a frame (h = −∂E/∂m is a vector in spin space, so for a model without spin-orbit
  coupling E(R, Um) = E(R, m) and h(R, Um) = U h(R, m)); Ho et al., arXiv 2604.08143 use this
  augmentation for collinear / non-SOC data. It is invalid for an SOC model (space and spin
  rotate together there), so :func:`augmentation_default` turns it off for SOC.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import numpy as np

from spinlattice.errors import InputError
from spinlattice.io import read_extxyz
from spinlattice.sphere import random_rotation

CACHE_VERSION = 1

#: Label keys of :func:`spinlattice.io.read_extxyz` that a training config may set.
KEY_NAMES = ("energy_key", "forces_key", "stress_key", "moment_key", "magnetic_forces_key")


def load_frames(path, keys=None, cache=None, zero_moments=False):
    """Read labelled frames from ``path`` (extxyz, optionally gzipped).

    keys : dict with any of :data:`KEY_NAMES` (defaults: the project's ``REF_*`` keys).
    cache : None, True (pickle next to nothing: ``<path>.frames.pkl`` in the working directory
        is avoided; use a path) or a path for the pickle cache; it is rebuilt when the source's
        size or mtime or the keys change.
    zero_moments : set every moment (and magnetic force label) to zero — the non-magnetic
        baseline of the same architecture.
    Returns a list of :class:`spinlattice.io.LabelledFrame`.
    """
    keys = dict(keys or {})
    bad = set(keys) - set(KEY_NAMES)
    if bad:
        raise InputError(f"unknown data keys {sorted(bad)}; allowed: {list(KEY_NAMES)}")
    path = Path(path)
    if not path.exists():
        raise InputError(f"data file {path} does not exist")
    stat = path.stat()
    tag = dict(version=CACHE_VERSION, source=str(path.resolve()), size=stat.st_size,
               mtime=stat.st_mtime, keys=sorted(keys.items()))
    frames = None
    if cache:
        cache = Path(cache)
        if cache.exists():
            try:
                with open(cache, "rb") as fh:
                    payload = pickle.load(fh)
                if payload.get("tag") == tag:
                    frames = payload["frames"]
            except Exception:  # stale or foreign cache: rebuild
                frames = None
    if frames is None:
        frames = read_extxyz(str(path), **keys)
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(cache.suffix + f".tmp{os.getpid()}")
            with open(tmp, "wb") as fh:
                pickle.dump(dict(tag=tag, frames=frames), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, cache)
    if zero_moments:
        frames = [without_moments(f) for f in frames]
    return frames


def without_moments(frame):
    """A copy of ``frame`` with all moments zero and no magnetic-force label."""
    state = frame.state.replace(moments=np.zeros_like(frame.state.moments))
    return dataclasses.replace(frame, state=state, magnetic_forces=None)


def with_stationary_moments(frames):
    """Frames of self-consistent (unconstrained) spin-polarised DFT, labelled h = −∂E/∂m = 0.

    The converged moments of an unconstrained calculation are a stationary point of the
    constrained-moment energy E(R, m), which is what mMACE models; so a frame without a
    magnetic-force label carries the exact label h = 0 (Ho et al., arXiv 2604.08143, train on
    constrained DFT, where h ≠ 0 is measured). Without it, data in which |m| tracks volume leave
    the magnitude dependence at fixed geometry unidentified (docs/accuracy_notes.md, session 5);
    the label pins its slope at the DFT moments, not its curvature.
    Frames with a measured label, and frames whose moments are all zero (∂E/∂m = 0 there by
    time reversal for any model), are returned unchanged.
    """
    out = []
    for f in frames:
        if f.magnetic_forces is None and np.any(f.state.moments):
            f = dataclasses.replace(f, magnetic_forces=np.zeros_like(f.state.moments))
        out.append(f)
    return out


def shift_energies(frames, shifts, key="config_type"):
    """Frames with harmonised energy labels: E ← E + N δ_g for every frame of group g.

    shifts : {group: δ_g in eV/atom} (e.g. from :func:`.labels.twin_energy_offset`, with the
        opposite sign, to bring one set of DFT calculations onto another's energy zero).
    Frames of other groups and frames without an energy label are returned unchanged.
    """
    for g, value in shifts.items():
        if not np.isfinite(value):
            raise InputError(f"energy shift of group {g!r} is {value}; it must be a finite "
                             "number of eV/atom")
    out = []
    for f in frames:
        delta = shifts.get(str(group_of(f, key)))  # frames without a group: "None"
        if delta and f.energy is not None:
            f = dataclasses.replace(f, energy=f.energy + f.n_atoms * float(delta))
        out.append(f)
    return out


def group_of(frame, key="config_type"):
    """The group label of a frame: its ``config_type`` or ``info[key]`` (``None`` if absent)."""
    if key == "config_type":
        return frame.config_type
    value = frame.info.get(key)
    return None if value is None else str(value)


def split_frames(frames, group_key="config_type", test_groups=(), valid_groups=(),
                 exclude_groups=(), only_groups=None, test_fraction=0.0, valid_fraction=0.1,
                 max_train=None, seed=0):
    """Index sets {"train", "valid", "test"} (sorted int arrays) of a list of frames.

    Frames whose group (:func:`group_of`) is in ``exclude_groups`` (or not in ``only_groups``
    when that is given) are dropped; those in ``test_groups`` / ``valid_groups`` go wholly to
    test / valid; of the rest, a random ``test_fraction`` goes to test, then a random
    ``valid_fraction`` (of the rest) to valid; the remainder is train, of which the first
    ``max_train`` of a seeded permutation are kept (nested: a smaller ``max_train`` gives a
    subset of a larger one with the same seed). Unknown group names raise :class:`InputError`.
    """
    if not 0.0 <= test_fraction < 1.0 or not 0.0 <= valid_fraction < 1.0:
        raise InputError("test_fraction and valid_fraction must lie in [0, 1)")
    groups = np.array([str(group_of(f, group_key)) for f in frames], dtype=object)
    present = set(groups)
    for name, wanted in (("test_groups", test_groups), ("valid_groups", valid_groups),
                         ("exclude_groups", exclude_groups), ("only_groups", only_groups or ())):
        missing = set(wanted) - present
        if missing:
            raise InputError(f"{name}: {sorted(missing)} not among the {group_key} values "
                             f"{sorted(present)}")
    rng = np.random.default_rng(seed)
    idx = np.arange(len(frames))
    keep = ~np.isin(groups, list(exclude_groups))
    if only_groups is not None:
        keep &= np.isin(groups, list(only_groups) + list(test_groups) + list(valid_groups))
    test = idx[keep & np.isin(groups, list(test_groups))]
    valid = idx[keep & np.isin(groups, list(valid_groups))]
    rest = idx[keep & ~np.isin(groups, list(test_groups) + list(valid_groups))]
    rest = rng.permutation(rest)
    n_test = int(round(test_fraction * len(rest)))
    test = np.concatenate([test, rest[:n_test]])
    rest = rest[n_test:]
    n_valid = int(round(valid_fraction * len(rest)))
    if valid_fraction > 0 and len(rest) > 1:
        n_valid = max(n_valid, 1)
    valid = np.concatenate([valid, rest[:n_valid]])
    train = rest[n_valid:]
    if max_train is not None:
        train = train[: int(max_train)]
    if len(train) == 0:
        raise InputError("the split leaves no training frames")
    return {k: np.sort(v).astype(np.int64) for k, v in
            (("train", train), ("valid", valid), ("test", test))}


def repeat_groups(frames, repeats, key="config_type"):
    """``frames`` with every frame of group g listed ``repeats[g]`` times (integers ≥ 1), so an
    epoch draws that group ``repeats[g]`` times as often: cheap, rare or hard groups (e.g. the
    2-atom elastic cells of the Fe data, ≈ 4 % of its atoms) get more optimiser steps at little
    cost. Groups not named keep one copy; a name no frame carries is an error."""
    groups = [str(group_of(f, key)) for f in frames]
    present = set(groups)
    for g, r in repeats.items():
        if g not in present:
            raise InputError(f"optim.group_repeats: no training frame has {key} {g!r}; "
                             f"groups present: {sorted(present)}")
        if not (isinstance(r, int) and not isinstance(r, bool) and r >= 1):
            raise InputError(f"optim.group_repeats[{g!r}] must be an integer ≥ 1, got {r!r}")
    return [f for f, g in zip(frames, groups) for _ in range(repeats.get(g, 1))]


def epoch_batches(n_frames, batch_size, seed, epoch, shuffle=True):
    """List of index arrays covering range(n_frames) once, shuffled by ``(seed, epoch)``."""
    order = (np.random.default_rng([int(seed), int(epoch)]).permutation(n_frames) if shuffle
             else np.arange(n_frames))
    return [order[i:i + batch_size] for i in range(0, n_frames, batch_size)]


def rotate_spins(frame, rotation):
    """A copy of ``frame`` with m_i → U m_i and h_i → U h_i (row vectors: m @ Uᵀ)."""
    U = np.asarray(rotation, dtype=np.float64)
    state = frame.state.replace(moments=frame.state.moments @ U.T)
    h = None if frame.magnetic_forces is None else frame.magnetic_forces @ U.T
    return dataclasses.replace(frame, state=state, magnetic_forces=h)


def augment_batch(frames, seed, step):
    """Each frame of a batch rotated by its own random spin rotation, seeded by (seed, step)."""
    rng = np.random.default_rng([int(seed), 7919, int(step)])
    return [rotate_spins(f, random_rotation(rng)) for f in frames]


def augmentation_default(setting, spin_orbit):
    """Resolve the config's ``augment_spin_rotation``: "auto" → on unless the model has SOC.

    Asking for it with an SOC model is an error (the rotation is not a symmetry there).
    """
    if setting == "auto":
        return not spin_orbit
    if setting and spin_orbit:
        raise InputError("augment_spin_rotation is invalid for a spin-orbit (SOC) model: "
                         "global spin rotations without spatial rotation are not a symmetry")
    return bool(setting)


def species_of(frames):
    """Sorted atomic numbers present in ``frames``."""
    return sorted({int(z) for f in frames for z in np.unique(f.state.numbers)})


def summary(frames):
    """Counts for logs: frames, atoms, labels present, groups."""
    out = dict(frames=len(frames), atoms=int(sum(f.n_atoms for f in frames)))
    for name in ("energy", "forces", "stress", "magnetic_forces"):
        out[f"with_{name}"] = int(sum(getattr(f, name) is not None for f in frames))
    types = {}
    for f in frames:
        types[str(f.config_type)] = types.get(str(f.config_type), 0) + 1
    out["config_types"] = types
    return out
