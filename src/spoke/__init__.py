"""Spoke: a Protobuf schema registry.

Teams push immutable, semver-versioned modules of ``.proto`` files; services and build tools pull
them with their dependencies. The HTTP service is built by :func:`spoke.api.app.create_app`.
"""

__version__ = "0.1.0"
