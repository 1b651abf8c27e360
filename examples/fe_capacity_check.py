"""Can a variant of the Fe model fit the hard part of the data? A quick capacity check.

    python examples/fe_capacity_check.py [--variants base two-layer nu3 ...] [--steps 6000]

The Fe test error is dominated by the 2-atom elastic cells (config type
CCMC-bcc-hcp-elastic_Jun2020; docs/accuracy.md). Their frames have two atoms, so a step costs
≈ 1/30 of a step on the full data and architecture choices can be compared in minutes: each
variant is trained on those cells only (their own random 10 % test and 5 % validation, seed 0),
mean-squared loss from the start with E/F/σ/h = 1000/100/1000/100 (h = 0 labels,
``data.stationary_moments``), batch 16, cosine lr 1e-2 → 2e-4, one thread. The model is the
shipped one (``train_fe.py --preset default-model``: 1 layer, 64 channels, ν = 2, l_pos 3,
l_mag 1, r_max 4.5 Å) with the changes of :data:`VARIANTS`. Prints one line per variant: the
energy RMSE (meV/atom) on train / validation / test and the wall time; runs go to
``runs/capacity/<variant>`` and resume there.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_fe import DEFAULT_DATA, ELASTIC, MSE_LOSS, config  # noqa: E402

#: name -> (model overrides, loss overrides, h = 0 labels, optimiser overrides)
VARIANTS = {
    "base": ({}, {}, True, {}),
    "two-layer": ({"n_layers": 2}, {}, True, {}),
    "nu3": ({"correlation": 3}, {}, True, {}),
    "readout64": ({"readout_hidden": 64}, {}, True, {}),
    "channels128": ({"channels": 128}, {}, True, {}),
    "r5.0": ({"r_max": 5.0}, {}, True, {}),
    "r5.5": ({"r_max": 5.5}, {}, True, {}),
    "energy-only": ({}, {"forces": 0.0, "stress": 0.0, "magnetic_forces": 0.0}, False, {}),
    "energy+stress": ({}, {"forces": 0.0, "magnetic_forces": 0.0}, False, {}),
    # decoupled AdamW weight decay: each step shrinks the weights by lr · λ
    "wd0.01": ({}, {}, True, {"weight_decay": 0.01}),
    "wd0.1": ({}, {}, True, {"weight_decay": 0.1}),
}


def variant_config(name, data, steps, minutes, output):
    """The training configuration of variant ``name`` (see the module docstring)."""
    model, loss, stationary, optim = VARIANTS[name]
    cfg = config(data, "magnetic", output, minutes, steps, 1, "runs/cache/fe.pkl",
                 preset="default-model")
    cfg["split"].update(only_groups=[ELASTIC], test_groups=[])
    cfg["model"].update(model)
    cfg["loss"].update({**MSE_LOSS, **loss})
    cfg["optim"].update(batch_size=16, **optim)
    cfg["data"]["stationary_moments"] = stationary
    cfg["plots"] = False
    return cfg


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--variants", nargs="+", default=["base", "two-layer", "nu3"],
                   choices=sorted(VARIANTS))
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock cap per variant")
    p.add_argument("--output", default="runs/capacity")
    a = p.parse_args(argv)
    from spinlattice.potentials.training import train
    for name in a.variants:
        start = time.perf_counter()
        res = train(variant_config(name, a.data, a.steps, a.minutes, Path(a.output) / name),
                    log=lambda *_: None)
        rmse = {k: res["metrics"][k]["overall"]["energy"]["rmse"]
                for k in ("train", "valid", "test")}
        print(f"{name}: energy RMSE train {rmse['train']:.1f} / valid {rmse['valid']:.1f} / "
              f"test {rmse['test']:.1f} meV/atom ({(time.perf_counter() - start) / 60:.0f} min)",
              flush=True)


if __name__ == "__main__":
    main()
