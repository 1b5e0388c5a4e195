"""The `genrec` command line: one typer app, one module per command under `offline/commands/`.

Contract: global options (logging, work dir, data dir, seed) are parsed and validated once into `Settings` by the
callback and handed to commands through the typer context; every command has `--help`. Errors a user can fix
(bad paths, bad values, malformed files) exit with code 2 and one clear message, not a stack trace.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from model.errors import UserError
from model.logs import configure
from model.redis_url import mask_url
from model.settings import Settings

app = typer.Typer(
    name="genrec",
    help="LLM generative recommender served from a precomputed cache: offline jobs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    work_dir: Annotated[
        Path | None, typer.Option(help="Where processed data, models and reports go [env GENREC_WORK_DIR].")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Raw datasets root [env GENREC_DATA_DIR].")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [env GENREC_SEED].")] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = None,
    log_format: Annotated[str | None, typer.Option(help="console or json.")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Cache Redis URL [env GENREC_REDIS_URL].")] = None,
    pushgateway_url: Annotated[
        str | None, typer.Option(help="Pushgateway for job metrics [env GENREC_PUSHGATEWAY_URL].")
    ] = None,
) -> None:
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "work_dir": work_dir,
            "data_dir": data_dir,
            "seed": seed,
            "log_level": log_level.upper() if log_level else None,
            "log_format": log_format,
            "redis_url": redis_url,
            "pushgateway_url": pushgateway_url,
        }.items()
        if v is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise typer.BadParameter(_validation_message(exc)) from None
    configure(settings.log_level, settings.log_format)
    ctx.obj = settings


def _validation_message(exc: ValidationError) -> str:
    def shown(err: Any) -> str:  # a Redis URL may carry a password: never echo it
        value = err.get("input")
        return mask_url(value) if isinstance(value, str) and "redis_url" in err["loc"] else value

    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {shown(err)!r})" for err in exc.errors()
    )


def _register() -> None:
    """Import each command module and add its command; kept in one list so the CLI's surface is visible here.

    Safe to call more than once (tests build the app too): commands already registered are skipped.
    """
    from offline.commands import (
        bootstrap,
        catalogue,
        demo,
        evaluate,
        prepare,
        rank,
        refresh,
        serve,
        train,
        train_sasrec,
        train_tokenizer,
    )

    commands: dict[str, Callable[..., Any]] = {
        "prepare": prepare.prepare,
        "train-sasrec": train_sasrec.train_sasrec_command,
        "evaluate": evaluate.evaluate,
        "train-tokenizer": train_tokenizer.train_tokenizer,
        "train": train.train,
        "tune-ranking": rank.tune_ranking,
        "refresh": refresh.refresh,
        "serve": serve.serve,
        "demo": demo.demo,
        "bootstrap": bootstrap.bootstrap,
    }
    present = {c.name for c in app.registered_commands}
    for name, function in commands.items():
        if name not in present:
            app.command(name)(function)
    if "catalogue" not in {g.name for g in app.registered_groups}:
        app.add_typer(catalogue.app, name="catalogue")


def main() -> None:
    _register()
    try:
        app()
    except UserError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
