"""A test-only storage plugin: reading a module named ``slow-<ms>`` takes ``<ms>`` milliseconds.

It makes requests slow for real inside a real ``spoke serve``, for as long as a test chooses, with
no hook in Spoke itself: the server loads it like any third-party plugin, through the ``spoke``
entry point group, from the distribution metadata :func:`spoke_process.slow_plugin_env` writes
(a ``*.dist-info`` directory on ``PYTHONPATH``, which is all an installed distribution is to
``importlib.metadata``). ``close`` logs a line, so a test can see the backends were closed.
"""

from __future__ import annotations

import logging
import time

from spoke.domain import Module
from spoke.plugins import StorageBackend, hookimpl
from spoke_plugins.memory import MemoryStorage

log = logging.getLogger("slow_plugin")


class SlowStorage(MemoryStorage):
    """Memory storage whose ``get_module`` sleeps for modules named ``slow-<ms>``."""

    def get_module(self, *, name: str) -> Module:
        if name.startswith("slow-") and name[5:].isdigit():
            time.sleep(int(name[5:]) / 1000)
        return super().get_module(name=name)

    def close(self) -> None:
        log.info("slow storage closed")
        super().close()


@hookimpl
def spoke_storage_backends() -> list[StorageBackend]:
    return [StorageBackend("slow", "Memory storage with slow module reads (tests).", _create)]


def _create(_: object) -> SlowStorage:
    return SlowStorage()
