"""The backends: one convolution algorithm per module, each implementing `kernels.Backend`.

    naive     Python loops over every output element: the executable definition
    strided   sliding_window_view windows contracted with tensordot
    im2col    the windows copied into a matrix, then one GEMM per group
    numba     direct loops compiled by Numba (a package: conv.py and pool.py)
    blocked   direct, on channel-blocked layouts with the output tile in vector registers
              (a package: layout, forward, backward-data, backward-weights, depthwise)
    winograd  minimal filtering F(2x2, kxk) and F(4x4, kxk): fewer multiplies, transforms
              (a package: the backends, transforms.py, tiles.py)
    fft       pointwise products of spectra: the cost does not grow with the kernel
    auto      not an algorithm: times the others per layer and dispatches to the fastest

Each module opens with the derivation of its forward and backward passes and says what makes
it faster or slower than the rung below. Get them through `kernels.get_backend(name)`.
"""
