"""Training pipeline of mMACE (spinlattice.potentials.training) on the small fixtures.

Tiny float64 models (≈1.6k parameters) on tests/data/fe16_spin.extxyz (2 frames of 16 Fe
atoms with energy, forces, stress and magnetic forces) keep every test to a few seconds.
"""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spinlattice.errors import InputError  # noqa: E402
from spinlattice.io import read_extxyz  # noqa: E402
from spinlattice.potentials.training import data as D  # noqa: E402
from spinlattice.potentials.training.config import resolve_config  # noqa: E402
from spinlattice.potentials.training.onebody import fit_one_body, one_body_curve  # noqa: E402

DATA = Path(__file__).parent / "data"
FE16 = DATA / "fe16_spin.extxyz"
FEAL = DATA / "feal_2cfg_with_magnetic_forces.extxyz"

TINY = {"channels": 8, "l_pos_max": 1, "l_mag_max": 1, "correlation": 2, "r_max": 4.0,
        "n_bessel": 6, "n_mag_basis": 4, "radial_hidden": 8, "readout_hidden": 0,
        "dtype": "float64"}


def _config(tmp_path, name, steps, **extra):
    cfg = {"data": {"path": str(FE16)}, "split": {"valid_fraction": 0.0},
           "model": dict(TINY), "optim": {"max_steps": steps, "batch_size": 1, "lr": 0.01},
           "eval_every": 1000, "log_every": 1000, "checkpoint_every": 1000, "plots": False,
           "evaluate_sets": ["train"], "output": str(tmp_path / name)}
    cfg.update(extra)
    return cfg


def _quiet(*a, **k):
    pass


def test_loss_decreases_on_tiny_set(tmp_path):
    """12 AMSGrad steps (MSE loss, both frames per step) on 2 frames: the (EMA) loss on the
    training frames falls below half of its value right after the one-body fit (measured:
    ≈ 0.09 of it). A broken gradient path (e.g. no create_graph for the force terms) leaves
    it flat."""
    from spinlattice.potentials.training.loop import train

    kw = dict(loss={"kind": "mse"})
    r0 = train(_config(tmp_path, "r0", 0, **kw), log=_quiet)
    cfg = _config(tmp_path, "r1", 12, **kw)
    cfg["optim"].update(batch_size=2, lr=0.03)
    r1 = train(cfg, log=_quiet)
    l0 = r0["best_valid_loss"]
    l1 = r1["best_valid_loss"]
    assert l1 < 0.5 * l0, (l0, l1)
    m = json.loads((tmp_path / "r1" / "metrics.json").read_text())
    assert set(m["metrics"]["train"]["overall"]) == {"energy", "forces", "stress",
                                                      "magnetic_forces"}
    assert (tmp_path / "r1" / "model.pt").exists()


def test_resume_after_interrupt_is_bit_identical(tmp_path):
    """Run A: 4 steps straight. Run B: Ctrl-C (KeyboardInterrupt) after step 2 writes a
    checkpoint; starting again resumes to step 4. Parameters, EMA and optimiser moments must be
    identical bit for bit (batch order and spin rotations are pure functions of (seed, step))."""
    from spinlattice.potentials.training.loop import load_training_state, train

    train(_config(tmp_path, "a", 4), log=_quiet)

    def stop(step, model):
        if step == 2:
            raise KeyboardInterrupt

    res = train(_config(tmp_path, "b", 4), callback=stop, log=_quiet)
    assert res["interrupted"] and res["step"] == 2
    assert load_training_state(tmp_path / "b" / "checkpoint.pt")["step"] == 2
    train(_config(tmp_path, "b", 4), log=_quiet)
    sa = load_training_state(tmp_path / "a" / "checkpoint.pt")
    sb = load_training_state(tmp_path / "b" / "checkpoint.pt")
    assert sa["step"] == sb["step"] == 4
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k]), k
    for x, y in zip(sa["ema"], sb["ema"]):
        assert torch.equal(x, y)
    for k, st in sa["optimizer"]["state"].items():
        for name, v in st.items():
            assert torch.equal(v, sb["optimizer"]["state"][k][name]), name
    # and training did move the weights (the comparison is not vacuous)
    r0 = train(_config(tmp_path, "c", 0), log=_quiet)
    moved = [not torch.equal(v, sa["model"][k]) for k, v in r0["model"].state_dict().items()]
    assert any(moved)


def test_one_body_fit_recovers_landau_curve():
    """Synthetic frames with E = N E0 + Σ_i (a m_i² + b m_i⁴) + noise: the regularised
    least-squares fit recovers E0 and the Landau curve. The basis (T_1..T_6 of 1 − 2m²/m_max²)
    contains m² and m⁴ exactly (noise-free the fit is exact to 1e-10 eV), so the only errors
    are the noise (1 meV per frame of 16 atoms, 300 frames → ~0.1 meV on the curve) and the
    smoothness bias (λ = 1e-9: 0.2 meV at 2.5 μB; measured 0.16 meV in all): tolerance 1 meV
    on the curve, 0.1 meV on E0. A strong penalty (λ = 1e-5) visibly flattens the curve."""
    from spinlattice.state import SpinLatticeState
    from spinlattice.io import LabelledFrame

    rng = np.random.default_rng(0)
    a, b, e0 = -1.0, 0.2, -8.0
    frames = []
    for _ in range(300):
        mags = rng.uniform(0.0, 2.5, 16)
        dirs = rng.normal(size=(16, 3))
        dirs /= np.linalg.norm(dirs, axis=1)[:, None]
        st = SpinLatticeState(positions=rng.uniform(0, 5, (16, 3)), numbers=np.full(16, 26),
                              cell=np.eye(3) * 5, pbc=True, moments=dirs * mags[:, None])
        e = 16 * e0 + np.sum(a * mags**2 + b * mags**4) + rng.normal(0, 1e-3)
        frames.append(LabelledFrame(state=st, energy=e))
    m_max = {26: 2.75}
    fit = fit_one_body(frames, [26], m_max, 6, smoothness=1e-9, ridge=1e-12)
    grid = np.linspace(0, 2.5, 51)
    curve = one_body_curve(fit, 26, 2.75, 6, grid)
    exact = a * grid**2 + b * grid**4
    assert abs(fit["e0"][26] - e0) < 1e-4
    assert np.max(np.abs(curve - exact)) < 1e-3, np.max(np.abs(curve - exact))
    stiff = fit_one_body(frames, [26], m_max, 6, smoothness=1e-5, ridge=1e-12)
    assert np.max(np.abs(one_body_curve(stiff, 26, 2.75, 6, grid) - exact)) > 0.02
    # the minimum of the Landau curve, sqrt(-a / 2b) = 1.581 μB, is where the fit puts it
    fine = np.linspace(0, 2.5, 2501)
    assert abs(fine[np.argmin(one_body_curve(fit, 26, 2.75, 6, fine))] - np.sqrt(-a / (2 * b))) < 0.02
    # without the magnetic part only E0 is fitted: the mean residual energy per atom
    fit0 = fit_one_body(frames, [26], m_max, 6, magnetic=False)
    assert np.all(fit0["coefficients"][26] == 0)
    assert fit0["rmse_per_atom"] > 10 * fit["rmse_per_atom"]


def _tiny_model(spin_orbit=False):
    from spinlattice.potentials.mmace import MagneticMACE
    cfg = {k: v for k, v in TINY.items() if k != "dtype"}
    return MagneticMACE([26], spin_orbit=spin_orbit, m_max=3.0, dtype=torch.float64, seed=3, **cfg)


def test_spin_rotation_augmentation_consistent():
    """rotate_spins applies U to moments and magnetic-force labels alike. For a non-SOC model,
    E(R, Um) = E(R, m) and h(R, Um) = U h(R, m) (float64: 1e-10 relative), so the rotated labels
    are exactly the model's rotated outputs; an SOC model is not invariant, and the
    augmentation is refused for it."""
    from spinlattice.potentials.mmace import MMACEPotential

    frame = read_extxyz(str(FE16))[0]
    U = D.random_rotation(np.random.default_rng(5))
    assert np.allclose(U @ U.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(U), 1.0)
    rot = D.rotate_spins(frame, U)
    assert np.allclose(rot.state.moments, frame.state.moments @ U.T, atol=1e-14)
    assert np.allclose(rot.magnetic_forces, frame.magnetic_forces @ U.T, atol=1e-14)
    assert np.allclose(np.linalg.norm(rot.state.moments, axis=1),
                       np.linalg.norm(frame.state.moments, axis=1), atol=1e-12)
    assert np.array_equal(rot.state.positions, frame.state.positions)
    assert rot.forces is frame.forces or np.array_equal(rot.forces, frame.forces)

    props = ("energy", "magnetic_forces")
    pot = MMACEPotential(_tiny_model(False))
    r0, r1 = pot.compute(frame.state, props), pot.compute(rot.state, props)
    scale = np.abs(r0["magnetic_forces"]).max()
    assert abs(r1["energy"] - r0["energy"]) < 1e-10 * abs(r0["energy"]) + 1e-12
    assert np.allclose(r1["magnetic_forces"], r0["magnetic_forces"] @ U.T, atol=1e-10 * scale)
    soc = MMACEPotential(_tiny_model(True))
    e0, e1 = (soc.compute(s, ("energy",))["energy"] for s in (frame.state, rot.state))
    assert abs(e1 - e0) > 1e-8  # SOC model: spin-only rotation is not a symmetry
    assert D.augmentation_default("auto", spin_orbit=False) is True
    assert D.augmentation_default("auto", spin_orbit=True) is False
    with pytest.raises(InputError, match="spin-orbit"):
        D.augmentation_default(True, spin_orbit=True)
    # a batch of augmented frames: each its own rotation, reproducible from (seed, step)
    b1 = D.augment_batch([frame, frame], seed=0, step=4)
    b2 = D.augment_batch([frame, frame], seed=0, step=4)
    assert np.array_equal(b1[0].state.moments, b2[0].state.moments)
    assert not np.allclose(b1[0].state.moments, b1[1].state.moments)


def test_bad_config_keys_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="loss.enrgy"):
        resolve_config({"data": {"path": str(FE16)}, "loss": {"enrgy": 1.0}})
    with pytest.raises(InputError, match="'modle'"):
        resolve_config({"data": {"path": str(FE16)}, "modle": {}})
    with pytest.raises(InputError, match="data.path"):
        resolve_config({})
    with pytest.raises(InputError, match="schedule"):
        resolve_config({"data": {"path": str(FE16)}, "optim": {"schedule": "linear"}})
    ft = resolve_config({"data": {"path": str(FE16)}}, finetune=True)
    assert ft["optim"]["lr"] == 5e-4 and ft["optim"]["clip"] == 10.0
    # through the CLI: exit status 2 and a message naming the key
    from spinlattice.cli.main import main
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"data": {"path": str(FE16)}, "optim": {"lrr": 1}}))
    assert main(["train", str(cfg)]) == 2


def test_split_reproducible_and_by_group():
    import dataclasses
    base = read_extxyz(str(FE16))
    frames = [dataclasses.replace(base[k % 2], config_type="a" if k % 4 else "b")
              for k in range(20)]
    s1 = D.split_frames(frames, test_groups=["b"], test_fraction=0.2, valid_fraction=0.2, seed=3)
    s2 = D.split_frames(frames, test_groups=["b"], test_fraction=0.2, valid_fraction=0.2, seed=3)
    s3 = D.split_frames(frames, test_groups=["b"], test_fraction=0.2, valid_fraction=0.2, seed=4)
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert not np.array_equal(s1["train"], s3["train"])
    assert set(np.arange(0, 20, 4)) <= set(s1["test"])  # every frame of group b
    assert len(s1["test"]) == 5 + 3 and len(s1["valid"]) == 2 and len(s1["train"]) == 10
    assert sorted(np.concatenate(list(s1.values()))) == list(range(20))
    with pytest.raises(InputError, match="not among"):
        D.split_frames(frames, test_groups=["c"])


def test_group_repeats_draw_a_group_k_times_per_epoch(tmp_path):
    """``optim.group_repeats``: each frame of a named group appears k times in the epoch's
    training list (others once); bad names and counts are clear errors; the loop trains on
    the repeated list (its checkpoint records 2 frames × 3 = 6 training entries)."""
    import dataclasses

    from spinlattice.potentials.training.loop import load_training_state, train

    base = read_extxyz(str(FE16))
    frames = [dataclasses.replace(base[0], config_type="elastic"),
              dataclasses.replace(base[1], config_type="md")]
    out = D.repeat_groups(frames, {"elastic": 3})
    assert [f.config_type for f in out] == ["elastic"] * 3 + ["md"]
    assert D.repeat_groups(frames, {}) == frames
    with pytest.raises(InputError, match="no training frame has config_type 'liquid'"):
        D.repeat_groups(frames, {"liquid": 2})
    for bad in (0, 1.5, True):
        with pytest.raises(InputError, match="integer"):
            D.repeat_groups(frames, {"md": bad})
    cfg = _config(tmp_path, "rep", 1)
    cfg["optim"]["group_repeats"] = {"None": 3}  # the fixture's frames carry no config_type
    train(cfg, log=_quiet)
    extra = json.loads(load_training_state(tmp_path / "rep" / "checkpoint.pt")["extra_json"])
    assert extra["n_train"] == 6


def test_cli_train_finetune_evaluate(tmp_path, capsys):
    """End to end through the CLI: train 2 steps, fine-tune 1 step with the radial MLP frozen
    (frozen weights unchanged), evaluate; evaluating on an unknown element (Al) is a clear
    error, fine-tuning on it adds the element."""
    from spinlattice.cli.main import main
    from spinlattice.potentials.mmace import load_model

    cfg = _config(tmp_path, "tr", 2)
    (tmp_path / "tr.json").write_text(json.dumps(cfg))
    assert main(["train", str(tmp_path / "tr.json")]) == 0
    model_path = tmp_path / "tr" / "model.pt"
    ft = _config(tmp_path, "ft", 1, finetune={"freeze": ["radial"]})
    ft["model"] = {"dtype": "float64"}
    (tmp_path / "ft.json").write_text(json.dumps(ft))
    assert main(["finetune", str(tmp_path / "ft.json"), "--from", str(model_path)]) == 0
    before, after = load_model(model_path), load_model(tmp_path / "ft" / "model.pt")
    sb, sa = before.state_dict(), after.state_dict()
    assert all(torch.equal(sb[k], sa[k]) for k in sb if k.startswith("radial"))
    assert any(not torch.equal(sb[k], sa[k]) for k in sb if k.startswith("w_out"))
    assert main(["evaluate", str(model_path), str(FE16), "--output", str(tmp_path / "ev")]) == 0
    res = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert res["overall"]["forces"]["n"] == 2 * 16 * 3
    # a new element (Al): evaluating the Fe model on it is a clear error; fine-tuning on it
    # gives Al fresh embeddings (tests/test_mmace_species.py checks the Fe part is unchanged)
    assert main(["evaluate", str(model_path), str(FEAL)]) == 2
    assert "[13]" in capsys.readouterr().err
    grow = _config(tmp_path, "grow", 1)
    grow["data"]["path"] = str(FEAL)
    del grow["model"]
    (tmp_path / "grow.json").write_text(json.dumps(grow))
    assert main(["finetune", str(tmp_path / "grow.json"), "--from", str(model_path)]) == 0
    assert load_model(tmp_path / "grow" / "model.pt").species == [26, 13]


def test_stage_two_switches_weights_and_lr(tmp_path):
    """The second stage (MACE protocol) replaces the loss weights (and, where set, the loss
    kind) from round(start_fraction · max_steps) on and, with ``lr`` set, holds the lr
    constant; bad
    entries are errors naming the key. In a run, the energy weight of 1000 in the second stage
    shows up as a validation loss far above the first stage's (energy term × 1000/1)."""
    from spinlattice.potentials.training.config import (loss_form, loss_weights,
                                                         stage_learning_rate)
    from spinlattice.potentials.training.loop import train

    cfg = resolve_config({"data": {"path": str(FE16)}, "optim": {"max_steps": 100},
                          "stage_two": {"start_fraction": 0.75, "loss": {"energy": 1000.0},
                                        "lr": 1e-3}})
    assert loss_weights(74, cfg)["energy"] == 1.0 and loss_weights(75, cfg)["energy"] == 1000.0
    assert loss_weights(75, cfg)["forces"] == 100.0
    assert stage_learning_rate(74, cfg) > 1e-3 and stage_learning_rate(80, cfg) == 1e-3
    assert loss_form(80, cfg) == ("huber", 0.01)  # kind / delta not set: inherited
    mse = resolve_config({"data": {"path": str(FE16)}, "optim": {"max_steps": 100},
                          "stage_two": {"start_fraction": 0.5, "kind": "mse"}})
    assert loss_form(49, mse) == ("huber", 0.01) and loss_form(50, mse)[0] == "mse"
    for bad in ({"start_fraction": 1.5}, {"start_fraction": 0.5, "loss": {"enrgy": 1.0}},
                {"start_fraction": 0.5, "kind": "l1"}):
        with pytest.raises(InputError, match="stage_two"):
            resolve_config({"data": {"path": str(FE16)}, "stage_two": bad})
    run = _config(tmp_path, "s2", 4, eval_every=1, loss={"kind": "mse", "forces": 0.0,
                                                         "stress": 0.0, "magnetic_forces": 0.0},
                  stage_two={"start_fraction": 0.5, "loss": {"energy": 1000.0}})
    train(run, log=_quiet)
    rows = [json.loads(x) for x in (tmp_path / "s2" / "log.jsonl").read_text().splitlines()]
    valid = {r["step"]: r for r in rows if r["event"] == "eval"}
    assert valid[2]["best_step"] == 2  # best restarted with the new weights
    assert valid[2]["valid_loss"] > 100 * valid[1]["valid_loss"]


def test_set_threads_holds_across_a_parallel_neighbour_list():
    """A one-thread training run stays on one torch thread after numba's parallel neighbour
    list: numba's OpenMP layer shares libgomp with torch and leaves the calling thread's OpenMP
    count at numba's (a run with ``threads: 1`` went on with two busy threads before)."""
    import numba

    from spinlattice.neighbors import _PARALLEL_MIN_ATOMS, neighbor_list
    from spinlattice.potentials.training.loop import set_threads

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs at least two cores to show")
    n_side = int(np.ceil((_PARALLEL_MIN_ATOMS / 2) ** (1 / 3)))  # bcc: 2 atoms per cube
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    positions = 2.83 * np.concatenate([grid, grid + 0.5])
    assert len(positions) >= _PARALLEL_MIN_ATOMS
    before = torch.get_num_threads(), numba.get_num_threads()
    try:
        set_threads(1)
        neighbor_list(positions, 2.83 * n_side * np.eye(3), np.ones(3, bool), 3.0)
        assert torch.get_num_threads() == 1
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before[1])
        torch.set_num_threads(before[0])


def test_stationary_moments_label_h_zero(tmp_path):
    """``data.stationary_moments``: frames without a magnetic-force label get h = 0 (converged
    unconstrained DFT moments are stationary points of E); measured labels and all-zero-moment
    frames are left alone; the labels reach the loss and metrics, and the one-body fit's
    "auto" still sees data without magnetic forces (E0 only)."""
    import dataclasses

    from spinlattice.potentials.training.loop import train

    frames = read_extxyz(str(FE16))
    stripped = dataclasses.replace(frames[1], magnetic_forces=None)
    zero = D.without_moments(frames[0])
    out = D.with_stationary_moments([frames[0], stripped, zero])
    assert out[0] is frames[0]
    assert np.array_equal(out[1].magnetic_forces, np.zeros((frames[1].n_atoms, 3)))
    assert out[2].magnetic_forces is None

    def run(name, stationary):
        logs = []
        data = {"path": str(FE16), "keys": {"magnetic_forces_key": None},
                "stationary_moments": stationary}
        train(_config(tmp_path, name, 1, data=data), log=logs.append)
        m = json.loads((tmp_path / name / "metrics.json").read_text())["metrics"]["train"]
        assert any("one-body fit (magnetic False)" in line for line in logs), logs
        return m["overall"]

    assert "magnetic_forces" not in run("plain", False)
    h_train = run("stationary", True)["magnetic_forces"]["rmse"]
    assert h_train > 0.0
    # evaluate: the same h at the DFT moments, through the Python API and the CLI flag
    from spinlattice.cli.main import main
    from spinlattice.potentials.training import evaluate

    keys = {"magnetic_forces_key": None}
    res = evaluate(tmp_path / "stationary" / "model.pt", FE16, keys=keys, log=_quiet,
                   stationary_moments=True)
    assert res["overall"]["magnetic_forces"]["rmse"] == pytest.approx(h_train, rel=1e-9)
    assert "magnetic_forces" not in evaluate(tmp_path / "stationary" / "model.pt", FE16,
                                             keys=keys, log=_quiet)["overall"]
    assert main(["evaluate", str(tmp_path / "stationary" / "model.pt"), str(FE16),
                 "--stationary-moments", "--output", str(tmp_path / "ev")]) == 0


def test_device_choice_is_checked(tmp_path, monkeypatch):
    """``device``: "cpu" and "auto" train on the CPU where torch sees no GPU; "cuda" there is
    a clear error before any work (not a silent CPU run), in the API and the CLI (status 2);
    a name that is no device is an error too."""
    from spinlattice.cli.main import main
    from spinlattice.potentials.training.loop import resolve_device, train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    for bad in ("cuda", "cuda:1"):
        with pytest.raises(InputError, match="no CUDA device"):
            resolve_device(bad)
    for bad in ("gpu", "tpu", "cuda:x"):
        with pytest.raises(InputError, match="'cpu', 'cuda', 'cuda:N' or 'auto'"):
            resolve_device(bad)
    res = train(_config(tmp_path, "auto", 1, device="auto"), log=_quiet)
    assert res["model"].device == torch.device("cpu")
    (tmp_path / "c.json").write_text(json.dumps(_config(tmp_path, "c", 1)))
    assert main(["train", str(tmp_path / "c.json"), "--device", "cuda"]) == 2
    assert not (tmp_path / "c" / "checkpoint.pt").exists()
    assert main(["evaluate", str(tmp_path / "auto" / "model.pt"), str(FE16),
                 "--device", "cuda"]) == 2


@pytest.mark.gpu
def test_training_on_cuda_matches_cpu(tmp_path):
    """Four float64 steps on CUDA follow the CPU run: same batches and rotations (pure
    functions of (seed, step)), so the weights agree to round-off (CUDA index_add sums in
    another order; 1e-8 relative is ~1e7 ulp of float64 headroom for 4 AMSGrad steps);
    a CUDA checkpoint resumes, and model.pt loads on the CPU."""
    from spinlattice.potentials.mmace import load_model
    from spinlattice.potentials.training.loop import load_training_state, train

    train(_config(tmp_path, "cpu", 4, device="cpu"), log=_quiet)

    def stop(step, model):
        if step == 2:
            raise KeyboardInterrupt

    assert train(_config(tmp_path, "gpu", 4, device="cuda"), callback=stop, log=_quiet)["interrupted"]
    res = train(_config(tmp_path, "gpu", 4, device="cuda"), log=_quiet)
    assert res["model"].device.type == "cuda"
    sc = load_training_state(tmp_path / "cpu" / "checkpoint.pt")["model"]
    sg = load_training_state(tmp_path / "gpu" / "checkpoint.pt")["model"]
    for k, v in sc.items():
        assert torch.allclose(sg[k].cpu(), v, rtol=1e-8, atol=1e-10), k
    cpu_model = load_model(tmp_path / "gpu" / "model.pt")
    assert cpu_model.device == torch.device("cpu")


def test_energy_shifts_harmonise_labels_in_training_and_evaluation(tmp_path):
    """``data.energy_shifts`` adds N δ to a group's energy labels before anything is fitted:
    a 0-step run with δ = 10 meV/atom has its one-body E0 (least squares) higher by 10 meV per
    atom, so its energies differ by 16 · 0.01 eV on a 16-atom frame (float64; the ridge term
    of 1e-8 moves that by < 1e-7 eV). ``evaluate(energy_shifts=...)`` compares with shifted
    labels: the energy RMSE is that of the per-frame errors minus δ. Bad specifications are
    clear errors."""
    from spinlattice.cli.train import _energy_shifts
    from spinlattice.potentials.training.loop import evaluate, resolve_energy_shifts, train
    from spinlattice.potentials.training.loss import collect_errors

    plain = train(_config(tmp_path, "plain", 0), log=_quiet)["model"]
    cfg = _config(tmp_path, "shifted", 0)
    cfg["data"]["energy_shifts"] = {"None": 0.01}  # the fixture's frames have no config_type
    shifted = train(cfg, log=_quiet)["model"]
    assert json.loads((tmp_path / "shifted" / "energy_shifts.json").read_text()) == {"None": 0.01}
    frames = read_extxyz(str(FE16))
    err = collect_errors(plain, frames)
    e_shifted = collect_errors(shifted, frames)["pred_energy"]
    np.testing.assert_allclose(e_shifted - err["pred_energy"], 0.01, atol=1e-8)  # per atom
    e = err["pred_energy"] - err["ref_energy"]
    res = evaluate(tmp_path / "plain" / "model.pt", FE16, plots=False,
                   energy_shifts={"None": 0.003}, log=_quiet)
    assert res["overall"]["energy"]["rmse"] == pytest.approx(
        1e3 * np.sqrt(np.mean((e - 0.003) ** 2)), rel=1e-9)
    assert _energy_shifts(["EOS_100=-0.00508", "a=b=1e-3"]) == {"EOS_100": -0.00508,
                                                                "a=b": 1e-3}
    for bad in (["EOS_100"], ["=0.1"], ["g=x"]):
        with pytest.raises(InputError, match="GROUP=EV_PER_ATOM"):
            _energy_shifts(bad)
    with pytest.raises(InputError, match="no frames of group 'liquid'"):
        resolve_energy_shifts({"liquid": 0.01}, frames)
    for spec in ({"None": "x"}, {"None": {"reference": "A"}}, {"None": True}):
        with pytest.raises(InputError, match="must be a number"):
            resolve_energy_shifts(spec, frames)


def test_committee_evaluation_is_the_mean_of_the_members(tmp_path, capsys):
    """``evaluate`` of two checkpoints (tiny models with other seeds, 2 steps each) scores the
    mean of their predictions: its force RMSE is that of the averaged forces of the members'
    own ``collect_errors`` (1e-10 relative: the same float64 arithmetic), and the metrics gain
    the "committee" ranking. The CLI takes several checkpoints before DATA."""
    from spinlattice.cli.main import main
    from spinlattice.potentials.mmace import load_model
    from spinlattice.potentials.training.loop import evaluate, train
    from spinlattice.potentials.training.loss import collect_errors

    paths = []
    for seed in (0, 1):
        cfg = _config(tmp_path, f"m{seed}", 2, seed=seed)
        cfg["model"]["seed"] = seed
        train(cfg, log=_quiet)
        paths.append(str(tmp_path / f"m{seed}" / "model.pt"))
    res = evaluate(paths, str(FE16), log=_quiet)
    frames = D.load_frames(FE16)
    each = [collect_errors(load_model(p), frames) for p in paths]
    mean_forces = 0.5 * (each[0]["pred_forces"] + each[1]["pred_forces"])
    want = 1e3 * np.sqrt(np.mean((mean_forces - each[0]["ref_forces"]) ** 2))
    assert res["overall"]["forces"]["rmse"] == pytest.approx(want, rel=1e-10)
    single = evaluate(paths[0], str(FE16), log=_quiet)["overall"]["forces"]["rmse"]
    assert abs(want - single) > 1e-6 * want  # the members differ
    assert res["committee"]["members"] == paths and res["committee"]["n_frames"] == 2
    assert main(["evaluate", *paths, str(FE16), "--output", str(tmp_path / "ev")]) == 0
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["overall"]["forces"]["rmse"] == pytest.approx(want, rel=1e-10)
    assert "committee of 2" in capsys.readouterr().out
