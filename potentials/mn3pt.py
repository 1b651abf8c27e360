"""Model Hamiltonian of L1₂ Mn₃Pt: a frustrated kagome antiferromagnet (SYNTHETIC MODEL, no DFT).

Structure: L1₂ (Cu₃Au type), cubic a = 3.83 Å (Mn₃Pt, Krén et al., Phys. Rev. 171, 574 (1968)):
Pt at the cube corners (0,0,0); Mn on the face centres (0,½,½), (½,0,½), (½,½,0) — sublattices
A, B, C with local four-fold axes x, y, z (the normal of the face they sit on). Each Mn has 8 Mn
and 4 Pt nearest neighbours, all at a/√2 = 2.708 Å. The Mn network is a stack of kagome layers
along every ⟨111⟩: each Mn–Mn bond lies in two Mn triangles, every triangle holds one A, B and C.

    E = −Σ_{⟨ij⟩ Mn–Mn} J₁ m_i·m_j                                (Heisenberg, J₁ < 0: AFM)
        + Σ_{⟨ij⟩ Mn–Pt} κ [(m_i·r̂_ij)² + (m_j·r̂_ij)²]            (Néel pair anisotropy)
        + Σ_{i ∈ Mn} (A|m_i|² + B|m_i|⁴)                           (Landau, longitudinal)

Terms: :class:`~.exchange.Heisenberg` with a :class:`~.couplings.ShellTable`,
:class:`NeelPairAnisotropy` (defined here: the one term the analytic set lacked, written on the
shared pair machinery), :class:`~.onsite.Landau`, summed by
:class:`spinlattice.potential.SumPotential`. Pt carries no moment (m = 0; nothing favours one).

Why these terms. With J₁ < 0 alone every triangle wants m_A + m_B + m_C = 0: the 120° states.
The four Pt neighbours of a Mn on the face ⊥ ẑ lie along r̂ = (±1, ±1, 0)/√2, so
Σ_Pt (m·r̂)² = 2(|m|² − m_z²): the Néel term is an easy axis along the local four-fold axis with
K_eff = 2κ (plus an isotropic 2κ|m|²). Projected into a (111) kagome plane that axis is the ⟨112⟩
direction pointing at the triangle's centre, so the anisotropy selects the T1 ("all-in/all-out"
⟨112⟩) triangular structure reported for Mn₃Pt and Mn₃Ir (Krén 1968; Tomeno et al., J. Appl. Phys.
86, 3853 (1999); Szunyogh et al., Phys. Rev. B 79, 020403(R) (2009) for the local anisotropy).
The local axes also have a component along the [111] plane normal, so the moments tilt out of the
plane by δ ≈ (2√2/3)K_eff/(12|J₁|) rad (small-δ expansion of the energy per Mn,
6|J₁|L²δ² − (2√2/3)K_eff L²δ), a symmetry-allowed weak moment along [111] of L·δ per Mn.

Parameters (chosen, documented; no Mn₃Pt DFT data here):
  J₁ = −2.5 meV/μB² (J₁L² = −22.5 meV per bond at L = 3 μB — the size of first-principles
      nearest-neighbour Mn–Mn couplings in L1₂ Mn₃Ir/Mn₃Pt, tens of meV, Szunyogh 2009);
  κ = 0.025 meV/μB² (K_eff = 2κ, K_eff L² = 0.45 meV per Mn: "weak", K_eff/|J₁| = 0.02;
      predicted tilt δ ≈ 0.09°, weak moment L·δ ≈ 0.0047 μB/Mn);
  B = 10 meV/μB⁴ and A from :func:`landau_for_moment`, so that |m_Mn| = 3 μB (Krén 1968 report
      ≈ 3 μB per Mn) minimises the energy of the ideal T1 state; the longitudinal stiffness
      8BL² = 0.72 eV/μB² keeps magnitudes near 3 μB in every competing state.
The energy gap 120° → best collinear state at fixed |m| = L is (2/3)|J₁|L² per Mn (every
triangle: cos-sum −3/2 versus −1 for an Ising triangle; 8/3 triangles per Mn, ½ per bond).
"""

from __future__ import annotations

import numpy as np

from spinlattice.errors import InputError
from spinlattice.potential import SumPotential
from spinlattice.state import SpinLatticeState

from .couplings import ShellTable
from .exchange import Heisenberg
from .onsite import Landau
from .pairs import PairTerm

#: Mn₃Pt cubic lattice constant, Å (Krén et al. 1968).
A_MN3PT = 3.83
#: Default model parameters (see the module doc).
J1 = -2.5e-3        # eV/μB², Mn–Mn nearest neighbours
KAPPA = 0.025e-3    # eV/μB², Mn–Pt Néel pair anisotropy
LANDAU_B = 10e-3    # eV/μB⁴
MOMENT = 3.0        # μB


class NeelPairAnisotropy(PairTerm):
    """Néel pair anisotropy E = Σ_{i<j} κ(r_ij) [(m_i·r̂_ij)² + (m_j·r̂_ij)²] (each pair once).

    coupling : a :mod:`.couplings` object giving κ(r) (eV/μB²) per species pair; κ > 0 makes the
    bond direction a hard axis for both moments. Rotating space and moments together leaves E
    unchanged (``spin_orbit = True``, no fixed lab axis); even in m (time reversal) and in r̂
    (inversion).

    Pair arrays (directed pair p with u = D/r, a = m_i·u, b = m_j·u, c = κ(r)):
    e = c (a² + b²); ∂e/∂m_i = 2c a u; ∂e/∂m_j = 2c b u;
    ∂e/∂D = c' (a² + b²) u + (2c/r) [a (m_i − a u) + b (m_j − b u)].
    """

    spin_orbit = True
    broken_symmetries = frozenset()
    #: each energy term holds one moment only: two sites never share a term (MC colouring)
    coupling_range = 0.0

    def __init__(self, coupling):
        super().__init__()
        if not all(hasattr(coupling, a) for a in ("evaluate", "cutoff", "table")):
            raise InputError(f"NeelPairAnisotropy needs a coupling (ShellTable, ...), got {coupling!r}")
        self.coupling = coupling
        self.cutoff = float(coupling.cutoff)
        self.table = coupling.table

    def __repr__(self):
        return f"NeelPairAnisotropy({self.coupling!r})"

    def _coupling(self, g):
        return self.derived(g, "coupling", lambda g: self.coupling.evaluate(g.zi, g.zj, g.distances))

    def _pair_arrays(self, g, moments, gradients):
        c, dc = self._coupling(g)
        r = g.distances
        u = g.vectors / r[:, None]
        mi, mj = moments[g.i], moments[g.j]
        a = np.einsum("pk,pk->p", mi, u)
        b = np.einsum("pk,pk->p", mj, u)
        out = {"pair_energy": c * (a * a + b * b)}
        if gradients:
            out["grad_vector"] = (dc * (a * a + b * b))[:, None] * u + (2.0 * c / r)[:, None] * (
                a[:, None] * (mi - a[:, None] * u) + b[:, None] * (mj - b[:, None] * u))
            out["grad_moment_i"] = (2.0 * c * a)[:, None] * u
            out["grad_moment_j"] = (2.0 * c * b)[:, None] * u
        return out

    def local_energy_changes(self, state, sites, new_moments):
        """ΔE_k (eV), (K,), of m[sites[k]] → new_moments[k] (K, 3), each alone.

        Only the (m_k·r̂)² terms of the bonds of k change: ΔE = Σ_{p: i_p = k} c_p
        [(m'·u_p)² − (m_k·u_p)²] (the full neighbour list holds each bond once with i = k)."""
        g = self.geometry(state)
        sites = np.asarray(sites, dtype=np.int64).reshape(-1)
        new = np.asarray(new_moments, dtype=np.float64).reshape(-1, 3)
        if sites.shape[0] != new.shape[0]:
            raise InputError(f"{sites.shape[0]} sites but {new.shape[0]} new moments")
        c, _ = self._coupling(g)
        u = g.vectors / g.distances[:, None]
        out = np.empty(len(sites))
        for k, (s, m_new) in enumerate(zip(sites, new)):
            rows = slice(g.first[s], g.first[s + 1])
            old = u[rows] @ state.moments[s]
            nw = u[rows] @ m_new
            out[k] = float(np.sum(c[rows] * (nw * nw - old * old)))
        return out


def landau_for_moment(moment=MOMENT, j1=J1, kappa=KAPPA, b=LANDAU_B):
    """Landau A (eV/μB²) such that |m_Mn| = ``moment`` minimises the energy per Mn of the ideal
    T1 state: E/Mn = (A + 2J₁ + 2κ − (4/3)κ)L² + BL⁴ (exchange of 8 bonds at 120°, halved;
    Néel term 2κ|m|² − 2κ m_z² with m_z² = (2/3)L²), so A = −2BL² − 2J₁ − (2/3)κ."""
    return -2.0 * b * moment**2 - 2.0 * j1 - (2.0 / 3.0) * kappa


def mn3pt_potential(j1=J1, kappa=KAPPA, landau_b=LANDAU_B, moment=MOMENT, a=A_MN3PT,
                    window=0.1):
    """The Mn₃Pt model of the module doc as a :class:`SumPotential` (SYNTHETIC model).

    j1 : Mn–Mn NN exchange, eV/μB² (negative: AFM); kappa : Mn–Pt Néel coupling, eV/μB²;
    landau_b : Landau B, eV/μB⁴ (A from :func:`landau_for_moment`); moment : target |m_Mn|, μB;
    a : lattice constant the shells are placed at (Å); window : shell tolerance = taper (Å).
    """
    d1 = a / np.sqrt(2.0)
    exchange = Heisenberg(ShellTable({("Mn", "Mn"): [(d1, j1)], ("Mn", "Pt"): [(d1, 0.0)]},
                                     tolerance=window, taper=window))
    neel = NeelPairAnisotropy(ShellTable({("Mn", "Pt"): [(d1, kappa)], ("Mn", "Mn"): [(d1, 0.0)]},
                                         tolerance=window, taper=window))
    landau = Landau({"Mn": (landau_for_moment(moment, j1, kappa, landau_b), landau_b, 0.0),
                     "Pt": (0.0, 0.0, 0.0)})
    return SumPotential(exchange, neel, landau)


def mn3pt_state(a=A_MN3PT, repeat=(2, 2, 2), moment=MOMENT, direction=(0.0, 0.0, 1.0)):
    """L1₂ Mn₃Pt supercell with ferromagnetic Mn moments ``moment`` μB along ``direction``, Pt 0.

    Returns (state, sublattices) where sublattices (N,) is −1 for Pt and 0, 1, 2 for Mn on the
    faces ⊥ x, y, z (positions (0,½,½), (½,0,½), (½,½,0) of each cube).
    """
    frac = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])
    numbers0 = np.array([78, 25, 25, 25])
    labels0 = np.array([-1, 0, 1, 2])
    reps = np.asarray(repeat, dtype=int).reshape(-1)
    if reps.shape != (3,) or np.any(reps < 1):
        raise InputError(f"repeat must be three positive integers, got {repeat!r}")
    shifts = np.array([(i, j, k) for i in range(reps[0]) for j in range(reps[1])
                       for k in range(reps[2])], dtype=float)
    positions = ((shifts[:, None, :] + frac[None, :, :]).reshape(-1, 3)) * a
    numbers = np.tile(numbers0, len(shifts))
    labels = np.tile(labels0, len(shifts))
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    moments = np.where((numbers == 25)[:, None], moment * d[None, :], 0.0)
    state = SpinLatticeState(positions=positions, numbers=numbers, cell=np.diag(reps * a),
                             pbc=True, moments=moments, info={"synthetic_model": "Mn3Pt"})
    return state, labels


def t1_moments(sublattices, moment=MOMENT, plane=(1, 1, 1), sign=1.0):
    """Ideal T1 triangular moments (N, 3): Mn of sublattice s (local axis e_s) along the
    projection of ±e_s into the kagome plane ⊥ ``plane`` (⟨112⟩, 120° apart); Pt 0."""
    n = np.asarray(plane, dtype=float)
    n /= np.linalg.norm(n)
    out = np.zeros((len(sublattices), 3))
    for s in (0, 1, 2):
        e = np.eye(3)[s]
        p = e - (e @ n) * n
        out[np.asarray(sublattices) == s] = sign * moment * p / np.linalg.norm(p)
    return out


__all__ = ["NeelPairAnisotropy", "mn3pt_potential", "mn3pt_state", "t1_moments",
           "landau_for_moment", "A_MN3PT", "J1", "KAPPA", "LANDAU_B", "MOMENT"]
