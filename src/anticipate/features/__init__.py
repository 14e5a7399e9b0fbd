"""Point-in-time features: histories as flat arrays, Numba kernels, and the feature table."""
