"""Grow a trained model's element set: fresh embeddings for new elements (fine-tuning).

A :class:`~.model.MagneticMACE` stores everything element-specific along one species axis:

* ``w_block[0]`` (blocks, Q·Z·R, K): the first layer's joint radial × magnitude weights of the
  sender element, fan index (q, z, r);
* ``w_self[t]`` (Z, l_mag+1, R, K): the centre's own-moment term of every layer;
* ``contractions[t].weights[ν]`` and ``vcontractions[t].weights[ν]`` (Z, P_ν, K): the receiver
  element's contraction weights;
* buffers ``e0``, ``onebody``, ``wall``, ``m_max`` (Z, …): the one-body term and magnitude range.

:func:`add_species` builds the model for species ``old + new`` (new ones appended, so old
indices keep their one-hot positions) with the constructor's random initialisation (seeded),
then copies every old parameter and buffer into its old-species slice. Nothing else depends on
the element, so structures made only of old elements get exactly the old energies (tested to
float64 round-off), and the new elements start from the same random distribution as a model
built from scratch, with E0 = 0 and no magnitude term until the fine-tuning fit sets them.
"""

from __future__ import annotations

import torch

from .model import MagneticMACE


def _species_slices(model):
    """{parameter/buffer name: (axis view function, species axis)} of the element-specific
    tensors; the view function reshapes so that the species axis is explicit."""
    Q, R = model.Q, model.R
    out = {"w_block.0": (lambda w: w.view(w.shape[0], Q, -1, R, w.shape[-1]), 2)}
    for t in range(model.T):
        out[f"w_self.{t}"] = (lambda w: w, 0)
        for nu in range(len(model.contractions[t].weights)):
            out[f"contractions.{t}.weights.{nu}"] = (lambda w: w, 0)
    for t, vc in enumerate(model.vcontractions):
        for nu in range(len(vc.weights)):
            out[f"vcontractions.{t}.weights.{nu}"] = (lambda w: w, 0)
    for name in ("e0", "onebody", "wall", "m_max"):
        out[name] = (lambda w: w, 0)
    return out


def add_species(model, new_species, m_max, seed=None):
    """A copy of ``model`` that also knows ``new_species`` (atomic numbers, appended).

    m_max : float or {Z: float}, μB, magnitude range of the new elements.
    seed : seeds the new elements' random weights (default: the model's own seed).
    Old-element energies, forces and magnetic forces are unchanged; raises ValueError for an
    element the model already has or a non-positive m_max.
    """
    new_species = [int(z) for z in new_species]
    clash = sorted(set(new_species) & set(model.species))
    if clash or len(set(new_species)) != len(new_species):
        raise ValueError(f"add_species: elements {clash or new_species} are already known "
                         f"(model species {model.species}) or repeated")
    mm = m_max if isinstance(m_max, dict) else {z: m_max for z in new_species}
    cfg = dict(model.config)
    cfg["species"] = list(model.species) + new_species
    cfg["m_max"] = {**{int(k): float(v) for k, v in cfg["m_max"].items()},
                    **{z: float(mm[z]) for z in new_species}}
    if seed is not None:
        cfg["seed"] = int(seed)
    grown = MagneticMACE(**cfg, dtype=model.dtype, device=model.device)
    old = dict(model.state_dict())
    slices = _species_slices(model)
    n_old = len(model.species)
    with torch.no_grad():
        for name, tensor in grown.state_dict().items():
            if name not in old:
                continue
            if name in slices:
                view, axis = slices[name]
                view(tensor).narrow(axis, 0, n_old).copy_(view(old[name]))
            else:
                tensor.copy_(old[name])
    return grown
