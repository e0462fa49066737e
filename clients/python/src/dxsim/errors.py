"""Exceptions raised by the dxsim client."""

from __future__ import annotations


class DxSimError(Exception):
    """Base class of every error this package raises."""


class ApiError(DxSimError):
    """The server answered with an error body ``{"error": {"code", "message"}}``.

    Attributes:
        status: the HTTP status (401, 404, 409, 422, ...).
        code: the machine-readable code (``not_found``, ``episode_over``, ...).
        message: the server's explanation, meant for a person.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def __reduce__(self):  # keeps the exception picklable (multiprocessing, vector envs)
        return (type(self), (self.status, self.code, self.message))


class ServerUnreachable(DxSimError, ConnectionError):
    """The server could not be reached, or the connection broke mid-request."""
