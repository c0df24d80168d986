"""NumPy's legacy MT19937 shuffle, compiled, so epochs can shuffle in compiled code.

scikit-learn shuffles the sample order every epoch with
``RandomState.shuffle``.  To reproduce its epochs bit for bit while keeping the
shuffle inside the compiled epoch, these kernels advance the very same Mersenne
Twister state (``RandomState.get_state()``'s key and position) with the same
Fisher-Yates loop and the same bounded-integer rejection sampling; the host
writes the advanced state back with ``set_state``.
"""

import numpy as np

from fastbp.kernels.cpu._jit import entry, inline, kernel

_N = 624
_M = 397
_MATRIX_A = np.uint32(0x9908B0DF)
_UPPER = np.uint32(0x80000000)
_LOWER = np.uint32(0x7FFFFFFF)
_ONE = np.uint32(1)


@inline
def _mix(upper, lower, far):
    """One word of the twist: ``far ^ (y >> 1) ^ (MATRIX_A if y is odd)``, ``y`` joining two words' bits."""
    y = (upper & _UPPER) | (lower & _LOWER)
    return far ^ (y >> _ONE) ^ ((_ONE + ~(y & _ONE)) & _MATRIX_A)


@kernel
def _twist(key):
    """Regenerate the 624 words of the MT19937 state (three loops, no index wrap-around)."""
    for i in range(_N - _M):
        key[i] = _mix(key[i], key[i + 1], key[i + _M])
    for i in range(_N - _M, _N - 1):
        key[i] = _mix(key[i], key[i + 1], key[i + _M - _N])
    key[_N - 1] = _mix(key[_N - 1], key[0], key[_M - 1])


@inline
def _temper(y):
    """MT19937's output tempering of one state word."""
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
    y ^= y >> np.uint32(18)
    return y


@entry
def shuffle(a, key, pos):
    """Shuffle ``a`` in place exactly as ``RandomState.shuffle`` would.

    Fisher-Yates from the end; each index is drawn in ``[0, i]`` by masked
    rejection sampling of 32-bit outputs.  ``key`` (uint32, 624 words) and
    ``pos[0]`` are the generator's state, advanced in place.
    """
    p = pos[0]
    for i in range(a.shape[0] - 1, 0, -1):
        mask = np.uint32(i)
        mask |= mask >> np.uint32(1)
        mask |= mask >> np.uint32(2)
        mask |= mask >> np.uint32(4)
        mask |= mask >> np.uint32(8)
        mask |= mask >> np.uint32(16)
        while True:
            if p >= _N:
                _twist(key)
                p = 0
            value = _temper(key[p]) & mask
            p += 1
            if value <= np.uint32(i):
                break
        j = np.int64(value)
        tmp = a[i]
        a[i] = a[j]
        a[j] = tmp
    pos[0] = p
