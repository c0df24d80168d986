"""Loss, output delta and per-batch reductions, CUDA twins of :mod:`fastbp.kernels.cpu.losses`."""

from numba import cuda, float64

from fastbp import _config
from fastbp.nn import losses as L

_device = cuda.jit(device=True)

squared_error = _device(L.squared_error)
poisson = _device(L.poisson)
log_loss = _device(L.log_loss)
binary_log_loss = _device(L.binary_log_loss)
absolute_error = _device(L.absolute_error)
huber = _device(L.huber)
quantile = _device(L.quantile)
absolute_error_grad = _device(L.absolute_error_grad)
huber_grad = _device(L.huber_grad)
quantile_grad = _device(L.quantile_grad)


@cuda.jit(device=True)
def element_loss(y, p, code, eps, param):
    """Loss of one output element for loss ``code``."""
    if code == L.SQUARED_ERROR:
        return squared_error(y, p)
    if code == L.POISSON:
        return poisson(y, p)
    if code == L.LOG_LOSS:
        return log_loss(y, p, eps)
    if code == L.BINARY_LOG_LOSS:
        return binary_log_loss(y, p, eps)
    if code == L.ABSOLUTE_ERROR:
        return absolute_error(y, p, param)
    if code == L.HUBER:
        return huber(y, p, param)
    return quantile(y, p, param)


@cuda.jit(device=True)
def element_delta(y, p, code, param):
    """Output delta of one element: p - y (canonical pairs) or dl/dp."""
    if code == L.ABSOLUTE_ERROR:
        return absolute_error_grad(y, p, param)
    if code == L.HUBER:
        return huber_grad(y, p, param)
    if code == L.QUANTILE:
        return quantile_grad(y, p, param)
    return p - y

_THREADS = _config.CUDA_THREADS


@cuda.jit
def loss_delta_kernel(P, Y, rows, sw, code, eps, param, scale, D, row_loss, row_w):
    r"""Per row :math:`i`: the weighted loss :math:`w_{r_i} \sum_j l(y, p)` into
    ``row_loss[i]``, the weight into ``row_w[i]``, and the output delta
    :math:`D_{ij} = s\,w_{r_i} \delta(y_{r_i j}, p_{ij})`.  One thread per row."""
    i = cuda.grid(1)
    n, m = P.shape
    if i < n:
        r = rows[i]
        w = sw[r]
        acc = 0.0
        for j in range(m):
            p = P[i, j]
            y = Y[r, j]
            acc += element_loss(y, p, code, eps, param)
            D[i, j] = scale * w * element_delta(y, p, code, param)
        row_loss[i] = w * acc
        row_w[i] = w


@cuda.jit
def batch_sums_kernel(row_loss, row_w, n, theta, n_coef, out):
    r"""One block: ``out[:4] = (sum row_loss[:n], sum row_w[:n], sum theta[:n_coef]^2, sum |theta[:n_coef]|)``.

    A fixed-order tree reduction in shared memory (float64, whatever the
    data's dtype), so the result does not depend on scheduling.  Launch with one block of ``CUDA_THREADS`` threads.
    """
    s_loss = cuda.shared.array(_THREADS, dtype=float64)
    s_w = cuda.shared.array(_THREADS, dtype=float64)
    s_sq = cuda.shared.array(_THREADS, dtype=float64)
    s_abs = cuda.shared.array(_THREADS, dtype=float64)
    t = cuda.threadIdx.x
    a = 0.0
    b = 0.0
    c = 0.0
    d = 0.0
    for k in range(t, n, _THREADS):
        a += row_loss[k]
        b += row_w[k]
    for k in range(t, n_coef, _THREADS):
        c += theta[k] * theta[k]
        d += abs(theta[k])
    s_loss[t] = a
    s_w[t] = b
    s_sq[t] = c
    s_abs[t] = d
    cuda.syncthreads()
    step = _THREADS // 2
    while step > 0:
        if t < step:
            s_loss[t] += s_loss[t + step]
            s_w[t] += s_w[t + step]
            s_sq[t] += s_sq[t + step]
            s_abs[t] += s_abs[t + step]
        cuda.syncthreads()
        step //= 2
    if t == 0:
        out[0] = s_loss[0]
        out[1] = s_w[0]
        out[2] = s_sq[0]
        out[3] = s_abs[0]
