"""Heisenberg exchange constants J_ij by neighbour shell from total energies of any potential.

Convention (spinlattice, docs/conventions.md): each pair counted once, full moments,

    E = −Σ_{i<j} J_ij m_i·m_j,        J in eV/μB², J > 0 ferromagnetic.

TB2J / the magnetic-force-theorem literature (Liechtenstein, Katsnelson, Antropov & Gubanov,
J. Magn. Magn. Mater. 67, 65 (1987); He et al., Comput. Phys. Commun. 264, 107938 (2021)) counts
every pair twice with unit vectors, E = −Σ_{i≠j} J^TB2J_ij e_i·e_j, so

    J^TB2J_ij = ½ J_ij |m_i| |m_j|       (eV; ×1000 for meV)       [:attr:`Shell.J_tb2j`].

Method: symmetric four-state mixed differences at fixed positions
------------------------------------------------------------------
Start from a collinear reference (all moments along ±n; ferro- or antiferromagnetic), pick a
rotation axis u ⊥ n, and for a pair (i, j) rotate m_i by a and m_j by b about u, every other
moment fixed. With E(a, b) the total energy,

    D(θ) = [E(θ, θ) − E(θ, −θ) − E(−θ, θ) + E(−θ, −θ)] / 4.

For a Heisenberg model E(a, b) = −J_ij (m_i·m_j) cos(a − b) + f(a) + g(b) + const (the coupling
of i and j to every other, unrotated, moment and any on-site term depend on one angle only and
cancel), hence

    D(θ) = −J_ij (m_i·m_j) sin²θ      ⇒      J_ij(θ) = −D(θ) / ((m_i·m_j) sin²θ),

exact at *every* angle (θ = 90° is the four-state energy-mapping method of Xiang et al.,
Dalton Trans. 42, 823 (2013); θ → 0 is the second derivative ∂²E/∂θ_i∂θ_j of the
magnetic-force theorem). Single-site anisotropy cancels exactly, and so does any
Dzyaloshinskii–Moriya term (odd in a − b). For a general potential J_ij(θ) depends on θ: a
biquadratic term −K (m_i·m_j)² gives J(θ) = J + 2K m_i·m_j cos²θ, linear in sin²θ. So the
reported J is the θ → 0 intercept of a straight-line fit of J(θ) against sin²θ over the
requested angles (one angle: that value); its uncertainty is the intercept's standard error
from the fit residual, combined with the spread over the sampled pairs of the shell (zero in a
perfect crystal, non-zero e.g. for thermally displaced positions). The θ dependence itself is
kept (:attr:`Shell.J_by_angle`): it is the measure of how far the potential is from Heisenberg.

A cross-check from magnetic forces (``method="magnetic_forces"``) rotates one site only and reads
the change of h = −∂E/∂m on every neighbour (exact for Heisenberg; same θ → 0 limit); see
:func:`exchange_constants`.

With spin–orbit coupling a pair's J(θ) is the component J_ww of its exchange tensor along the
tilt direction w = u × n; averaging over all bonds of a shell (``pairs_per_shell`` = z, or the
force method) gives the isotropic part of a cubic shell, and the spread enters the uncertainty.

Energies are combined per site when the potential returns per-site ``energies``
(ΔE_k summed over sites, so a float32 model's large atomic energies cancel before the sum), else
from the total energy.

Periodic images: in a supercell a pair (i, j) also couples through the images j + L. The
supercell is chosen (``supercell="auto"``) so that every lattice vector is longer than
r_max + coupling range of the potential (:func:`spinlattice.potential.coupling_range`), which
makes each measured J a single bond.

Mean-field and RPA Curie temperatures (classical spins of fixed length; Pajda, Kudrnovský,
Turek, Drchal & Bruno, PRB 64, 174402 (2001), converted to our convention):

    k_B T_MF  = (1/3) Σ_j J_0j |m|²                                    (one sublattice)
    k_B T_RPA = (1/3) |m|² / ⟨ 1 / (J(0) − J(q)) ⟩_BZ,  J(q) = Σ_j J_0j cos(q·R_0j)

For several species the mean-field T_C is (1/3) × the largest eigenvalue of
M_ab = Σ_{j ∈ b} J_{0_a j} |m_a| |m_b| (sublattices = species).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spinlattice.neighbors import neighbor_list
from spinlattice.potential import coupling_range
from spinlattice.sphere import orthonormal_frame, rotation_matrix
from spinlattice.symmetry import supercell as make_supercell
from spinlattice.units import K_B

#: Default rotation angles (degrees): small enough for the θ → 0 limit of a smooth model,
#: large enough that a float32 model's energy differences are resolved.
DEFAULT_ANGLES = (10.0, 20.0, 30.0)


@dataclass
class Shell:
    """One neighbour shell of one centre site.

    species : (centre symbol, neighbour symbol); distance : Å; count : neighbours in the shell
    (z_s); centre : site index; pairs : (P,) neighbour site indices sampled;
    vectors : (count, 3) bond vectors R_0j of the whole shell, Å;
    moments : (|m_centre|, |m_neighbour|) μB of the reference; sign : mean sign of m_i·m_j
    over the shell (±1 for ferro- and simple antiferromagnets);
    J_pairs : (P, A) J of every sampled pair at every angle, eV/μB²;
    J, J_err : θ → 0 value and its uncertainty, eV/μB² (module doc).
    """

    species: tuple
    distance: float
    count: int
    centre: int
    pairs: np.ndarray
    vectors: np.ndarray
    moments: tuple
    sign: float
    J_pairs: np.ndarray
    J: float
    J_err: float
    angle_fit_residual: float = 0.0

    @property
    def J_by_angle(self) -> np.ndarray:
        """(A,) mean over the sampled pairs at each angle, eV/μB²."""
        return self.J_pairs.mean(axis=0)

    @property
    def J_tb2j(self) -> float:
        """J in TB2J's convention (pairs twice, unit vectors), meV: ½ J |m_i||m_j| × 1000."""
        return 500.0 * self.J * self.moments[0] * self.moments[1]

    @property
    def J_tb2j_err(self) -> float:
        return 500.0 * self.J_err * self.moments[0] * self.moments[1]

    def as_dict(self) -> dict:
        return {"species": list(self.species), "distance": self.distance, "count": self.count,
                "centre": self.centre, "J": self.J, "J_err": self.J_err,
                "J_meV_per_muB2": 1e3 * self.J, "J_tb2j_meV": self.J_tb2j,
                "J_tb2j_err_meV": self.J_tb2j_err, "J_by_angle": self.J_by_angle.tolist(),
                "moments": list(self.moments), "sign": self.sign,
                "n_pairs_sampled": int(len(self.pairs))}


@dataclass
class ExchangeResult:
    """Shells of every centre (closest first), the angles (deg), and bookkeeping."""

    shells: list
    angles: np.ndarray
    axis: np.ndarray
    rotation_axis: np.ndarray
    repeats: tuple
    n_atoms: int
    n_evaluations: int
    primitive_cell: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def shell_table(self, merge_tolerance=0.01) -> dict:
        """{(species a, species b): [(distance Å, J eV/μB²), ...]} for
        :class:`spinlattice.potentials.ShellTable`: shells of one unordered species pair within
        ``merge_tolerance`` Å (seen from either centre) are averaged."""
        groups = {}
        for s in self.shells:
            key = tuple(sorted(s.species))
            rows = groups.setdefault(key, [])
            for row in rows:
                if abs(row[0] - s.distance) < merge_tolerance:
                    row[1].append(s.J)
                    break
            else:
                rows.append([s.distance, [s.J]])
        return {k: [(d, float(np.mean(js))) for d, js in sorted(v)] for k, v in groups.items()}

    def table(self) -> list:
        return [s.as_dict() for s in self.shells]

    def as_dict(self) -> dict:
        out = {"shells": self.table(), "angles_deg": self.angles.tolist(),
               "reference_axis": self.axis.tolist(), "rotation_axis": self.rotation_axis.tolist(),
               "supercell_repeats": list(self.repeats), "n_atoms": self.n_atoms,
               "n_evaluations": self.n_evaluations, "T_mean_field": mean_field_tc(self)}
        ferro = all(s.sign > 0 for s in self.shells)
        rpa = rpa_tc(self) if self.primitive_cell is not None and ferro else None
        out["T_rpa"] = rpa
        return out


# ------------------------------------------------------------------------------------ geometry --
def auto_repeats(cell, length):
    """Repeats (n1, n2, n3) making every interplanar spacing of the supercell ≥ ``length`` Å, so
    every non-zero supercell lattice vector is at least that long."""
    cell = np.asarray(cell, dtype=float)
    volume = abs(np.linalg.det(cell))
    spacings = np.array([volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
                         for k in range(3)])
    return tuple(int(max(1, np.ceil(length / h - 1e-9))) for h in spacings)


def _shortest_lattice_vector(cell):
    """Length of the shortest non-zero lattice vector (search over −2..2 combinations), Å."""
    r = np.arange(-2, 3)
    n = np.array(np.meshgrid(r, r, r, indexing="ij")).reshape(3, -1).T
    n = n[np.any(n != 0, axis=1)]
    return float(np.min(np.linalg.norm(n @ cell, axis=1)))


def group_shells(distances, tolerance):
    """Shell label (S,) per distance: sorted distances split where a gap exceeds ``tolerance``."""
    order = np.argsort(distances)
    labels = np.empty(len(distances), dtype=np.int64)
    label, previous = -1, -np.inf
    for k in order:
        if distances[k] - previous > tolerance:
            label += 1
        labels[k] = label
        previous = distances[k]
    return labels


def collinear_axis(moments, tolerance=1e-8):
    """Unit axis n of a collinear configuration (moments ∥ ±n) and the signs (N,) (0 for zero
    moments); ValueError if the moments are not collinear within ``tolerance`` (relative)."""
    m = np.asarray(moments, dtype=float)
    norms = np.linalg.norm(m, axis=1)
    if not np.any(norms > 0):
        raise ValueError("the reference has no non-zero moment")
    n = m[np.argmax(norms)] / norms.max()
    along = m @ n
    if np.any(np.linalg.norm(m - along[:, None] * n, axis=1) > tolerance * np.maximum(norms, 1.0)):
        raise ValueError("exchange extraction needs a collinear reference (moments along ±n)")
    return n, np.sign(along)


# ------------------------------------------------------------------------------------ energies --
def _energy_fn(potential):
    """E(state) → per-site (N,) energies when the potential provides them, else total (1,)."""
    def per_site(state):
        return np.asarray(potential.compute(state, ("energies",))["energies"], dtype=np.float64)

    def total(state):
        return np.array([potential.compute(state, ("energy",))["energy"]], dtype=np.float64)
    return per_site, total


def mixed_difference(energy, state, i, j, theta, rotation_axis):
    """D(θ) of the module doc (eV) for sites i, j rotated by ±θ (rad) about ``rotation_axis``."""
    rot = {s: rotation_matrix(rotation_axis, s * theta) for s in (1, -1)}
    values = {}
    for a in (1, -1):
        for b in (1, -1):
            m = state.moments.copy()
            m[i] = rot[a] @ m[i]
            m[j] = rot[b] @ m[j]
            values[a, b] = energy(state.replace(moments=m))
    d = (values[1, 1] - values[1, -1]) - (values[-1, 1] - values[-1, -1])
    return float(np.sum(d)) / 4.0


def _fit_small_angle(theta, j_values):
    """θ → 0 intercept of J(θ) = J0 + c sin²θ, its standard error and the rms residual."""
    if len(theta) == 1:
        return float(j_values[0]), 0.0, 0.0
    x = np.sin(theta) ** 2
    design = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(design, j_values, rcond=None)
    resid = j_values - design @ coef
    if len(theta) == 2:
        # exact line through two points: uncertainty = the extrapolation distance itself
        return float(coef[0]), float(abs(coef[0] - j_values[np.argmin(theta)])), 0.0
    sigma2 = float(resid @ resid) / (len(theta) - 2)
    cov = sigma2 * np.linalg.inv(design.T @ design)
    return float(coef[0]), float(np.sqrt(max(cov[0, 0], 0.0))), float(np.sqrt(np.mean(resid**2)))


# ------------------------------------------------------------------------------------ main API --
def _centres(state, centres):
    if isinstance(centres, str):
        if centres == "species":
            return [int(np.flatnonzero(state.numbers == z)[0]) for z in np.unique(state.numbers)]
        if centres == "all":
            return list(range(state.n_atoms))
        raise ValueError(f"centres must be 'species', 'all' or a list of sites, got {centres!r}")
    centres = [int(c) for c in centres]
    if any(c < 0 or c >= state.n_atoms for c in centres):
        raise ValueError(f"centres must be sites 0..{state.n_atoms - 1}")
    return centres


def _reference(potential, state, r_max, supercell, rotation_axis):
    """(supercell state, repeats, axis n, signs (N,), rotation axis u) with the aliasing check."""
    if not np.all(state.pbc):
        raise ValueError("exchange extraction needs a periodic state (pbc along all axes)")
    reach = float(r_max) + coupling_range(potential)
    if isinstance(supercell, str) and supercell == "auto":
        repeats = auto_repeats(state.cell, reach)
    elif supercell is None:
        repeats = (1, 1, 1)
    else:
        repeats = tuple(int(n) for n in supercell)
    big = make_supercell(state, repeats) if repeats != (1, 1, 1) else state
    if _shortest_lattice_vector(big.cell) < reach - 1e-9:
        raise ValueError(
            f"supercell {repeats} too small: a lattice vector is shorter than r_max + coupling "
            f"range = {reach:.2f} Å, so a pair would also couple through its periodic image")
    axis, signs = collinear_axis(big.moments)
    u = (np.asarray(rotation_axis, dtype=float) if rotation_axis is not None
         else orthonormal_frame(axis[None, :])[0][0])
    u = u - (u @ axis) * axis
    if np.linalg.norm(u) < 1e-8:
        raise ValueError("rotation_axis must not be parallel to the reference moments")
    return big, repeats, axis, signs, u / np.linalg.norm(u)


def _shell_groups(big, centres, r_max, tolerance):
    """(centre, neighbour species, rows of the neighbour list, list) for every shell."""
    nl = neighbor_list(big.positions, big.cell, big.pbc, float(r_max) + tolerance)
    for c in centres:
        rows = np.flatnonzero(nl.i == c)
        species_j = big.numbers[nl.j[rows]]
        for z in np.unique(species_j):
            sel = rows[species_j == z]
            sel = sel[nl.distances[sel] <= r_max + 1e-9]
            if sel.size == 0:
                continue
            if np.any(nl.j[sel] == c):
                raise ValueError("a site is its own neighbour within r_max: enlarge the supercell")
            labels = group_shells(nl.distances[sel], tolerance)
            for label in range(labels.max() + 1):
                yield c, int(z), sel[labels == label], nl


def _shell(big, signs, theta, c, z, members, sample, nl, j_pairs):
    from ase.data import chemical_symbols

    norms = np.linalg.norm(big.moments, axis=1)
    per_pair = [_fit_small_angle(theta, jp) for jp in j_pairs]
    j0 = np.array([x[0] for x in per_pair])
    fit_err = np.sqrt(np.mean(np.array([x[1] for x in per_pair]) ** 2))
    spread = float(np.std(j0, ddof=1) / np.sqrt(len(j0))) if len(j0) > 1 else 0.0
    return Shell(species=(chemical_symbols[big.numbers[c]], chemical_symbols[z]),
                 distance=float(np.mean(nl.distances[members])), count=int(members.size),
                 centre=c, pairs=nl.j[sample].copy(), vectors=nl.vectors[members].copy(),
                 moments=(float(norms[c]), float(np.mean(norms[nl.j[members]]))),
                 sign=float(np.mean(signs[c] * signs[nl.j[members]])), J_pairs=j_pairs,
                 J=float(np.mean(j0)), J_err=float(np.hypot(fit_err, spread)),
                 angle_fit_residual=float(max(x[2] for x in per_pair)))


def exchange_constants(potential, state, r_max, angles=DEFAULT_ANGLES, centres="species",
                       pairs_per_shell=1, supercell="auto", shell_tolerance=0.01,
                       rotation_axis=None, site_energies=True, method="energy"):
    """Heisenberg J by shell, out to ``r_max`` Å, from energies of rotated moments.

    Parameters
    ----------
    potential : any :class:`~spinlattice.potential.Potential` (evaluated at fixed positions).
    state : reference :class:`~spinlattice.state.SpinLatticeState`, periodic, moments collinear
        (±n). Typically a primitive or conventional cell; with ``supercell="auto"`` it is
        repeated so that periodic images do not alias (module doc); ``supercell=(n1, n2, n3)``
        forces the repeats, ``None`` uses the state as given (then aliasing is checked).
    r_max : largest shell distance, Å.
    angles : rotation angles θ in degrees (0 < θ ≤ 90); J is extrapolated to θ → 0.
    centres : "species" (first site of each species), "all", or a list of site indices of
        ``state``.
    pairs_per_shell : how many pairs of each shell are measured (spread → uncertainty).
    shell_tolerance : distances within this (Å) form one shell (per species pair).
    rotation_axis : u ⊥ n (default: a fixed perpendicular of the reference axis).
    site_energies : combine per-site energies when available (see module doc).
    method : "energy" (the four-state differences of the module doc; the default) or
        "magnetic_forces" (a cross-check for potentials with h = −∂E/∂m: rotate only m_i by ±θ;
        for a Heisenberg model h_j = Σ_k J_jk m_k, so
        J_ij(θ) = w·[h_j(+θ) − h_j(−θ)] / (2 sinθ s_i |m_i|), w = u × n, exact at every θ;
        2 evaluations per angle and centre give every pair of every shell; the θ → 0 limit is
        the same second derivative as the energy method's).

    Returns :class:`ExchangeResult`; cost 4 × len(angles) × pairs_per_shell energy evaluations
    per shell and centre ("energy") or 2 × len(angles) per centre ("magnetic_forces").
    """
    theta = np.deg2rad(np.asarray(angles, dtype=float).reshape(-1))
    if theta.size == 0 or np.any(theta <= 0) or np.any(theta > np.pi / 2 + 1e-12):
        raise ValueError("angles must be in (0, 90] degrees")
    if method not in ("energy", "magnetic_forces"):
        raise ValueError(f"method must be 'energy' or 'magnetic_forces', got {method!r}")
    centres = _centres(state, centres)
    big, repeats, axis, signs, u = _reference(potential, state, r_max, supercell, rotation_axis)

    per_site, total = _energy_fn(potential)
    energy = per_site if site_energies else total
    if site_energies and method == "energy":
        try:
            per_site(big)
        except (KeyError, NotImplementedError, ValueError, TypeError):
            energy = total

    shells, n_eval, fields = [], 0, {}
    if method == "magnetic_forces":
        w = np.cross(u, axis)
        for c in centres:
            delta = []
            for t in theta:
                h = []
                for sgn in (1, -1):
                    m = big.moments.copy()
                    m[c] = rotation_matrix(u, sgn * t) @ m[c]
                    h.append(potential.compute(big.replace(moments=m),
                                               ("magnetic_forces",))["magnetic_forces"])
                    n_eval += 1
                mi = signs[c] * np.linalg.norm(big.moments[c])
                delta.append((h[0] - h[1]) @ w / (2.0 * np.sin(t) * mi))
            fields[c] = np.array(delta).T  # (N, A)
    for c, z, members, nl in _shell_groups(big, centres, r_max, shell_tolerance):
        if method == "magnetic_forces":
            sample = members
            j_pairs = fields[c][nl.j[members]]
        else:
            sample = members[:max(1, int(pairs_per_shell))]
            j_pairs = np.empty((len(sample), theta.size))
            for p, row in enumerate(sample):
                j = int(nl.j[row])
                dot = float(big.moments[c] @ big.moments[j])
                if dot == 0.0:
                    raise ValueError(f"zero moment on site {c} or {j}: J is undefined")
                for a, t in enumerate(theta):
                    j_pairs[p, a] = -mixed_difference(energy, big, c, j, t, u) / (
                        dot * np.sin(t) ** 2)
                    n_eval += 4
        shells.append(_shell(big, signs, theta, c, z, members, sample, nl, j_pairs))
    shells.sort(key=lambda s: (s.centre, s.distance, s.species))
    primitive = np.array(state.cell) if state.n_atoms == 1 else None
    return ExchangeResult(shells=shells, angles=np.rad2deg(theta), axis=axis, rotation_axis=u,
                          repeats=repeats, n_atoms=big.n_atoms, n_evaluations=n_eval,
                          primitive_cell=primitive,
                          info={"site_energies": energy is per_site, "r_max": float(r_max),
                                "method": method})


# ------------------------------------------------------------------------- Curie temperatures --
def _sublattice_matrix(result, shells=None):
    """M_ab = Σ_{s: centre species a, neighbour species b} z_s J_s |m_a| |m_b| (eV) and the
    species order; ``shells`` optionally replaces the J's (list of values per shell)."""
    species = sorted({s.species[0] for s in result.shells} | {s.species[1] for s in result.shells})
    index = {sp: k for k, sp in enumerate(species)}
    matrix = np.zeros((len(species), len(species)))
    seen = {}
    for k, s in enumerate(result.shells):
        j = s.J if shells is None else shells[k]
        a, b = index[s.species[0]], index[s.species[1]]
        seen.setdefault(s.species[0], s.centre)
        if seen[s.species[0]] != s.centre:
            continue  # one centre per species (sublattices = species)
        matrix[a, b] += s.count * j * s.sign * s.moments[0] * s.moments[1]
    return matrix, species


def mean_field_tc(result, shells=None) -> float:
    """Classical mean-field Curie temperature (K) of the extracted Heisenberg model:
    k_B T_MF = (1/3) λ_max(M), M of :func:`_sublattice_matrix` (one species: (1/3) Σ_j J_0j m²).

    For an antiferromagnetic reference the signs of m_i·m_j enter M, so this is the Néel
    temperature of the reference order. Sublattices are species: every site of a species must
    be equivalent (Bravais lattices, B2, ...)."""
    matrix, _ = _sublattice_matrix(result, shells)
    eig = np.linalg.eigvals(matrix)
    return float(np.max(eig.real)) / (3.0 * K_B)


def jq(vectors, couplings, q):
    """J(q) = Σ_j J_0j cos(q·R_0j) for q (Q, 3) Å⁻¹, bonds R (B, 3), couplings (B,) → (Q,)."""
    return np.cos(np.asarray(q) @ np.asarray(vectors).T) @ np.asarray(couplings)


def rpa_tc(result, n_q=24):
    """Classical RPA (Tyablikov) Curie temperature (K) for a Bravais ferromagnet (one atom in the
    cell given to :func:`exchange_constants`), Pajda et al. 2001 in our convention:

        k_B T_RPA = (|m|²/3) / ⟨1/(J(0) − J(q))⟩_BZ.

    The Brillouin-zone average uses shifted (Monkhorst–Pack, q = 0 excluded) grids of n_q³ and
    (2 n_q)³ points, Richardson-extrapolated in 1/n_q (the integrable 1/q² singularity at q = 0
    gives an O(1/n_q) error). Returns None for cells with more than one atom.
    """
    if result.primitive_cell is None:
        return None
    shells = [s for s in result.shells if s.centre == result.shells[0].centre]
    if any(s.sign < 0 for s in shells):
        raise ValueError("RPA T_C is implemented for ferromagnetic references only")
    vectors = np.concatenate([s.vectors for s in shells])
    couplings = np.concatenate([np.full(s.count, s.J) for s in shells])
    m2 = shells[0].moments[0] ** 2
    recip = 2.0 * np.pi * np.linalg.inv(result.primitive_cell).T
    j0 = float(np.sum(couplings))

    def average(n):
        f = (np.arange(n) + 0.5) / n
        grid = np.array(np.meshgrid(f, f, f, indexing="ij")).reshape(3, -1).T
        total = 0.0
        for chunk in np.array_split(grid, max(1, len(grid) // 20000)):
            total += np.sum(1.0 / (j0 - jq(vectors, couplings, chunk @ recip)))
        return total / len(grid)

    mean = 2.0 * average(2 * n_q) - average(n_q)
    return float(m2 / (3.0 * mean) / K_B)


def heisenberg_energy_check(result):
    """E_FM/atom predicted by the extracted shells, −½ Σ_s z_s J_s m_i·m_j (eV), averaged over
    the centres — compare with the potential's own energy difference FM − paramagnet."""
    per_centre = {}
    for s in result.shells:
        per_centre.setdefault(s.centre, 0.0)
        per_centre[s.centre] += -0.5 * s.count * s.J * s.sign * s.moments[0] * s.moments[1]
    return float(np.mean(list(per_centre.values())))


__all__ = ["Shell", "ExchangeResult", "exchange_constants", "mixed_difference", "mean_field_tc",
           "rpa_tc", "jq", "auto_repeats", "collinear_axis", "group_shells", "DEFAULT_ANGLES",
           "heisenberg_energy_check"]
