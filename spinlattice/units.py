"""Units and physical constants: the one place that owns them.

spinlattice works in eV, Å, fs, K and Bohr magnetons (μB) throughout:

=================  ==========
quantity           unit
=================  ==========
energy             eV
length             Å
time               fs
temperature        K
moment m           μB
magnetic force h   eV/μB   (h = −∂E/∂m)
force              eV/Å
stress             eV/Å³   (ASE sign: σ = (1/V) ∂E/∂ε)
magnetic field B   T       (Zeeman energy −m·B μ_B)
mass               amu
=================  ==========
"""

#: Boltzmann constant, eV/K (CODATA 2018, exact).
K_B = 8.617333262e-5
#: Bohr magneton, eV/T (CODATA 2018).
MU_B = 5.7883818060e-5
#: One Rydberg in eV (CODATA 2018).
RYDBERG = 13.605693122994
#: One milli-Rydberg in eV.
MRY = 1e-3 * RYDBERG
#: One meV in eV.
MEV = 1e-3
#: One GPa in eV/Å³.
GPA = 1.0 / 160.21766208
#: Atomic mass unit expressed so that (amu Å²/fs²) → eV: 1 amu Å²/fs² = AMU_A2_FS2 eV.
AMU_A2_FS2 = 103.642696562
#: Smallest interatomic distance accepted anywhere (Å); closer atoms are an input error.
MIN_DISTANCE = 0.5
