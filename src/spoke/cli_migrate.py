"""``spoke migrate``: bring the PostgreSQL schema to this Spoke's revision, or check it.

::

    spoke migrate           # upgrade to head; idempotent; safe from several pods at once
    spoke migrate --check   # exit 1 when migrations are pending, 0 when up to date

Exit codes: 0 done / up to date, 1 pending (``--check``) or database unreachable, 2 a missing or
invalid ``SPOKE_POSTGRES_URL``. Every outcome is one line; no message holds the password.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from spoke.errors import SpokeError
from spoke.plugins import missing_extra, missing_modules
from spoke.settings import SettingsError, load_settings
from spoke_plugins import postgres

__all__ = ["migrate"]

EXIT_PENDING = 1
EXIT_UNAVAILABLE = 1
EXIT_CONFIG = 2


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"spoke: {message}", err=True)
    sys.exit(code)


@click.command()
@click.option(
    "--check",
    is_flag=True,
    help="Only check: exit 1 when migrations are pending, 0 when the schema is up to date.",
)
def migrate(check: bool) -> None:
    """Migrate the PostgreSQL schema (SPOKE_POSTGRES_URL) to this version of Spoke.

    Takes a PostgreSQL advisory lock, so running it from several pods at once is safe; running
    it again does nothing. `--check` suits an init container or a deploy gate.
    """
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(f"configuration error: {exc}", EXIT_CONFIG)
    url = settings.postgres_url
    if not url:
        _fail("configuration error: SPOKE_POSTGRES_URL is not set", EXIT_CONFIG)
    missing = missing_modules(postgres.REQUIRES)
    if missing:
        _fail(missing_extra("migrate", postgres.EXTRA, missing), EXIT_CONFIG)
    try:
        from spoke_plugins.postgres import migrate as migrations
    except ImportError as exc:  # installed, but broken
        _fail(f"{missing_extra('migrate', postgres.EXTRA)}: {exc}", EXIT_CONFIG)
    timeout = max(settings.postgres_timeout, 1.0)
    try:
        head = migrations.head_revision()
        if check:
            current = migrations.current_revision(url, timeout=timeout)
            if current == head:
                click.echo(f"spoke: database schema is up to date (revision {head})")
                return
            click.echo(
                f"spoke: migrations pending: database at revision {current or 'none'}, "
                f"this Spoke needs {head}; run `spoke migrate`"
            )
            sys.exit(EXIT_PENDING)
        result = migrations.upgrade(url, timeout=timeout)
    except ValueError as exc:
        _fail(f"configuration error: SPOKE_POSTGRES_URL: {exc}", EXIT_CONFIG)
    except SpokeError as exc:
        _fail(f"migrate failed: {exc.message}", EXIT_UNAVAILABLE)
    if result.changed:
        click.echo(
            f"spoke: database schema upgraded from revision {result.before or 'none'} "
            f"to {result.after}"
        )
    else:
        click.echo(f"spoke: database schema already up to date (revision {result.after})")
