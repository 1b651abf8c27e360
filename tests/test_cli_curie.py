"""The Curie workflow from the command line (a tiny run: the numbers are not physics here, the
plumbing is: files, keys, resumption)."""

import json
import subprocess
import sys

import pytest


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "spinlattice", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def check_results(tmp_path, n_temperatures, sizes):
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    for key in ("T_C", "T_C_err", "beta", "beta_err", "T_C_binder", "T_C_chi", "T_C_cv",
                "temperatures", "observables"):
        assert key in results
    assert len(results["temperatures"]) == n_temperatures
    assert set(results["observables"]) == sizes
    assert (tmp_path / "run" / "curie.png").stat().st_size > 10_000
    return results


def test_curie_quick_run_default_mmace_model(tmp_path):
    """The main job's path (default mMACE model, hybrid MD/MC) at toy size: 3 temperatures are
    too few for the power-law fit, so T_C falls back to the Binder crossing / χ peak with a
    warning instead of failing."""
    out = run_cli("curie", "--quick-test", "--output", "run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "T_C =" in out.stdout and "power-law fit skipped" in out.stdout
    results = check_results(tmp_path, 3, {"1", "2"})
    assert results["config"]["model"] == "fe-npj2021" and results["config"]["hybrid"]
    assert results["beta"] is None and results["T_C"] > 0
    # a second invocation finds every temperature finished and gives the same answer
    again = run_cli("curie", "--quick-test", "--output", "run", cwd=tmp_path)
    assert again.returncode == 0
    assert json.loads((tmp_path / "run" / "results.json").read_text())["T_C"] == results["T_C"]


def test_curie_quick_run_heisenberg_model(tmp_path):
    (tmp_path / "h.json").write_text('{"model": "fe-tb2j-abacus"}')
    out = run_cli("curie", "h.json", "--quick-test", "--output", "run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "T_C =" in out.stdout
    results = check_results(tmp_path, 14, {"2", "3"})
    assert results["config"]["model"] == "fe-tb2j-abacus" and results["config"]["hybrid"] is None


def test_curie_bad_config_is_a_clear_error(tmp_path):
    (tmp_path / "c.json").write_text('{"sizez": [4]}')
    out = run_cli("curie", "c.json", cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown configuration keys ['sizez']" in out.stderr
    (tmp_path / "d.json").write_text('{"model": "nickel-2000"}')
    out = run_cli("curie", "d.json", cwd=tmp_path)
    assert out.returncode == 2 and "unknown built-in model 'nickel-2000'" in out.stderr
