"""gradcore: a small, fast deep-learning library whose core is compiled C++."""
from gradcore._core import (  # noqa: F401
    Tensor, dtype, float32, float64,
    tensor, from_numpy, zeros, ones, full, zeros_like, ones_like, randn, rand, arange,
    manual_seed, initial_seed,
    add, sub, mul, div, pow, matmul, mm, neg, exp, log, sqrt, abs, tanh, sigmoid, relu,
    sum, mean, max, reshape, transpose, permute, detach, softmax, log_softmax,
    backend_info, set_num_threads, get_num_threads,
    is_grad_enabled, set_grad_enabled,
)
