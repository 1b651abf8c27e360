"""Anisotropy scans (spinlattice.analysis.anisotropy): analytic on-site anisotropies are fitted
exactly by their own forms (the fit is linear in K1, K2, so errors are rounding: ~1e-13 relative
measured, asserted at 1e-9, well inside issue 8's 1e-6), a potential without SOC is flat."""

import warnings

import numpy as np
import pytest
from ase.build import bulk

from spinlattice.analysis.anisotropy import (
    anisotropy_scan, cubic_energy_differences, fit_cubic, fit_uniaxial, great_circle,
    sphere_directions,
)
from spinlattice.potential import SumPotential
from spinlattice.potentials import CubicAnisotropy, Landau, UniaxialAnisotropy, load_model
from spinlattice.sphere import rotation_matrix
from spinlattice.state import SpinLatticeState

M = 2.2


def bcc(moments=((0, 0, M), (0, 0, M))):
    return SpinLatticeState.from_atoms(bulk("Fe", "bcc", a=2.866, cubic=True),
                                       moments=np.array(moments, dtype=float))


def test_uniaxial_constants_recovered_on_tilted_axis():
    axis = np.array([1.0, 1.0, 0.3]) / np.linalg.norm([1.0, 1.0, 0.3])
    k1, k2 = 2e-5, -3e-6  # eV/μB², eV/μB⁴
    pot = SumPotential(load_model("fe-tb2j-abacus"),
                       UniaxialAnisotropy({"Fe": [k1, k2]}, axis=axis),
                       Landau({"Fe": (-0.1, 0.01, 0.0)}))
    scan = anisotropy_scan(pot, bcc(), sphere_directions(60))
    fit = fit_uniaxial(scan, axis=axis)
    # per atom, unit vectors: K1 |m|², K2 |m|⁴
    assert fit.K1 == pytest.approx(k1 * M**2, rel=1e-9)
    assert fit.K2 == pytest.approx(k2 * M**4, rel=1e-9)
    assert fit.rms_residual < 1e-15 and fit.K1_err < 1e-9 * abs(fit.K1)
    # sin² form: K1' = K1 + 2 K2, K2' = −K2
    assert fit.sin2 == pytest.approx((k1 * M**2 + 2 * k2 * M**4, -k2 * M**4), rel=1e-9)
    # the wrong axis leaves a residual: the fit can tell
    assert fit_uniaxial(scan, axis=(0, 0, 1)).rms_residual > 1e-3 * fit.K1


def test_cubic_constants_recovered_in_rotated_crystal_frame():
    axes = rotation_matrix([1.0, 2.0, 3.0], 0.4)
    k1, k2 = 1e-5, 4e-6  # eV/μB⁴, eV/μB⁶
    scan = anisotropy_scan(CubicAnisotropy({"Fe": [k1, k2]}, axes=axes), bcc(),
                           sphere_directions(80))
    fit = fit_cubic(scan, axes=axes)
    assert fit.K1 == pytest.approx(k1 * M**4, rel=1e-9)
    assert fit.K2 == pytest.approx(k2 * M**6, rel=1e-9)
    # closed-form energy differences along the crystal axes
    e = anisotropy_scan(CubicAnisotropy({"Fe": [k1, k2]}, axes=axes), bcc(),
                        np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]]) @ axes).energies  # d = Rᵀ c
    diffs = cubic_energy_differences(fit)
    assert e[1] - e[0] == pytest.approx(diffs["110-100"], rel=1e-9)
    assert e[2] - e[0] == pytest.approx(diffs["111-100"], rel=1e-9)


def test_antiferromagnet_keeps_its_signs_and_great_circle_fit():
    """An AFM reference is turned as a whole (m_i = s_i |m_i| d); uniaxial energies are even in
    m, so both sublattices contribute; a great circle through the axis determines K1, K2."""
    k1, k2 = 5e-6, 2e-6
    state = bcc(((0, 0, M), (0, 0, -M)))
    directions, angles = great_circle([0, 0, 1], [1, 0, 0], 13)
    scan = anisotropy_scan(UniaxialAnisotropy({"Fe": [k1, k2]}), state, directions)
    expected = -(k1 * M**2 * np.cos(angles) ** 2 + k2 * M**4 * np.cos(angles) ** 4)
    np.testing.assert_allclose(scan.energies, expected - expected[0], rtol=0, atol=1e-18)
    fit = fit_uniaxial(scan)
    assert (fit.K1, fit.K2) == pytest.approx((k1 * M**2, k2 * M**4), rel=1e-9)


def test_potential_without_soc_is_flat():
    """The check for non-SOC models: e(d) ≡ 0, so |K| is at rounding level (< 1e-12 eV/atom,
    against e.g. 1e-5 eV/atom for K1 of the test above)."""
    pot = load_model("fe-tb2j-abacus")
    assert not pot.spin_orbit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scan = anisotropy_scan(pot, bcc(), sphere_directions(40))
    assert scan.spread < 1e-12
    for fit in (fit_uniaxial(scan), fit_cubic(scan)):
        assert abs(fit.K1) < 1e-12 and abs(fit.K2) < 1e-12


def test_broken_spin_rotation_of_a_non_soc_model_is_reported():
    class Lying:
        """Claims no SOC but has an easy axis."""
        cutoff = receptive_field = 0.0
        spin_orbit = False

        def __init__(self):
            self.inner = UniaxialAnisotropy({"Fe": [1e-4, 0.0]})

        def compute(self, state, properties=("energy",)):
            return self.inner.compute(state, properties)

    with pytest.warns(UserWarning, match="broken spin-rotation"):
        anisotropy_scan(Lying(), bcc(), sphere_directions(10))


def test_underdetermined_directions_are_an_error():
    scan = anisotropy_scan(UniaxialAnisotropy({"Fe": [1e-5, 0.0]}), bcc(),
                           [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, -1]])
    with pytest.raises(ValueError, match="do not determine"):
        fit_uniaxial(scan)


@pytest.mark.slow
def test_mmace_scans_soc_and_non_soc():
    """The scan on the (untrained) mMACE: non-SOC flat; SOC gives uniaxial K in a tetragonal
    cell; in a cubic cell an SOC model with l_pos_max ≤ 3 has *zero* cubic anisotropy in a
    collinear state (Σ_j Y_lm(r̂_ij) vanishes on a cubic shell for l = 1, 2, 3), l_pos_max = 4 does
    not (docs/exchange.md). ~1 min on 2 CPU cores."""
    pytest.importorskip("torch")
    from ase import Atoms

    from spinlattice.potentials.mmace import MagneticMACE, MMACEPotential

    def pot(soc, l_pos):
        return MMACEPotential(MagneticMACE(species=[26], channels=8, r_max=4.5, l_pos_max=l_pos,
                                           l_mag_max=3, spin_orbit=soc, seed=1))

    directions = sphere_directions(16)
    flat = anisotropy_scan(pot(False, 3), bcc(), directions)
    assert flat.spread < 1e-12
    cubic3 = fit_cubic(anisotropy_scan(pot(True, 3), bcc(), directions))
    assert abs(cubic3.K1) < 1e-12 and abs(cubic3.K2) < 1e-12
    cubic4 = anisotropy_scan(pot(True, 4), bcc(), directions)
    assert cubic4.spread > 1e-6
    bct = SpinLatticeState.from_atoms(
        Atoms("Fe2", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=[2.75, 2.75, 3.16],
              pbc=True), moments=[[0, 0, M], [0, 0, M]])
    uni = fit_uniaxial(anisotropy_scan(pot(True, 3), bct, directions))
    assert abs(uni.K1) > 1e-6 and uni.rms_residual < 1e-2 * abs(uni.K1)
