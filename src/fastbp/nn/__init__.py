"""The math of a dense network, written once as plain Python scalar functions.

Nothing here is decorated: the kernels under :mod:`fastbp.kernels` wrap these
functions for each target (``numba.njit`` on the CPU), so the formulas live in
one place only.
"""
