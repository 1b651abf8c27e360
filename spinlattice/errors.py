"""Exceptions raised for bad input. All derive from ``ValueError`` so callers may catch either."""


class InputError(ValueError):
    """Input that cannot describe a physical spin-lattice state (shape, NaN, overlap, ...)."""


class OverlappingAtomsError(InputError):
    """Two atoms closer than :data:`spinlattice.units.MIN_DISTANCE`."""


class MomentRangeError(InputError):
    """A moment magnitude outside the range a potential is valid for."""


class FileFormatError(InputError):
    """A malformed or unsupported input file."""
