"""Error translation and URL handling of the postgres backends (no server needed)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from spoke.errors import BackendUnavailable, SpokeError
from spoke_plugins.postgres.engine import normalize_url, redact_url, translate_errors


class _DriverError(Exception):
    def __init__(self, message: str, pgcode: str | None = None) -> None:
        super().__init__(message)
        self.pgcode = pgcode


def _raise(error: BaseException) -> SpokeError:
    with pytest.raises(SpokeError) as caught, translate_errors():
        raise error
    return caught.value


SQL = "SELECT secret_column FROM modules WHERE name = %(name)s"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            sa_exc.OperationalError(
                SQL,
                {"name": "x"},
                _DriverError('connection to server at "db", port 5432 failed: Connection refused'),
            ),
            "postgres: connection refused",
        ),
        (
            sa_exc.OperationalError(
                SQL, {}, _DriverError("server closed the connection unexpectedly")
            ),
            "postgres: connection lost",
        ),
        (
            sa_exc.OperationalError(
                SQL,
                {},
                _DriverError("terminating connection due to administrator command", "57P01"),
            ),
            "postgres: the database is shutting down or starting up",
        ),
        (
            sa_exc.OperationalError(
                SQL, {}, _DriverError("canceling statement due to statement timeout", "57014")
            ),
            "postgres: statement timed out",
        ),
        (
            sa_exc.OperationalError(SQL, {}, _DriverError("timeout expired")),
            "postgres: connection timed out",
        ),
        (
            sa_exc.OperationalError(
                SQL, {}, _DriverError('password authentication failed for user "spoke"')
            ),
            "postgres: authentication failed",
        ),
        (
            sa_exc.InterfaceError(SQL, {}, _DriverError("connection already closed")),
            "postgres: connection lost",
        ),
        (sa_exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"), None),
    ],
)
def test_connection_problems_are_backend_unavailable(
    error: BaseException, message: str | None
) -> None:
    translated = _raise(error)
    assert isinstance(translated, BackendUnavailable)
    if message:
        assert translated.message == message
    else:
        assert translated.message == "postgres: no free connection in the pool (all in use)"
    assert "secret_column" not in translated.message


def test_other_database_errors_name_only_their_sqlstate() -> None:
    translated = _raise(
        sa_exc.ProgrammingError(SQL, {}, _DriverError('relation "modules" does not exist', "42P01"))
    )
    assert not isinstance(translated, BackendUnavailable)
    assert translated.status == 500
    assert translated.message == "postgres: unexpected database error (42P01)"


def test_spoke_errors_and_others_pass_through() -> None:
    with pytest.raises(KeyError), translate_errors():
        raise KeyError("x")
    original = BackendUnavailable("postgres: x")
    assert _raise(original) is original


def test_urls_are_redacted() -> None:
    url = "postgresql://spoke:p%40ss:w0rd@db.example:5432/spoke?sslmode=require"
    shown = redact_url(url)
    assert shown == "postgresql://spoke:***@db.example:5432/spoke?sslmode=require"
    assert "w0rd" not in redact_url(normalize_url(url))
    assert redact_url("not a url") == "<invalid URL>"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://spoke:topsecret@db:notaport/spoke",
        "mysql://spoke:topsecret@db/spoke",
        "postgresql://spoke:topsecret@db",
        "postgresql://spoke:topsecret@/spoke",
    ],
)
def test_bad_urls_never_echo_the_password(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_url(url)
    assert "topsecret" not in str(caught.value)
