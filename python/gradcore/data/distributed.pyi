# Type stub: at run time this module is gradcore.utils.data.distributed (see __init__.pyi).
from gradcore.utils.data.distributed import *  # noqa: F401,F403
