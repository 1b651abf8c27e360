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


def save_chain(path, chain, records, rng):
    """Write ``chain`` (a ChainState), ``records`` (dict of lists) and ``rng``'s state."""
    from dataclasses import asdict

    path = Path(path)
    meta = {"version": _VERSION, "energy": chain.energy, "sweeps": chain.sweeps,
            "moves": asdict(chain.moves), "rng": rng.bit_generator.state,
            "bit_generator": type(rng.bit_generator).__name__}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, moments=chain.moments, magnetisation=chain.magnetisation,
                 counts=chain.counts, energy_records=np.array(records["energy"], dtype=float),
                 m_records=np.array(records["m"], dtype=float).reshape(-1, 3),
                 s_records=np.array(records["s"], dtype=float).reshape(-1, 3),
                 meta=np.array(json.dumps(meta)))
    os.replace(tmp, path)


def load_chain(path, rng):
    """(chain, records) from ``path`` with ``rng`` set to the saved state; None if no file."""
    from .montecarlo import ChainState, MoveSet

    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except Exception as exc:  # zip/npz/json errors of a damaged file
        raise FileFormatError(f"{path}: not a readable Monte Carlo checkpoint ({exc})") from exc
    if meta.get("version") != _VERSION:
        raise FileFormatError(f"{path}: checkpoint version {meta.get('version')} "
                              f"(this spinlattice writes {_VERSION})")
    if meta["bit_generator"] != type(rng.bit_generator).__name__:
        raise FileFormatError(f"{path}: saved with a {meta['bit_generator']} generator, "
                              f"resumed with {type(rng.bit_generator).__name__}")
    rng.bit_generator.state = meta["rng"]
    chain = ChainState(moments=arrays["moments"], energy=meta["energy"],
                       magnetisation=arrays["magnetisation"], counts=arrays["counts"],
                       moves=MoveSet(**meta["moves"]), sweeps=meta["sweeps"])
    records = {"energy": list(arrays["energy_records"]), "m": list(arrays["m_records"]),
               "s": list(arrays["s_records"])}
    return chain, records
