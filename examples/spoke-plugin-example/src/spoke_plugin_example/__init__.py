"""An example Spoke plugin: the ``sqlite`` storage backend, metadata in one SQLite file.

:mod:`spoke_plugin_example.plugin` is the module the ``spoke`` entry point registers;
:mod:`spoke_plugin_example.storage` holds the backend itself.
"""

from spoke_plugin_example.storage import SqliteStorage

__all__ = ["SqliteStorage"]
__version__ = "0.1.0"
