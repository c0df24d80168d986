"""The math of a dense network, written once as plain Python scalar functions.

Nothing here is decorated: :func:`fastbp.kernels.compile_math` compiles each
module for a device (``numba.njit(inline="always")`` on the CPU,
``numba.cuda.jit(device=True)`` on the GPU), the calls between its functions
included, so the formulas and the ladders choosing them by code live in one
place only.  Called as they are, they are the reference the tests check.
"""
