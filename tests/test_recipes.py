"""The training recipes of examples/ build configurations the training code accepts.

resolve_config raises on any unknown key, so a renamed option would otherwise surface only
when someone reruns an hour-long recipe.
"""

import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

import fe_capacity_check  # noqa: E402
import train_fe  # noqa: E402
from spinlattice.potentials.training import resolve_config  # noqa: E402


@pytest.mark.parametrize("preset", sorted(train_fe.PRESETS))
def test_train_fe_presets_resolve(preset):
    cfg = resolve_config(train_fe.config("data.extxyz", preset=preset))
    assert cfg["split"]["test_groups"] == train_fe.TEST_TYPES


def test_polish_config_resolves_and_overrides_weights():
    cfg = train_fe.polish_config("data.extxyz", "out", 1.0, 10, 1, None, energy_weight=3000.0)
    cfg = resolve_config(cfg, finetune=True)
    assert cfg["loss"]["kind"] == "mse" and cfg["loss"]["energy"] == 3000.0


@pytest.mark.parametrize("name", sorted(fe_capacity_check.VARIANTS))
def test_capacity_variants_train_on_the_elastic_cells_only(name):
    cfg = resolve_config(fe_capacity_check.variant_config(name, "data.extxyz", 100, 1.0, "out"))
    assert cfg["split"]["only_groups"] == [fe_capacity_check.ELASTIC]
    assert cfg["split"]["test_groups"] == []
    model, loss, stationary, optim = fe_capacity_check.VARIANTS[name]
    assert all(cfg["model"][k] == v for k, v in model.items())
    assert all(cfg["loss"][k] == v for k, v in loss.items())
    assert all(cfg["optim"][k] == v for k, v in optim.items())
    assert cfg["data"]["stationary_moments"] is stationary


def test_command_line_options_replace_the_presets_loss_body_order_and_cutoff():
    from argparse import Namespace
    opts = Namespace(stationary_moments=True, device="cpu", batch_size=16, elastic_repeats=4,
                     mse=True, correlation=3, r_max=5.5, weight_decay=1e-3, harmonise_eos=True)
    cfg = train_fe._run_options(train_fe.config("data.extxyz", preset="two-layer"), opts)
    cfg = resolve_config(cfg)
    assert cfg["loss"]["kind"] == "mse" and cfg["loss"]["energy"] == 1000.0
    assert cfg["loss"]["stress"] == 1000.0 and cfg["stage_two"]["start_fraction"] is None
    assert cfg["model"]["correlation"] == 3 and cfg["model"]["n_layers"] == 2
    assert cfg["optim"]["group_repeats"] == {train_fe.ELASTIC: 4}
    assert cfg["model"]["r_max"] == 5.5 and cfg["optim"]["weight_decay"] == 1e-3
    assert cfg["data"]["energy_shifts"] == {"EOS_100": {"match": "EOS_001_Jun2020"}}
