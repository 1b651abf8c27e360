import numpy as np
import pytest
from ase.build import bulk

from spinlattice import sphere, symmetry
from spinlattice.state import SpinLatticeState


def test_random_rotation_is_proper_orthogonal(rng):
    for _ in range(20):
        r = sphere.random_rotation(rng)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-13)
        assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-13)


def test_rotation_matrix_rodrigues():
    r = sphere.rotation_matrix([0, 0, 2.0], np.pi / 2)
    np.testing.assert_allclose(r @ [1.0, 0, 0], [0, 1.0, 0], atol=1e-15)


def test_uniform_on_sphere_moments(rng):
    n = 200_000
    v = sphere.uniform_on_sphere(rng, n)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-14)
    # <z> = 0 and <z²> = 1/3 for the uniform measure; standard errors 1/sqrt(3n), sqrt(4/45n)
    assert abs(v[:, 2].mean()) < 5 / np.sqrt(3 * n)
    assert abs((v[:, 2] ** 2).mean() - 1 / 3) < 5 * np.sqrt(4 / 45 / n)


def test_cone_sample_is_uniform_on_the_cap(rng):
    n, alpha = 200_000, 0.4
    d = sphere.uniform_on_sphere(rng, n)
    v = sphere.cone_sample(rng, d, alpha)
    c = np.sum(v * d, axis=1)
    assert c.min() >= np.cos(alpha) - 1e-12
    # cos θ uniform on [cos α, 1]: mean (1 + cos α)/2, sd (1 − cos α)/√12
    sd = (1 - np.cos(alpha)) / np.sqrt(12)
    assert abs(c.mean() - (1 + np.cos(alpha)) / 2) < 5 * sd / np.sqrt(n)
    # azimuth uniform: the transverse part averages to zero
    e1, _ = sphere.orthonormal_frame(d)
    assert abs(np.mean(np.sum(v * e1, axis=1))) < 5 * np.sin(alpha) / np.sqrt(2 * n)


def test_tangent_projection_and_torque(rng):
    m = rng.normal(size=(10, 3))
    h = rng.normal(size=(10, 3))
    t = sphere.tangent_projection(m, h)
    np.testing.assert_allclose(np.sum(t * m, axis=1), 0, atol=1e-13)
    np.testing.assert_allclose(sphere.torque(m, h), np.cross(m, t), atol=1e-13)
    np.testing.assert_allclose(sphere.tangent_projection(np.zeros(3), [1.0, 2, 3]), [1, 2, 3])


def test_angle_between_is_accurate_near_zero():
    a = np.array([1.0, 0, 0])
    b = np.array([1.0, 1e-9, 0])
    assert sphere.angle_between(a, b) == pytest.approx(1e-9, rel=1e-6)
    assert sphere.angle_between(a, -a) == pytest.approx(np.pi)


def _state(rng):
    atoms = bulk("Fe", "bcc", a=2.83).repeat((2, 1, 1))
    return SpinLatticeState.from_atoms(atoms, moments=rng.normal(size=(2, 3)))


def test_supercell_tiles_in_order(rng):
    s = _state(rng)
    big = symmetry.supercell(s, (1, 2, 3))
    assert big.n_atoms == 6 * s.n_atoms
    np.testing.assert_allclose(big.moments[s.n_atoms:2 * s.n_atoms], s.moments)
    np.testing.assert_allclose(big.positions[s.n_atoms], s.positions[0] + s.cell[2])
    assert big.volume == pytest.approx(6 * s.volume)


def test_transforms_are_involutions(rng):
    s = _state(rng)
    np.testing.assert_array_equal(symmetry.invert(symmetry.invert(s)).positions, s.positions)
    np.testing.assert_array_equal(symmetry.time_reverse(symmetry.time_reverse(s)).moments,
                                  s.moments)
    r = sphere.random_rotation(rng)
    back = symmetry.rotate_jointly(symmetry.rotate_jointly(s, r), r.T)
    np.testing.assert_allclose(back.positions, s.positions, atol=1e-14)
    np.testing.assert_allclose(back.moments, s.moments, atol=1e-14)
    spun = symmetry.rotate_spins(s, r)
    np.testing.assert_array_equal(spun.positions, s.positions)


def test_bad_permutation_and_repeats(rng):
    s = _state(rng)
    with pytest.raises(ValueError, match="permutation"):
        symmetry.permute(s, [0, 0])
    with pytest.raises(ValueError, match="positive"):
        symmetry.supercell(s, (0, 1, 1))
