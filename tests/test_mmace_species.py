"""Fresh embeddings for new elements (spinlattice.potentials.mmace.add_species).

A float64 two-layer Fe model grown to Fe + Al must give the Fe-only structures exactly the old
energies, forces, stresses and magnetic forces (the copy is exact; only round-off of a
re-assembled sum remains, so 1e-12 relative), while the Al weights are live: changing them
changes the energy of a structure with Al and of no Fe-only structure.
"""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spinlattice.io import read_extxyz  # noqa: E402
from spinlattice.potentials.mmace import (MagneticMACE, MMACEPotential, add_species,  # noqa: E402
                                          load_model, save_model)

DATA = Path(__file__).parent / "data"
PROPS = ("energy", "forces", "stress", "magnetic_forces")


def _fe_model(n_layers=2, vector_channels=0):
    model = MagneticMACE([26], channels=8, n_layers=n_layers, correlation=3, r_max=4.0,
                         l_pos_max=2, l_mag_max=1, n_bessel=6, n_mag_basis=4, m_max=3.0,
                         radial_hidden=8, readout_hidden=4, seed=1, dtype=torch.float64,
                         vector_channels=vector_channels)
    model.set_one_body(26, coefficients=np.linspace(-0.2, 0.1, 4), e0=-3.0)
    return model


def _compute(model, state):
    return MMACEPotential(model).compute(state, PROPS)


@pytest.mark.parametrize("n_layers,vectors", [(1, 0), (2, 0), (2, 8)])
def test_old_element_predictions_unchanged(n_layers, vectors):
    fe = read_extxyz(str(DATA / "fe16_spin.extxyz"))[0].state
    model = _fe_model(n_layers, vectors)
    grown = add_species(model, [13], m_max=1.0)
    assert grown.species == [26, 13] and grown.config["m_max"][13] == 1.0
    assert grown.n_parameters() > model.n_parameters()
    ref, new = _compute(model, fe), _compute(grown, fe)
    for p in PROPS:
        scale = max(np.abs(ref[p]).max(), 1e-3)
        assert np.abs(np.asarray(new[p]) - ref[p]).max() <= 1e-12 * scale, p


def test_new_element_weights_are_live_and_saved(tmp_path):
    fe = read_extxyz(str(DATA / "fe16_spin.extxyz"))[0].state
    feal = read_extxyz(str(DATA / "feal_2cfg_with_magnetic_forces.extxyz"))[0].state
    grown = add_species(_fe_model(), [13], m_max={13: 1.0}, seed=7)
    e_fe, e_feal = _compute(grown, fe)["energy"], _compute(grown, feal)["energy"]
    assert np.isfinite(e_feal)
    save_model(grown, tmp_path / "g.pt")
    again = load_model(tmp_path / "g.pt")
    assert again.species == [26, 13]
    assert _compute(again, feal)["energy"] == pytest.approx(e_feal, rel=1e-13)
    with torch.no_grad():
        grown.w_self[0][1].add_(0.5)        # Al's own-moment weights
        grown.contractions[1].weights[1][1].mul_(2.0)
    assert _compute(grown, fe)["energy"] == pytest.approx(e_fe, rel=1e-13)
    assert abs(_compute(grown, feal)["energy"] - e_feal) > 1e-6


def test_add_species_rejects_known_elements():
    with pytest.raises(ValueError, match="already known"):
        add_species(_fe_model(1), [26], m_max=3.0)
