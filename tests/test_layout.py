"""The dependency direction of DESIGN §3: wings import only the core; the core imports no wing
(the CLI excepted); nothing imports a bare ``potentials``/``drivers``/``analysis``; importing the
package has no heavy side effects (no torch)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WINGS = {"potentials": "spinlattice.potentials", "drivers": "spinlattice.drivers",
         "analysis": "spinlattice.analysis"}


def _imports(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def _modules(folder):
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("wing", sorted(WINGS))
def test_wings_import_only_the_core(wing):
    others = {v for k, v in WINGS.items() if k != wing}
    for path in _modules(wing):
        for name in _imports(path):
            assert name.split(".")[0] not in WINGS, f"{path}: bare import {name}"
            assert not any(name == o or name.startswith(o + ".") for o in others), \
                f"{path} imports {name}: wings must not import each other"
            assert not name.startswith("spinlattice.cli"), f"{path} imports the CLI"


def test_core_imports_no_wing():
    for path in _modules("spinlattice"):
        if "cli" in path.relative_to(ROOT / "spinlattice").parts:
            continue
        for name in _imports(path):
            assert not any(name.startswith(w) for w in WINGS.values()), f"{path} imports {name}"
            assert name.split(".")[0] not in WINGS, f"{path}: bare import {name}"


def test_import_is_light():
    code = ("import sys, spinlattice, spinlattice.potentials, spinlattice.drivers, "
            "spinlattice.analysis; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "importing spinlattice must not import torch"


def test_cli_runs():
    out = subprocess.run([sys.executable, "-m", "spinlattice", "--version"], capture_output=True,
                         text=True, check=True)
    import spinlattice
    assert out.stdout.strip() == spinlattice.__version__
