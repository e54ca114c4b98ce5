"""Neural-network building blocks: ``Module``, layers, activations, losses, init, utils."""
from gradcore.nn import functional, hooks, init, utils  # noqa: F401
from gradcore.nn.module import Module, Parameter, StateDictError  # noqa: F401
from gradcore.nn import activation  # noqa: F401
from gradcore.nn.activation import *  # noqa: F401,F403
from gradcore.nn.modules import (  # noqa: F401
    BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Flatten, Identity, Linear, MSELoss, Sequential, Softmax,
)
from gradcore.nn.modules import (  # noqa: F401  (issue 12: shape ops)
    CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d, ReflectionPad1d,
    ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d, Unflatten, ZeroPad1d,
    ZeroPad2d, ZeroPad3d,
)
# issue 12 (nn12): containers, functional-op modules, losses
from gradcore.nn.modules import (  # noqa: F401
    BCELoss, Bilinear, CosineEmbeddingLoss, CosineSimilarity, GaussianNLLLoss, GLU, HingeEmbeddingLoss, HuberLoss,
    KLDivLoss, L1Loss, LogSoftmax, MarginRankingLoss, ModuleDict, ModuleList, MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss, MultiMarginLoss, NLLLoss, PairwiseDistance, ParameterDict, ParameterList,
    PoissonNLLLoss, PReLU, SmoothL1Loss, SoftMarginLoss, Softmax2d, Softmin, TripletMarginLoss,
)
# issue 15: convolution layers
from gradcore.nn.conv import (  # noqa: F401
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, Fold, Unfold,
)
# issue 15: normalisation and channel-dropout layers
from gradcore.nn import normalization  # noqa: F401
from gradcore.nn.normalization import *  # noqa: F401,F403
from gradcore.nn import rnn as _rnn  # noqa: F401  (issue 16: recurrent layers)
from gradcore.nn.rnn import RNN, GRU, LSTM, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase  # noqa: F401
import gradcore.nn.utils.rnn  # noqa: F401,E402

__all__ = [
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
    "functional", "hooks", "init", "utils", "Module", "Parameter", "StateDictError",
    "Linear", "Sequential", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "GELU", "Softmax", "Dropout", "Flatten",
    "Identity", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "activation",
    # issue 12: shape ops
    "Unflatten", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
    # issue 12 (nn12)
    "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "PReLU", "GLU", "Softmin", "LogSoftmax",
    "Softmax2d", "CosineSimilarity", "PairwiseDistance", "Bilinear", "L1Loss", "NLLLoss", "BCELoss",
    "SmoothL1Loss", "HuberLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "MarginRankingLoss",
    "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "MultiMarginLoss",
    "MultiLabelSoftMarginLoss", "SoftMarginLoss", "MultiLabelMarginLoss",
]
__all__ += ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Unfold",
            "Fold"]
__all__ += [n for n in activation.__all__ if n not in __all__]
# issue 15: pooling, unpooling, upsampling, pixel shuffle
from gradcore.nn import pooling  # noqa: E402
from gradcore.nn.pooling import *  # noqa: E402,F401,F403

__all__ += ["pooling"] + pooling.__all__
__all__ += [n for n in normalization.__all__ if n not in __all__]
# issue 16: embeddings
from gradcore.nn import sparse  # noqa: E402
from gradcore.nn.sparse import Embedding, EmbeddingBag  # noqa: E402,F401

__all__ += ["sparse", "Embedding", "EmbeddingBag"]
# issue 16: attention and the Transformer layers
from gradcore.nn import transformer  # noqa: E402
from gradcore.nn.transformer import (MultiheadAttention, Transformer, TransformerDecoder,  # noqa: E402,F401
                                     TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)

__all__ += ["transformer"] + transformer.__all__
# issue 17: data-parallel training
from gradcore.nn import parallel  # noqa: E402,F401

__all__ += ["parallel"]
