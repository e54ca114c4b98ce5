# Type stubs only: at run time ``gradcore.data`` IS ``gradcore.utils.data`` (``import gradcore``
# aliases the module and its submodules in sys.modules); these files let type checkers see it.
from gradcore.utils.data import *  # noqa: F401,F403
from gradcore.utils.data import FASHION_MNIST_DIR as FASHION_MNIST_DIR
from gradcore.utils.data import load_fashion_mnist as load_fashion_mnist
from gradcore.utils.data import read_idx as read_idx
from gradcore.data import dataloader as dataloader, dataset as dataset, distributed as distributed, sampler as sampler
