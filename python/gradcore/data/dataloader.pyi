# Type stub: at run time this module is gradcore.utils.data.dataloader (see __init__.pyi).
from gradcore.utils.data.dataloader import *  # noqa: F401,F403
