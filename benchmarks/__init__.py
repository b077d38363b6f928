"""The asv suites (asv.conf.json): conv and pool layers, whole models, Numba's compile costs."""
