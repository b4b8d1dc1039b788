"""The language registry: every plugin's languages, each detected once, on first use.

Detection runs generators (``--version``), which takes a moment per tool. A registry detects
lazily, so an application that never serves a language pays nothing for it, and exactly once:
the answer is kept for the life of the registry (installing a generator takes a restart, the
same as installing a plugin). It is safe to share between threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from spoke.codegen.detect import Detector
from spoke.codegen.languages import Language, LanguageStatus
from spoke.codegen.process import default_search_path
from spoke.errors import LanguageNotFound

if TYPE_CHECKING:
    from spoke.plugins import PluginFailure, PluginRegistry

__all__ = ["DEFAULT_PROBE_TIMEOUT", "LanguageRegistry"]

# How long a generator may take to say its version. Generous for a loaded CI machine (a
# Python interpreter importing grpc_tools, Node starting a plugin), short for a hung one.
DEFAULT_PROBE_TIMEOUT = 15.0


class LanguageRegistry:
    """The languages of the loaded plugins, by id, with their detection results."""

    def __init__(
        self,
        languages: Iterable[Language],
        *,
        failures: Iterable[PluginFailure] = (),
        search_path: str | None = None,
        python_path: str | None = None,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
    ) -> None:
        """``search_path`` is where generators are looked for and the PATH they run with
        (default: the interpreter's directory, then PATH); ``python_path`` the PYTHONPATH of
        the bundled protoc's interpreter (default: this process's)."""
        self._languages = {language.id: language for language in languages}
        self.failures: tuple[PluginFailure, ...] = tuple(failures)
        self._detector = Detector(
            search_path=search_path if search_path is not None else default_search_path(),
            python_path=python_path if python_path is not None else os.environ.get("PYTHONPATH"),
            probe_timeout=probe_timeout,
        )
        self._statuses: dict[str, LanguageStatus] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        plugin_manager: PluginRegistry,
        *,
        search_path: str | None = None,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
    ) -> LanguageRegistry:
        """The languages every plugin of ``plugin_manager`` provides through ``spoke_languages``.

        A hook that fails, or a language id offered twice, is recorded in ``failures`` (the
        first plugin's language is kept), as for backends. Nothing is detected yet.
        """
        languages, failures = plugin_manager.languages()
        return cls(
            languages, failures=failures, search_path=search_path, probe_timeout=probe_timeout
        )

    def ids(self) -> list[str]:
        """Every language id, sorted, without detecting anything."""
        return sorted(self._languages)

    def all(self) -> list[LanguageStatus]:
        """Every language with its detection result, sorted by id."""
        return [self.get(language_id) for language_id in self.ids()]

    def get(self, language_id: str) -> LanguageStatus:
        """The language ``language_id``, detected on the first call. Raises
        :class:`spoke.errors.LanguageNotFound` when no plugin provides it."""
        language = self._languages.get(language_id)
        if language is None:
            raise LanguageNotFound(language_id)
        with self._lock:
            # One lock for all: detections share the probe of each tool (seven languages run
            # one protoc), and a waiting request needs the answer anyway.
            status = self._statuses.get(language_id)
            if status is None:
                status = self._detector.detect(language)
                self._statuses[language_id] = status
        return status
