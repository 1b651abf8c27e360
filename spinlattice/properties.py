"""Names of the properties a :class:`~spinlattice.potential.Potential` computes.

=====================  =======  =========================================
name                   shape    meaning
=====================  =======  =========================================
``energy``             ()       total energy E, eV
``forces``             (N, 3)   −∂E/∂R, eV/Å
``stress``             (3, 3)   (1/V) ∂E/∂ε (symmetric strain), eV/Å³
``magnetic_forces``    (N, 3)   h = −∂E/∂m (full vector), eV/μB
``energies``           (N,)     per-site energies, Σ_i E_i = E, eV
=====================  =======  =========================================
"""

ENERGY = "energy"
FORCES = "forces"
STRESS = "stress"
MAGNETIC_FORCES = "magnetic_forces"
ENERGIES = "energies"

ALL_PROPERTIES = (ENERGY, FORCES, STRESS, MAGNETIC_FORCES, ENERGIES)


def check_properties(properties):
    """Return ``properties`` as a tuple after checking every name is known.

    Raises ``ValueError`` naming the unknown property.
    """
    if isinstance(properties, str):
        properties = (properties,)
    properties = tuple(properties)
    for name in properties:
        if name not in ALL_PROPERTIES:
            raise ValueError(
                f"unknown property {name!r}; known properties are {', '.join(ALL_PROPERTIES)}"
            )
    return properties
