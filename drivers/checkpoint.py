"""Checkpoints of Monte Carlo chains: one ``.npz`` holding arrays, counters, move steps, the
records so far and the random generator's state, written atomically (temporary file + rename),
so an interrupted run loses at most the sweeps since the last write and resumes bit-for-bit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from spinlattice.errors import FileFormatError

_VERSION = 1


def write_checkpoint(path, kind, meta, arrays, rng):
    """Atomically write ``arrays`` (name → array) and the JSON-able ``meta`` dict, tagged with
    ``kind`` and the state of ``rng``, to the ``.npz`` file ``path`` (temporary file + rename)."""
    path = Path(path)
    meta = {**meta, "kind": kind, "rng": rng.bit_generator.state,
            "bit_generator": type(rng.bit_generator).__name__}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)


def read_checkpoint(path, kind, version, rng):
    """(meta, arrays) of a checkpoint written by :func:`write_checkpoint`, with ``rng`` set to
    the saved state; None when ``path`` does not exist. A damaged file, another kind or version,
    or another bit generator raise :class:`FileFormatError`."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except Exception as exc:  # zip/npz/json errors of a damaged file
        raise FileFormatError(f"{path}: not a readable {kind} checkpoint ({exc})") from exc
    if meta.get("kind") != kind or meta.get("version") != version:
        raise FileFormatError(f"{path}: not a version-{version} {kind} checkpoint "
                              f"(found {meta.get('kind')!r} version {meta.get('version')})")
    if meta["bit_generator"] != type(rng.bit_generator).__name__:
        raise FileFormatError(f"{path}: saved with a {meta['bit_generator']} generator, "
                              f"resumed with {type(rng.bit_generator).__name__}")
    rng.bit_generator.state = meta["rng"]
    return meta, arrays


def save_chain(path, chain, records, rng):
    """Write ``chain`` (a ChainState), ``records`` (dict of lists) and ``rng``'s state."""
    from dataclasses import asdict

    meta = {"version": _VERSION, "energy": chain.energy, "sweeps": chain.sweeps,
            "moves": asdict(chain.moves)}
    write_checkpoint(path, "Monte Carlo", meta, {
        "moments": chain.moments, "magnetisation": chain.magnetisation, "counts": chain.counts,
        "energy_records": np.array(records["energy"], dtype=float),
        "m_records": np.array(records["m"], dtype=float).reshape(-1, 3),
        "s_records": np.array(records["s"], dtype=float).reshape(-1, 3)}, rng)


def load_chain(path, rng):
    """(chain, records) from ``path`` with ``rng`` set to the saved state; None if no file."""
    from .montecarlo import ChainState, MoveSet

    loaded = read_checkpoint(path, "Monte Carlo", _VERSION, rng)
    if loaded is None:
        return None
    meta, arrays = loaded
    chain = ChainState(moments=arrays["moments"], energy=meta["energy"],
                       magnetisation=arrays["magnetisation"], counts=arrays["counts"],
                       moves=MoveSet(**meta["moves"]), sweeps=meta["sweeps"])
    records = {"energy": list(arrays["energy_records"]), "m": list(arrays["m_records"]),
               "s": list(arrays["s_records"])}
    return chain, records
