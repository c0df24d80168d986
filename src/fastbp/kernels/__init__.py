"""Compiled kernels: ``cpu`` (numba.njit) and, later, ``cuda`` twins at mirrored paths."""
