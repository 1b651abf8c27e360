"""Does fine-tuning pay? Pre-train mMACE on part of the Fe data, fine-tune on 10/30/100/all
frames of held-out config types, compare with training from scratch on the same frames.

    python examples/finetune_fe.py [--data ...fe_npj2021.extxyz.gz] [--stage pretrain|study|all]
                                   [--pretrain-minutes 15] [--steps 1000] [--output runs/fe_finetune]

Pre-training data: every config type except the targets BCC-HCP-transition, liquid_nonmag and
liquid_mag_old (5 % validation). Target data (229 frames): 30 % random test, 10 % validation,
training pools = the first N of a seeded permutation of the rest (nested: 10 ⊂ 30 ⊂ 100 ⊂ all).
Fine-tuning starts from the pre-trained model, first shifting its E0 by the least-squares
per-element mean residual on the N frames (``finetune.refit_one_body: "shift"``), then trains
all weights (lr 5e-4 by default and gradient clip 10 as in Ho et al., arXiv 2604.08143; cosine
schedule); "scratch" trains the same architecture from random weights
(lr 1e-2) for the same number of steps. Writes ``study.json``, ``study.md`` and
``learning_curve.png`` (test energy and force RMSE against N) into the output directory.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_fe import DEFAULT_DATA, config as fe_config  # noqa: E402

TARGETS = ["BCC-HCP-transition", "liquid_nonmag", "liquid_mag_old"]


def pretrain_config(data, out, minutes, cache, threads, preset="small", steps=3000):
    cfg = fe_config(data, "magnetic", out / "pretrain", minutes, steps, threads, cache,
                    preset=preset)
    cfg["split"] = {"group_key": "config_type", "exclude_groups": TARGETS, "valid_fraction": 0.05,
                    "seed": 0}
    cfg["evaluate_sets"] = ["valid"]
    return cfg


def target_config(data, out, n, mode, steps, cache, threads, ft_lr=5e-4, preset="small"):
    """mode: "finetune", "scratch", or "shift" (the pre-trained model with only its E0 shifted
    to the N frames: the zero-step baseline fine-tuning has to beat)."""
    cfg = fe_config(data, "magnetic", out / f"{mode}_{n}", 30.0, steps, threads, cache,
                    preset=preset)
    cfg["split"] = {"group_key": "config_type", "only_groups": TARGETS, "test_fraction": 0.3,
                    "valid_fraction": 0.1, "max_train": None if n == "all" else int(n), "seed": 0}
    cfg["optim"].update(batch_size=4, max_steps=0 if mode == "shift" else steps,
                        lr=1e-2 if mode == "scratch" else ft_lr)
    cfg.update(eval_every=max(steps // 4, 1), checkpoint_every=steps, log_every=max(steps // 4, 1),
               evaluate_sets=["test"], plots=False)
    if mode != "scratch":
        del cfg["model"]
    return cfg


def study_table(study):
    """Markdown lines: test RMSE per N for the modes every row has (fine-tune, scratch, shift)."""
    modes = [m for m in ("finetune", "scratch", "shift") if all(m in r for r in study)]
    names = " / ".join("fine-tune" if m == "finetune" else m for m in modes)
    lines = [f"| N frames | test E RMSE {names} [meV/atom] | test F RMSE [meV/Å] | "
             "test σ RMSE [GPa] |", "|---|---|---|---|"]
    for r in study:
        cells = [" / ".join(format(r[m][p], f) for m in modes)
                 for p, f in (("energy", ".1f"), ("forces", ".0f"), ("stress", ".2f"))]
        lines.append(f"| {r['n_train']} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--stage", choices=["pretrain", "study", "all"], default="all")
    p.add_argument("--pretrain-minutes", type=float, default=15.0)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--pretrain-steps", type=int, default=3000, help="cosine schedule length")
    p.add_argument("--preset", default="small", help="model/loss preset of train_fe.py")
    p.add_argument("--sizes", default="10,30,100,all")
    p.add_argument("--reuse", help="study directory whose shift/scratch rows to reuse")
    p.add_argument("--finetune-lr", type=float, default=5e-4, help="paper: 5e-4")
    p.add_argument("--threads", type=int)
    p.add_argument("--cache", default="runs/cache/fe.pkl")
    p.add_argument("--output", default="runs/fe_finetune")
    a = p.parse_args(argv)
    from spinlattice.potentials.training import finetune, train

    out = Path(a.output)
    if a.stage in ("pretrain", "all"):
        train(pretrain_config(a.data, out, a.pretrain_minutes, a.cache, a.threads, a.preset,
                              a.pretrain_steps))
    if a.stage == "pretrain":
        return
    pre = out / "pretrain" / "model.pt"
    # "shift" and "scratch" do not depend on the fine-tuning lr: --reuse takes them from an
    # earlier study of the same pre-trained model instead of recomputing them
    reuse = ({r["n"]: r for r in json.loads((Path(a.reuse) / "study.json").read_text())}
             if a.reuse else {})
    rows = []
    for n in a.sizes.split(","):
        row = {"n": n}
        for mode in ("shift", "finetune", "scratch"):
            if mode != "finetune" and mode in reuse.get(n, {}):
                row[mode] = reuse[n][mode]
                continue
            cfg = target_config(a.data, out, n, mode, a.steps, a.cache, a.threads,
                                a.finetune_lr, a.preset)
            res = train(cfg) if mode == "scratch" else finetune(cfg, pre)
            m = res["metrics"]["test"]["overall"]
            row["n_train"] = res["sets"]["train"]
            row[mode] = {k: m[k]["rmse"] for k in m}
            print(json.dumps(row), flush=True)
        rows.append(row)
        (out / "study.json").write_text(json.dumps(rows, indent=1))
    lines = study_table(rows)
    (out / "study.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    ns = [r["n_train"] for r in rows]
    for ax, prop, unit in zip(axes, ("energy", "forces"), ("meV/atom", "meV/Å")):
        for mode in ("shift", "finetune", "scratch"):
            ax.plot(ns, [r[mode][prop] for r in rows], "o-", label=mode)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training frames of the target types")
        ax.set_ylabel(f"test {prop} RMSE [{unit}]")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=110)


if __name__ == "__main__":
    main()
