"""Maths on the sphere of moment directions: projections, torques, rotations, sampling.

All functions act on arrays of 3-vectors with shape (..., 3). Random sampling takes a
``numpy.random.Generator`` argument; nothing here holds global random state.
"""

from __future__ import annotations

import numpy as np


def tangent_projection(moments, vectors):
    """Component of ``vectors`` perpendicular to ``moments``: v − (v·m̂) m̂, shape (..., 3).

    Zero moments have no direction; there the projection returns ``vectors`` unchanged.
    """
    m = np.asarray(moments, dtype=float)
    v = np.asarray(vectors, dtype=float)
    m2 = np.sum(m * m, axis=-1, keepdims=True)
    safe = np.where(m2 > 0, m2, 1.0)
    return v - np.where(m2 > 0, np.sum(v * m, axis=-1, keepdims=True) / safe, 0.0) * m


def torque(moments, magnetic_forces):
    """Torque τ = m × h (μB · eV/μB = eV), shape (..., 3); zero at a fixed-length stationary point."""
    return np.cross(moments, magnetic_forces)


def rotation_matrix(axis, angle):
    """Proper rotation by ``angle`` (rad) about ``axis`` (3,), Rodrigues' formula, shape (3, 3)."""
    axis = np.asarray(axis, dtype=float)
    norm = np.linalg.norm(axis)
    if norm == 0:
        raise ValueError("rotation axis must be non-zero")
    k = axis / norm
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def random_rotation(rng):
    """A Haar-uniform random proper rotation (det = +1), shape (3, 3), from ``rng``."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def rotate_vectors(vectors, rotation):
    """Apply ``rotation`` (3, 3) to row vectors (..., 3): v' = R v."""
    return np.asarray(vectors) @ np.asarray(rotation).T


def uniform_on_sphere(rng, size):
    """``size`` unit vectors uniform on S², shape (size, 3) (normalised Gaussians)."""
    v = rng.standard_normal((size, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def cone_sample(rng, directions, max_angle):
    """Unit vectors uniform on the spherical cap of half-angle ``max_angle`` (rad) around each
    of ``directions`` (K, 3); returns (K, 3).

    cos θ is uniform in [cos max_angle, 1] (uniform area on the cap) and the azimuth uniform in
    [0, 2π). The proposal is symmetric — P(a→b) = P(b→a) — as Metropolis requires.
    """
    d = np.asarray(directions, dtype=float)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    k = d.shape[0]
    cos_t = 1.0 - rng.random(k) * (1.0 - np.cos(max_angle))
    sin_t = np.sqrt(np.clip(1.0 - cos_t**2, 0.0, None))
    phi = 2.0 * np.pi * rng.random(k)
    e1, e2 = orthonormal_frame(d)
    return (cos_t[:, None] * d + (sin_t * np.cos(phi))[:, None] * e1
            + (sin_t * np.sin(phi))[:, None] * e2)


def orthonormal_frame(directions):
    """Two unit vectors (e1, e2), each (K, 3), completing unit ``directions`` (K, 3) to a
    right-handed orthonormal frame (e1, e2, d)."""
    d = np.asarray(directions, dtype=float)
    helper = np.where(np.abs(d[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(helper, d)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(d, e1)
    return e1, e2


def angle_between(a, b):
    """Angle (rad) between vectors a and b (..., 3), robust near 0 and π (atan2 form)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1))
