"""Neural-network building blocks: ``Module``, layers, activations, losses, init, utils."""
from gradcore.nn import functional, hooks, init, utils  # noqa: F401
from gradcore.nn.module import Module, Parameter, StateDictError  # noqa: F401
from gradcore.nn.modules import (  # noqa: F401
    BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Flatten, GELU, Identity, LeakyReLU, Linear, MSELoss, ReLU,
    Sequential, Sigmoid, Softmax, Tanh,
)

__all__ = [
    "functional", "hooks", "init", "utils", "Module", "Parameter", "StateDictError",
    "Linear", "Sequential", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "GELU", "Softmax", "Dropout", "Flatten",
    "Identity", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss",
]
