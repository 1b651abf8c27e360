"""Radial, magnitude and direction bases of the mMACE one-particle functions.

* Radial (Batatia et al., NeurIPS 2022, §3): Bessel functions
  b_n(r) = sqrt(2/r_c) sin(nπ r/r_c) / r, n = 1..n_bessel, times the polynomial envelope
  f_p(x) = 1 − (p+1)(p+2)/2 x^p + p(p+2) x^{p+1} − p(p+1)/2 x^{p+2}, x = r/r_c, p = 5, zero beyond r_c.
* Magnitude (Ho et al., arXiv 2604.08143, §2.2): Chebyshev T_0..T_n of x = 1 − 2 u, u = (|m|/m_max)²,
  even in |m| and smooth at m = 0. Beyond m_max the polynomials would blow up, so u is replaced by
  the C² saturating map ũ(u) = u (u ≤ 1), 1 + δ tanh((u − 1)/δ) (u > 1), δ = 0.05: every T_n stays
  bounded (|T_n(x)| ≤ T_n(1 + 2δ)) for arbitrarily large moments. The energetic consequence is
  handled by a documented saturation wall in the one-body term (see ``model.MagneticMACE``).
* Direction: real solid harmonics S_lm(m) = |m|^l Y_lm(m̂) (e3nn, ``normalize=False``),
  polynomials in the components of m, never divided by |m|.
"""

from __future__ import annotations

import functools
import math

import torch
from e3nn import o3

SATURATION_WIDTH = 0.05


def bessel_basis(r: torch.Tensor, r_max: float, n: int) -> torch.Tensor:
    """(…,) distances in Å → (…, n) Bessel functions (1/Å)."""
    k = torch.arange(1, n + 1, dtype=r.dtype, device=r.device) * math.pi / r_max
    return math.sqrt(2.0 / r_max) * torch.sin(k * r[..., None]) / r[..., None]


def polynomial_envelope(r: torch.Tensor, r_max: float, p: int = 5) -> torch.Tensor:
    """(…,) → (…,) smooth cutoff, 1 at r = 0, zero with p continuous derivatives at r_max."""
    x = r / r_max
    f = (1.0 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1)
         - p * (p + 1) / 2 * x ** (p + 2))
    return torch.where(x < 1.0, f, torch.zeros_like(f))


def saturated_square(u: torch.Tensor, width: float = SATURATION_WIDTH) -> torch.Tensor:
    """C² map u ↦ ũ equal to u for u ≤ 1 and saturating at 1 + width for u → ∞."""
    over = torch.clamp(u - 1.0, min=0.0)
    return torch.where(u <= 1.0, u, 1.0 + width * torch.tanh(over / width))


def chebyshev_magnitude_basis(moments: torch.Tensor, m_max: torch.Tensor, n: int) -> torch.Tensor:
    """(…, 3) moments (μB), (…,) per-site m_max → (…, n + 1) values T_0..T_n(1 − 2 ũ).

    T_0 = 1 is included so that linear maps of the basis contain pure constants.
    """
    u = (moments * moments).sum(-1) / (m_max * m_max)
    x = 1.0 - 2.0 * saturated_square(u)
    out = [torch.ones_like(x), x]
    for _ in range(2, n + 1):
        out.append(2.0 * x * out[-1] - out[-2])
    return torch.stack(out[: n + 1], dim=-1)


@functools.lru_cache(maxsize=None)
def _harmonics(l_max: int, normalize: bool) -> o3.SphericalHarmonics:
    """One parameter-free e3nn module per (l_max, normalize): building it costs ≈ 3 ms, more
    than evaluating it on a Monte Carlo proposal's few sites."""
    return o3.SphericalHarmonics(list(range(l_max + 1)), normalize, normalization="component")


def solid_harmonics(moments: torch.Tensor, l_max: int) -> torch.Tensor:
    """(…, 3) → (…, (l_max+1)²) real solid harmonics |m|^l Y_lm(m̂), e3nn basis and order."""
    return _harmonics(l_max, False)(moments)


def edge_harmonics(vectors: torch.Tensor, l_max: int) -> torch.Tensor:
    """(…, 3) edge vectors → (…, (l_max+1)²) spherical harmonics of the unit vector."""
    return _harmonics(l_max, True)(vectors)
