"""Lets threadpoolctl see and limit gradcore's thread pool.

The extension exports ``gradcore_threadpool_get_num_threads`` /
``gradcore_threadpool_set_num_threads``; this controller, registered when threadpoolctl is
installed, finds the library by those symbols:

>>> from threadpoolctl import threadpool_info, threadpool_limits
>>> [i for i in threadpool_info() if i["user_api"] == "gradcore"]
>>> with threadpool_limits(limits=1, user_api="gradcore"): ...
"""
from __future__ import annotations

from typing import Any, Optional


def register() -> bool:
    """Register the controller with threadpoolctl; False when threadpoolctl is absent."""
    try:
        import threadpoolctl
    except ImportError:
        return False
    if not hasattr(threadpoolctl, "register"):  # threadpoolctl < 3.5
        return False

    class GradcoreController(threadpoolctl.LibController):  # type: ignore[misc]
        user_api = "gradcore"
        internal_api = "gradcore"
        filename_prefixes = ("_core",)
        check_symbols = ("gradcore_threadpool_get_num_threads", "gradcore_threadpool_set_num_threads")

        def get_num_threads(self) -> Optional[int]:
            return int(self.dynlib.gradcore_threadpool_get_num_threads())

        def set_num_threads(self, num_threads: int) -> Any:
            return self.dynlib.gradcore_threadpool_set_num_threads(int(num_threads))

        def get_version(self) -> Optional[str]:
            from gradcore import __version__

            return __version__

    threadpoolctl.register(GradcoreController)
    return True
