"""Dropout masks from a counter-based hash: reproducible, and the same on every device.

Whether unit ``unit`` of hidden layer ``layer`` is kept for sample ``row`` at
mini-batch ``step`` is a pure function of ``(seed, step, row, layer, unit)``:
no random state is carried between threads or devices, and the CPU and CUDA
kernels draw identical masks.  The hash is SplitMix64's finaliser; a unit is
kept when the top 53 bits of its hash, read as an integer, reach
``threshold(rate)`` (probability ``1 - rate``).  Integer arithmetic only, so
the mask loops vectorise.
"""

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S32 = np.uint64(32)


def threshold(rate):
    """The 53-bit integer a unit's hash must reach to be kept with probability ``1 - rate``."""
    return np.uint64(rate * 9007199254740992.0)


def row_key(seed, step, row):
    """The part of the hash input shared by every unit of one sample at one step."""
    return np.uint64(seed) ^ (np.uint64(step) * _GOLDEN) ^ (np.uint64(row) * _M1)


def keep(key, layer, unit, limit):
    """True when ``unit`` of ``layer`` survives dropout for the sample with ``key``."""
    x = key ^ (((np.uint64(layer) << _S32) | np.uint64(unit)) * _M2)
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    x = x ^ (x >> _S31)
    return (x >> _S11) >= limit
