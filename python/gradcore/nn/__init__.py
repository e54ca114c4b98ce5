"""Neural-network building blocks: ``Module``, layers, activations, losses, init, utils."""
from gradcore.nn import functional, hooks, init, utils  # noqa: F401
from gradcore.nn.module import Module, Parameter, StateDictError  # noqa: F401
from gradcore.nn import activation  # noqa: F401
from gradcore.nn.activation import *  # noqa: F401,F403
from gradcore.nn.modules import (  # noqa: F401
    BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Flatten, Identity, Linear, MSELoss, Sequential, Softmax,
)

__all__ = [
    "functional", "hooks", "init", "utils", "Module", "Parameter", "StateDictError",
    "Linear", "Sequential", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "GELU", "Softmax", "Dropout", "Flatten",
    "Identity", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "activation",
]
__all__ += [n for n in activation.__all__ if n not in __all__]
