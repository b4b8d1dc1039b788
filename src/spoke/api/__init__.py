"""The HTTP layer: falcon apps for the API listener and the health listener."""
