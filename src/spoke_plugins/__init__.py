"""Spoke's built-in backends, each a plugin registered under the ``spoke`` entry point group."""
