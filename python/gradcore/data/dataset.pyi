# Type stub: at run time this module is gradcore.utils.data.dataset (see __init__.pyi).
from gradcore.utils.data.dataset import *  # noqa: F401,F403
