"""One-file checkpoints of :class:`MagneticMACE`: config, weights, species, format version.

The file is a plain dict of tensors, numbers and strings written by ``torch.save`` so that it
loads with ``torch.load(weights_only=True)`` (no pickled code). Corrupt, truncated or
incompatible files raise :class:`spinlattice.errors.FileFormatError`. An optional ``metadata``
entry (a JSON string: training data, split, held-out errors, reference structure, licence) travels
with the weights and is read by :func:`read_metadata`.
"""

from __future__ import annotations

import json

import torch

from spinlattice.errors import FileFormatError

FORMAT = "spinlattice-mmace"
VERSION = 1


def save_model(model, path, metadata=None):
    """Write ``model`` to ``path`` (one file); ``metadata``: a JSON-serialisable dict or None."""
    cfg = dict(model.config)
    cfg["m_max"] = {str(z): v for z, v in cfg["m_max"].items()}
    payload = dict(format=FORMAT, version=VERSION, config=cfg,
                   species=list(model.species), dtype=str(model.dtype).replace("torch.", ""),
                   state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()})
    if metadata is not None:
        payload["metadata"] = json.dumps(metadata)
    torch.save(payload, path)


def _read_payload(path):
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # corrupt / truncated / not a torch file
        raise FileFormatError(f"{path}: not a readable mMACE checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise FileFormatError(f"{path}: not an mMACE checkpoint (format tag missing)")
    if payload.get("version") != VERSION:
        raise FileFormatError(f"{path}: checkpoint version {payload.get('version')} is not "
                              f"supported (this code reads version {VERSION})")
    return payload


def read_metadata(path):
    """The metadata dict stored with a checkpoint ({} when it has none)."""
    text = _read_payload(path).get("metadata")
    if text is None:
        return {}
    try:
        meta = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise FileFormatError(f"{path}: checkpoint metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise FileFormatError(f"{path}: checkpoint metadata must be a JSON object")
    return meta


def load_model(path, device="cpu", dtype=None):
    """Read a checkpoint written by :func:`save_model`; returns a ``MagneticMACE``."""
    from .model import MagneticMACE

    payload = _read_payload(path)
    try:
        cfg = dict(payload["config"])
        cfg["m_max"] = {int(z): float(v) for z, v in cfg["m_max"].items()}
        dt = dtype or getattr(torch, payload["dtype"])
        model = MagneticMACE(**cfg, dtype=dt, device=device)
        model.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise FileFormatError(f"{path}: checkpoint does not match this model code ({exc})") from exc
    return model
