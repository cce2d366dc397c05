"""Exceptions a model function may raise to say what kind of failure it is."""

from __future__ import annotations


class InvalidArgument(ValueError):
    """The request's inputs are wrong, not the model: the client gets 400 / INVALID_ARGUMENT.

    Any other exception is a server-side failure (500 / INTERNAL). The C++ API has the same
    distinction (``tensorbind::InvalidArgument``).
    """
