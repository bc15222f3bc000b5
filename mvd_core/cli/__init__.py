"""The `mvd` command line. Each command module is small; this file only assembles them and
turns errors into one readable line (no traceback reaches a user)."""

from __future__ import annotations

import os
import re
import sys

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from mvd_core.cli import blueprint, clusters, did, endpoints, participants, run
from mvd_core.cli.console import fail
from mvd_core.errors import MvdError
from mvd_core.logs import configure, get_logger
from mvd_core.settings import describe_invalid, get_settings

app = typer.Typer(
    name="mvd",
    help="Deploy a Minimum Viable Dataspace on button click, and reset it to its baseline every night.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(blueprint.validate)
app.command()(blueprint.render)
app.command()(blueprint.plan)
app.command()(run.up)
app.command()(run.serve)
app.command()(run.provision)
app.command()(run.reset)
app.command()(run.teardown)
app.command(name="rotate-keys")(run.rotate_keys)
app.command()(run.status)
app.command()(run.runs)
app.command()(endpoints.endpoints)
app.command()(participants.onboard)
app.command()(participants.invite)
app.command()(participants.participants)
app.add_typer(did.app, name="did")
app.add_typer(clusters.app, name="clusters")

log = get_logger(__name__)


def main() -> None:
    try:
        settings = get_settings()
        # The terminal shows progress; the full structured log goes to $MVD_HOME/mvd.log.
        # MVD_LOG_LEVEL set explicitly brings the records to the terminal too.
        explicit = "MVD_LOG_LEVEL" in os.environ
        configure(
            settings.log_level,
            settings.log_format,
            console_level=None if explicit else "WARNING",
            file=settings.home / "mvd.log",
        )
    except ValidationError as exc:  # invalid MVD_* environment; never echo the values
        fail(describe_invalid(exc))
        sys.exit(2)
    except SettingsError as exc:  # e.g. MVD_WEBHOOK_SECRETS that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        fail(f"invalid settings: MVD_{field.group(1).upper() if field else '?'} cannot be parsed (JSON expected)")
        sys.exit(2)
    except OSError as exc:
        fail(f"cannot use the state directory: {exc.strerror} ({exc.filename})")
        sys.exit(2)
    try:
        app(prog_name="mvd")
    except MvdError as exc:
        fail(exc.local_message)
        sys.exit(1)
    except KeyboardInterrupt:
        fail("interrupted")
        sys.exit(130)
    except OSError as exc:  # a file the command reads or writes (render --out, a blueprint...)
        log.debug("file error", exc_info=True)
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or type(exc).__name__}{where}")
        sys.exit(1)
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        fail(f"internal error ({type(exc).__name__}); run with MVD_LOG_LEVEL=DEBUG for details")
        sys.exit(70)
