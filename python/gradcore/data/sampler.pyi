# Type stub: at run time this module is gradcore.utils.data.sampler (see __init__.pyi).
from gradcore.utils.data.sampler import *  # noqa: F401,F403
