"""The walk-throughs in examples/ (run with --quick, as scripts) and the README's Python quickstart
run, and what they print is physics: so neither rots.

Each walk-through is executed by runpy with its own command line, in a temporary directory;
the assertions read the script's variables and output files.
"""

import json
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_script(name, tmp_path, monkeypatch, *args):
    path = ROOT / "examples" / name
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(path), "--quick", "--output", str(tmp_path / "out"),
                                      *args])
    return runpy.run_path(str(path), run_name="__main__")


def test_walkthrough_curie(tmp_path, monkeypatch):
    """bcc Fe, fe-tb2j-abacus, L = 4 and 6, 8 temperatures, 400 sweeps (≈ 10 s).

    The reference values (docs/curie.md, L up to 10, 3000 sweeps) are T_C = 1360 ± 7 K (fit) and
    1335 ± 8 K (Binder). The quick run's statistical errors are 20–50 K and its small cells shift
    the crossing by tens of K, so 1150–1550 K is a ≥ 4σ window; a wrong exchange convention
    (double counting: ×2 or ×½) would put T_C near 2700 or 680 K, far outside.
    """
    g = run_script("walkthrough_curie.py", tmp_path, monkeypatch)
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert g["spin_model"] and g["hybrid"] is None  # the numba spin-model path
    # mean field k_B T_MF = Σ_j J_0j |m|²/3 = 1659 K for this model (tests/test_exchange.py);
    # here estimated from 8 random-direction states of 128 atoms: a few % scatter
    assert res["T_mean_field"] == pytest.approx(1659, rel=0.05)
    assert 1150 < res["T_C_binder"] < 1550
    assert 1150 < res["T_C_fit"] < 1550
    assert res["T_C_binder"] < res["T_mean_field"]  # fluctuations lower T_C below mean field
    assert 0.2 < res["beta"] < 0.5  # 3D Heisenberg 0.369; the quick fit's error is ≈ 0.06
    for size, rows in res["observables"].items():
        rows = sorted(rows, key=lambda r: r["temperature"])
        m = [r["magnetisation"] for r in rows]
        assert np.all(np.diff(m) < 0), size  # order melts monotonically with T
        assert rows[0]["binder"] > 0.65  # → 2/3 deep in the ordered phase
    assert (tmp_path / "out" / "curie.png").stat().st_size > 10_000


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_walkthrough_curie_lattice_coupled_potential(tmp_path, monkeypatch):
    """The path a swapped-in mMACE model takes (no LocalSpinModel → hybrid MD/MC, magnitude
    moves), exercised with the analytic Fe stand-in (EAM + Bethe–Slater exchange + Landau),
    which couples moments to the lattice. Plumbing only: the stand-in is barely ferromagnetic
    (a = 2.75 Å compressed to make it one) and the quick run is tiny."""
    import spinlattice.potentials as potentials
    import spinlattice.potentials.models as models
    from spinlattice.potentials.fe_standin import bain_standin_fe

    builtin = potentials.load_model
    monkeypatch.setattr(potentials, "load_model",
                        lambda name: bain_standin_fe() if name == "stand-in" else builtin(name))
    monkeypatch.setattr(models, "reference_structure", lambda name: ("bcc", "Fe", 2.75, 2.2))
    g = run_script("walkthrough_curie.py", tmp_path, monkeypatch, "--model", "stand-in")
    assert not g["spin_model"] and g["hybrid"] is not None
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["model"] == "stand-in" and res["sizes"] == [2, 3]
    assert np.isfinite(res["T_C_fit"]) and res["T_mean_field"] > 0
    assert (tmp_path / "out" / "curie.png").exists()


def test_walkthrough_bain(tmp_path, monkeypatch):
    """Stand-in Fe model, 5 images (≈ 10 s). bcc is the ground state of the model (as of iron):
    fcc − bcc > 0 on the FM path, and fcc prefers AFM order (lower than FM fcc). The NEB cannot
    lie below the constrained c/a scan (which minimises everything else at each c/a) and meets
    it at the saddle."""
    g = run_script("walkthrough_bain.py", tmp_path, monkeypatch)
    assert g["fm_fcc_minus_bcc"] > 5.0                  # meV/atom; sign: bcc below fcc
    assert g["fm_barrier"] > g["fm_fcc_minus_bcc"]      # a real barrier between the phases
    assert 0 < g["afm_fcc_minus_bcc"] < g["fm_fcc_minus_bcc"]
    res, scan, e0 = g["res"], g["scan"], g["res"].energies[0] / 2
    neb = res.energies / 2 - e0
    assert np.all(neb >= scan.energy - e0 - 1e-6)       # eV/atom; NEB ≥ scan
    k = res.climb_index
    assert neb[k] == pytest.approx(scan.energy[k] - e0, abs=1e-5)
    assert g["mixed"].switches, "the FM → AFM path must report its magnetic switch"
    assert g["workflow"]["bcc_ground_state"] == "FM"
    assert g["workflow"]["fcc_lowest_state"] == "AFM"
    assert (tmp_path / "out" / "bain.png").stat().st_size > 10_000


def test_walkthrough_mn3pt(tmp_path, monkeypatch):
    """Synthetic Mn3Pt, 4 random starts (≈ 5 s): the search finds T1 — 120° triangles, the weak
    [111] moment of the closed-form small-tilt expansion, collinear states above by about
    (2/3)|J1|L² = 15 meV/Mn (variable length lowers it slightly)."""
    run_script("walkthrough_mn3pt.py", tmp_path, monkeypatch)
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    for key in ("variable_length", "fixed_length"):
        assert s[key]["max_triangle_deviation_deg"] < 0.01
        assert s[key]["net_moment_per_Mn"] == pytest.approx(s["predicted_weak_moment_per_Mn"],
                                                            rel=0.02)  # expansion is O(δ²)
        assert s[key]["energy_per_Mn"] == pytest.approx(s["t1_energy_per_Mn"], abs=1e-6)
    assert 13.5 < s["variable_length"]["collinear_gap_meV_per_Mn"] <= 15.0
    assert 13.5 < s["q0_collinear_gap_meV_per_Mn"] <= 15.0
    assert (tmp_path / "out" / "moments.png").exists()


def _blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def _numbers(line):
    return [float(x) for x in re.findall(r"-?\d+\.\d+", line)]


def test_readme_python_blocks_run_and_print_what_the_readme_says(tmp_path, monkeypatch, capsys):
    """Every ```python block of README.md runs; the ```text block after the quickstart holds its
    output. Printed numbers match to their last digit, Monte Carlo values (printed as
    x ± err) within 4 err (other machines round differently inside long chains)."""
    readme = (ROOT / "README.md").read_text()
    blocks = _blocks(readme, "python")
    assert blocks, "README.md has no python block"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out.strip().splitlines()
    expected = _blocks(readme, "text")[0].strip().splitlines()
    assert len(printed) == len(expected), printed
    for got, want in zip(printed, expected):
        assert re.sub(r"-?\d+\.\d+", "#", got) == re.sub(r"-?\d+\.\d+", "#", want), got
        g, w = _numbers(got), _numbers(want)
        if "±" in want:
            assert abs(g[0] - w[0]) <= 4 * max(w[1], g[1]), (got, want)
        else:
            places = [len(x.split(".")[1]) for x in re.findall(r"-?\d+\.\d+", want)]
            for a, b, p in zip(g, w, places):
                assert abs(a - b) <= 1.01 * 10.0**-p, (got, want)
