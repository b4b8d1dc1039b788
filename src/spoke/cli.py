"""The ``spoke`` command: ``serve``, ``plugins``, ``settings``."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from spoke import __version__
from spoke.errors import SpokeError
from spoke.settings import SETTINGS, Settings, SettingsError, environment_value, load_settings

__all__ = ["main"]

EXIT_CONFIG = 2


def _fail_config(message: str) -> NoReturn:
    click.echo(f"spoke: configuration error: {message}", err=True)
    sys.exit(EXIT_CONFIG)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        _fail_config(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spoke")
def main() -> None:
    """Spoke, a Protobuf schema registry."""


@main.command()
def serve() -> None:
    """Run the API (SPOKE_PORT) and health/metrics (SPOKE_HEALTH_PORT) listeners.

    Configuration comes from SPOKE_* environment variables; see `spoke settings`.
    A bad value stops startup with exit code 2.
    """
    from spoke.api.app import create_app
    from spoke.logs import configure_logging
    from spoke.plugins import UnknownBackend
    from spoke.server import ListenError, SpokeServer

    settings = _settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    try:
        application = create_app(settings)
    except UnknownBackend as exc:
        _fail_config(f"{exc.variable}: {exc.message}")
    except SettingsError as exc:  # a plugin's own option is wrong
        _fail_config(str(exc))
    except SpokeError as exc:  # a backend that cannot start (unreachable, unreadable)
        click.echo(f"spoke: cannot start: {exc.message}", err=True)
        sys.exit(1)
    try:
        server = SpokeServer(application)
    except ListenError as exc:  # names the address, the port and the setting to change
        application.close()
        click.echo(f"spoke: {exc}", err=True)
        sys.exit(1)
    server.install_signal_handlers()
    server.serve_forever()


@main.command()
def plugins() -> None:
    """List installed backend plugins, and those that failed to load.

    A backend whose extra is not installed is listed with `unusable:` and the install hint.
    Exits 1 when a plugin failed to load.
    """
    from spoke.plugins import create_plugin_registry

    catalog = create_plugin_registry().catalog()
    for kind, descriptors in (
        ("storage", catalog.storage),
        ("blob", catalog.blob),
        ("cache", catalog.cache),
    ):
        click.echo(f"{kind} backends:")
        for descriptor in descriptors:
            click.echo(f"  {descriptor.name:<14} {descriptor.description}  [{descriptor.plugin}]")
            reason = descriptor.unusable_reason()
            if reason is not None:
                click.echo(f"  {'':<14} unusable: {reason}")
    if catalog.failures:
        click.echo("failed to load:")
        for failure in catalog.failures:
            click.echo(f"  {failure.plugin}: {failure.error}")
        sys.exit(1)


@main.command(name="settings")
def show_settings() -> None:
    """Print every SPOKE_* setting with its effective value (secrets hidden).

    Each value is written as the variable would hold it (a list comma-separated, booleans
    true/false, nothing when unset), so a line can be copied into an environment file.
    """
    settings = _settings()
    for spec in SETTINGS:
        value = getattr(settings, spec.attribute)
        shown = "(hidden)" if spec.secret and value else environment_value(value)
        click.echo(f"{spec.env}={shown}")


# Commands that live in their own modules, registered here so `spoke --help` lists them.
from spoke.cli_backup import backup, restore  # noqa: E402
from spoke.cli_check import check  # noqa: E402
from spoke.cli_migrate import migrate  # noqa: E402
from spoke.cli_wait import wait  # noqa: E402

main.add_command(backup)
main.add_command(restore)
main.add_command(migrate)
main.add_command(check)
main.add_command(wait)
