"""`genrec demo`: the product's main job end to end on a built-in dataset, one resumable step at a time.

Contract: runs the same commands a user would run, in order, each one skipped when its output is already there
(`--force` reruns them): prepare the dataset; train SASRec (the yardstick, and the collaborative embeddings); train the
Alignment Tokenization over the tiny LM; fine-tune the tiny LM on the alignment tasks and choose the product's ranking
on validation (the LM alone or fused with SASRec); evaluate Popularity, SASRec, the LM alone and the product's ranking
side by side, seen items removed as the service serves; fill Redis with every user's top-K (full refresh); start the
service, show example requests and their answers, and keep serving until Ctrl-C (`--no-keep-serving` stops after the
examples). Its steps are listed in `_steps`. It knows nothing about how each step works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from model.errors import UserError
from model.logs import get_logger
from model.settings import Settings
from model.workdir import META_FILE
from offline.common import connect_redis, settings_of

log = get_logger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    done_when: Path | None  # the step is skipped when this file exists (None: always runs)
    run: Callable[[], None]


@dataclass(frozen=True)
class DemoOptions:
    dataset: str
    sasrec_epochs: int
    tokenizer_epochs: int
    train_minutes: float
    port: int
    keep_serving: bool


def training_steps(ctx: typer.Context, opt: DemoOptions) -> list[Step]:
    """The steps that end with the demo's model artifact: prepare, SASRec, tokenizer, LM fine-tuning."""
    from offline.commands import prepare, train, train_sasrec, train_tokenizer

    work, ds = settings_of(ctx).workdir, opt.dataset
    artifact = work.demo_model(ds)
    tokenizer = work.tokenizer(ds, "tiny")
    return [
        Step("prepare", work.dataset(ds) / META_FILE, lambda: prepare.prepare(ctx, ds)),
        Step(
            "train-sasrec",
            work.sasrec(ds) / META_FILE,
            lambda: train_sasrec.train_sasrec_command(
                ctx, ds, epochs=opt.sasrec_epochs, dropout=0.2, lr=2e-3, patience=3, valid_exclude_seen=True
            ),
        ),
        Step(
            "train-tokenizer",
            tokenizer / META_FILE,
            lambda: train_tokenizer.train_tokenizer(ctx, ds, lm="tiny", epochs=opt.tokenizer_epochs),
        ),
        Step(
            "train (alignment tasks, tiny LM)",
            artifact / META_FILE,
            lambda: train.train(ctx, ds, preset="tiny", tokenizer=tokenizer, max_minutes=opt.train_minutes),
        ),
    ]


def _steps(ctx: typer.Context, opt: DemoOptions) -> list[Step]:
    from offline.commands import evaluate, refresh

    settings = settings_of(ctx)
    artifact = settings.workdir.demo_model(opt.dataset)
    return [
        *training_steps(ctx, opt),
        Step(
            "evaluate",
            None,
            lambda: evaluate.evaluate(
                ctx, opt.dataset, models=f"popularity,sasrec,lm:{artifact},rec:{artifact}", exclude_seen=True
            ),
        ),
        Step("refresh (full)", None, lambda: refresh.refresh(ctx, artifact=artifact, mode="full", grace=0.5)),
        Step("serve", None, lambda: _serve(settings, artifact, opt)),
    ]


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def _serve(settings: Settings, artifact: Path, opt: DemoOptions) -> None:
    """Start `genrec serve`, wait until ready, show example requests, then keep serving (or stop)."""
    base = f"http://127.0.0.1:{opt.port}"
    cmd = [sys.executable, "-m", "offline", "serve", "--artifact", str(artifact), "--port", str(opt.port)]
    # every shared setting goes through the environment: the Redis URL (which may hold a password) never appears on
    # a command line, where `ps` shows it
    server = subprocess.Popen(cmd, env={**os.environ, **settings.as_env()})
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise UserError(f"the service exited with code {server.returncode} (is port {opt.port} free?)")
            try:
                if _get(base + "/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise UserError(f"the service did not become ready within 120 s at {base}")
            time.sleep(0.5)
        for path in ("/users/1/recommendations?k=5", "/users/2/recommendations?k=3&offset=2", "/readyz"):
            status, body = _get(base + path)
            typer.echo(f"\n$ curl '{base}{path}'\n{status} {json.dumps(json.loads(body), indent=1)[:1500]}")
        typer.secho(
            f"\nThe service is answering at {base} (try the requests above; POST {base}/users/1/events records "
            f"an interaction; {base}/metrics for Prometheus).",
            fg=typer.colors.GREEN,
        )
        if opt.keep_serving:
            typer.echo("Serving until Ctrl-C.")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


def demo(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="Built-in dataset to run on.")] = "movielens-100k",
    sasrec_epochs: Annotated[int, typer.Option(min=1, max=200, help="Most SASRec epochs.")] = 20,
    tokenizer_epochs: Annotated[int, typer.Option(min=1, max=1000, help="Tokenizer training epochs.")] = 100,
    train_minutes: Annotated[float, typer.Option(min=0.5, help="Time cap of the LM fine-tuning.")] = 3.0,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the service at the end.")] = 8000,
    keep_serving: Annotated[bool, typer.Option(help="Keep the service running after the examples.")] = True,
    force: Annotated[bool, typer.Option(help="Rerun steps whose output already exists.")] = False,
) -> None:
    """Run the main job end to end on a built-in dataset (default: MovieLens-100K), ending with the service up."""
    opt = DemoOptions(dataset, sasrec_epochs, tokenizer_epochs, train_minutes, port, keep_serving)
    connect_redis(settings_of(ctx), timeout_s=5).close()  # the refresh needs it: say so before minutes of training
    steps = _steps(ctx, opt)
    started = time.monotonic()
    for number, step in enumerate(steps, start=1):
        if not force and step.done_when is not None and step.done_when.exists():
            log.info("step already done, skipped", step=step.name, output=str(step.done_when))
            continue
        typer.secho(f"[{number}/{len(steps)}] {step.name}", err=True, bold=True)
        step.run()
    typer.secho(f"demo finished in {time.monotonic() - started:.0f} s; outputs under {ctx.obj.work_dir}", err=True)
