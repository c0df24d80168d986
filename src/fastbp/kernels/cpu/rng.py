"""NumPy's legacy MT19937 shuffle, compiled, so epochs can shuffle in compiled code.

scikit-learn shuffles the sample order every epoch with
``RandomState.shuffle``.  To reproduce its epochs bit for bit while keeping the
shuffle inside the compiled epoch, these kernels advance the very same Mersenne
Twister state (``RandomState.get_state()``'s key and position) with the same
Fisher-Yates loop and the same bounded-integer rejection sampling; the host
writes the advanced state back with ``set_state``.
"""

import numba
import numpy as np

from fastbp import _config

_jit = numba.njit(**_config.JIT_OPTIONS)

_N = 624
_M = 397
_MATRIX_A = np.uint64(0x9908B0DF)
_UPPER = np.uint64(0x80000000)
_LOWER = np.uint64(0x7FFFFFFF)
_MASK32 = np.uint64(0xFFFFFFFF)


@_jit
def _twist(key):
    """Regenerate the 624 words of the MT19937 state."""
    for i in range(_N):
        y = (np.uint64(key[i]) & _UPPER) | (np.uint64(key[(i + 1) % _N]) & _LOWER)
        v = np.uint64(key[(i + _M) % _N]) ^ (y >> np.uint64(1))
        if y & np.uint64(1):
            v ^= _MATRIX_A
        key[i] = np.uint32(v & _MASK32)


@_jit
def next_uint32(key, pos):
    """Next 32-bit output of the generator; ``pos[0]`` is the state position."""
    if pos[0] >= _N:
        _twist(key)
        pos[0] = 0
    y = np.uint64(key[pos[0]])
    pos[0] += 1
    y ^= y >> np.uint64(11)
    y ^= (y << np.uint64(7)) & np.uint64(0x9D2C5680)
    y ^= (y << np.uint64(15)) & np.uint64(0xEFC60000)
    y ^= y >> np.uint64(18)
    return y & _MASK32


@_jit
def bounded(key, pos, high):
    """Uniform integer in ``[0, high]`` by masked rejection (``high < 2**32``)."""
    if high == 0:
        return 0
    mask = np.uint64(high)
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    while True:
        value = next_uint32(key, pos) & mask
        if value <= np.uint64(high):
            return np.int64(value)


@_jit
def shuffle(a, key, pos):
    """Shuffle ``a`` in place exactly as ``RandomState.shuffle`` would."""
    for i in range(a.shape[0] - 1, 0, -1):
        j = bounded(key, pos, i)
        tmp = a[i]
        a[i] = a[j]
        a[j] = tmp
