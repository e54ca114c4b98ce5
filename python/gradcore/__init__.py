"""gradcore: a small, fast deep-learning library whose core is compiled C++.

>>> import gradcore as gc
>>> x = gc.tensor([[1.0, 2.0]], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
tensor([[2., 4.]])
"""
from gradcore import _core
from gradcore._core import (
    Tensor, dtype, float32, float64, IntOverflowError,
    tensor, from_numpy, zeros, ones, full, zeros_like, ones_like, randn, rand, arange,
    manual_seed, initial_seed,
    add, sub, mul, div, pow, matmul, mm, neg, exp, log, sqrt, abs, tanh, sigmoid, relu,
    sum, mean, max, reshape, transpose, permute, detach, softmax, log_softmax,
    backend_info, set_num_threads, get_num_threads, is_grad_enabled,
)
from gradcore.autograd import (
    no_grad, enable_grad, set_grad_enabled, grad, backward, gradcheck, gradgradcheck, GradcheckError,
)
from gradcore import autograd, data, nn, optim, train
from gradcore import viz
from gradcore.io import load, save

__version__ = "0.1.0"

from gradcore import _threadpool

_threadpool.register()

__all__ = [
    "Tensor", "dtype", "float32", "float64", "IntOverflowError",
    "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like", "ones_like", "randn", "rand", "arange",
    "manual_seed", "initial_seed",
    "add", "sub", "mul", "div", "pow", "matmul", "mm", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid",
    "relu", "sum", "mean", "max", "reshape", "transpose", "permute", "detach", "softmax", "log_softmax",
    "backend_info", "set_num_threads", "get_num_threads", "is_grad_enabled",
    "no_grad", "enable_grad", "set_grad_enabled", "grad", "backward", "gradcheck", "gradgradcheck", "GradcheckError",
    "autograd", "data", "nn", "optim", "train", "save", "load",
    "viz",
]
