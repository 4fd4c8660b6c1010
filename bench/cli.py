"""The icm-bench command line. Thin: parse, call one function, print.

`main` turns every failure into one line on stderr, never a traceback
(docs/reliability.md): usage errors and BenchErrors exit 2, OS errors (disk full,
permissions, an executable of the wrong format) name the path and what to do (exit 1),
Ctrl-C and SIGTERM say that finished jobs are stored (exit 130 / 143), and an
unexpected error prints one line and writes its traceback to a file (exit 1;
ICM_BENCH_DEBUG=1 raises it instead). Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path

import typer

from bench.errors import BenchError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Benchmark image and feature codecs by what they do to machine vision.",
)
eval_app = typer.Typer(help="Evaluate prediction files directly.")
codec_app = typer.Typer(help="Run one codec on one input.")
app.add_typer(eval_app, name="eval")
app.add_typer(codec_app, name="codec")


def _echo_json(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2, sort_keys=False))


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("icm-bench")
    except Exception:  # noqa: BLE001 - not installed as a distribution: the source's
        from bench import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"icm-bench {_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """Benchmark image and feature codecs by what they do to machine vision."""


@app.command()
def run(
    spec: str = typer.Argument(..., metavar="SPEC",
                               help="A preset name (see `icm-bench ls presets`) or a YAML file."),
    set_: list[str] = typer.Option([], "--set", help="Override a spec value: key.path=value"),
    workers: int | None = typer.Option(None, help="Worker processes (default: one per core)."),
    executor: str | None = typer.Option(None, help="serial | process | dask"),
    address: str | None = typer.Option(None, help="Dask scheduler address (tcp://...)."),
    limit: int | None = typer.Option(None, help="Use only the first N dataset items."),
    results_dir: Path = typer.Option(Path("results"), help="Where run stores go."),
    reports_dir: Path = typer.Option(Path("reports"), help="Where reports go."),
    allow_failures: bool = typer.Option(
        False, "--allow-failures", help="Exit 0 even when some jobs failed."),
) -> None:
    """Run a spec: plan jobs, run the new ones, store results, write the report.

    Exits 1 when a job failed (its reasons are printed), unless --allow-failures.
    """
    from bench.execute.runner import run_spec_cli

    outcome = run_spec_cli(
        spec, set_, workers=workers, executor=executor, address=address, limit=limit,
        results_dir=results_dir, reports_dir=reports_dir,
    )
    typer.echo(f"report: {outcome.report}")
    if outcome.jobs_failed and not allow_failures:
        raise typer.Exit(1)


@app.command("ls")
def ls(what: str = typer.Argument(..., metavar="WHAT",
                                  help="codecs | datasets | tasks | presets")) -> None:
    """List registered codecs, datasets, tasks or shipped presets."""
    from bench.catalog import listing

    for name, help_text in listing(what):
        typer.echo(f"{name:<20} {help_text}")


@app.command()
def show(
    run_name: str = typer.Argument(..., metavar="RUN", help="A run name or results/<run> folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the points as JSON."),
    results_dir: Path = typer.Option(Path("results"), help="Where run stores are."),
) -> None:
    """Print a run's points table."""
    from bench.report.show import show_run

    out = show_run(run_name, results_dir=results_dir, as_json=as_json)
    typer.echo(json.dumps(out, indent=2) if as_json else out)


@app.command()
def doctor() -> None:
    """Say which codecs and backends are usable here, and why not."""
    from bench.catalog import doctor_rows

    for name, ok, detail in doctor_rows():
        typer.echo(f"{'ok ' if ok else 'NO '} {name:<20} {detail}")


@app.command("bd")
def bd(
    anchor_csv: Path = typer.Argument(..., metavar="ANCHOR.csv", help="Anchor: a row a point."),
    test_csv: Path = typer.Argument(..., metavar="TEST.csv", help="Test curve: a row a point."),
    method: str = typer.Option("pchip", help="pchip | cubic | akima"),
    monotonic: bool = typer.Option(False, "--monotonic", help="Fit monotonic concave cubics."),
    rate_col: str = typer.Option("bpp", help="The rate column."),
    quality_col: str | None = typer.Option(
        None, help="The quality column (default: the only other numeric one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """BD-rate and BD-quality of a test curve against an anchor curve."""
    from bench.analysis.bd import bd_from_csv

    result = bd_from_csv(anchor_csv, test_csv, method, monotonic, rate_col, quality_col)
    typer.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.summary())


@eval_app.command("coco")
def eval_coco(
    annotations: Path = typer.Argument(..., metavar="ANNOTATIONS.json", help="Instances JSON."),
    results: Path = typer.Argument(..., metavar="RESULTS.json", help="COCO results JSON (a list)."),
    iou_type: str = typer.Option(..., "--iou-type", help="bbox | segm"),
    backend: str = typer.Option("pycocotools", help="pycocotools | faster-coco-eval"),
    as_json: bool = typer.Option(False, "--json", help="Print the 12 stats as JSON."),
) -> None:
    """COCO mAP of a results file, the 12 pycocotools stats."""
    from bench.metrics.coco import eval_coco_cli

    typer.echo(eval_coco_cli(annotations, results, iou_type, backend, as_json))


@eval_app.command("kitti")
def eval_kitti(
    label_dir: Path = typer.Argument(..., metavar="LABEL_DIR", help="Ground-truth label files."),
    pred_dir: Path = typer.Argument(..., metavar="PRED_DIR", help="Detection label files."),
    ids: Path | None = typer.Option(None, "--ids", help="Frame ids to evaluate, one a line."),
    overlaps: str = typer.Option("strict", help="strict (0.7/0.5/0.5) | loose (BEV/3D 0.5/0.25)"),
    as_json: bool = typer.Option(False, "--json", help="Print AP in percent as JSON."),
) -> None:
    """KITTI AP2D, APBEV, AP3D and AOS (R40 and R11) of prediction files."""
    from bench.metrics.kitti import eval_kitti_cli

    typer.echo(eval_kitti_cli(label_dir, pred_dir, ids, overlaps, as_json))


@codec_app.command("run")
def codec_run(
    codec: str = typer.Argument(..., metavar="CODEC", help="A registered image codec (see `icm-bench ls codecs`)."),
    image: Path = typer.Argument(..., metavar="IMAGE", help="The image to code (PNG, JPEG, ...)."),
    point: str = typer.Option(..., "--point", help="Rate point value: QP, quality, q, distance."),
    set_: list[str] = typer.Option([], "--set", help="Codec parameter key=value (repeatable)."),
    out: Path = typer.Option(..., "--out", help="Folder for <stem>.bin and <stem>.png."),
) -> None:
    """Code one image at one rate point; print bits, bpp, PSNR and timings as JSON."""
    from bench.codecs.single import run_single

    typer.echo(json.dumps(run_single(codec, image, point, set_, out)))


@app.command("report")
def report(
    runs: list[str] = typer.Argument(
        ..., metavar="RUN", help="Runs (names or results/<run> folders) or curves .json files."),
    out: Path | None = typer.Option(None, "--out", help="Report folder (default: reports/<runs>)."),
    formats: str | None = typer.Option(
        None, "--formats", help="Comma list of html,md,pdf,svg,png,tex,csv (default: the spec's)."),
    metrics: str | None = typer.Option(
        None, "--metrics", help="Comma list of metrics to show (default: the spec's, else all)."),
    log_rate: bool | None = typer.Option(
        None, "--log-rate/--linear-rate", help="Rate axis scale (default: the spec's)."),
    qp_labels: bool = typer.Option(False, "--qp-labels", help="Label each point with its QP."),
    bands: bool | None = typer.Option(
        None, "--bands/--no-bands", help="Shade bootstrap intervals of the points (default: "
                                         "the spec's bd.bootstrap.bands)."),
    results_dir: Path = typer.Option(Path("results"), help="Where run stores are."),
    reports_dir: Path = typer.Option(Path("reports"), help="Where reports go without --out."),
) -> None:
    """RD plots, BD and timing tables and an HTML page from one or several runs."""
    from bench.report import report_runs

    wanted = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    path = report_runs(runs, out, formats, results_dir, reports_dir, wanted, log_rate, qp_labels,
                       bands)
    typer.echo(f"report: {path}")


@app.command("export")
def export(
    run_name: str = typer.Argument(..., metavar="RUN", help="A run name or results/<run> folder."),
    out: Path | None = typer.Option(None, "-o", "--out", help="The curves .json file to write."),
    records: Path | None = typer.Option(None, help="Per-item records as .csv or .parquet."),
    points: Path | None = typer.Option(None, help="Points as .csv or .parquet."),
    results_dir: Path = typer.Option(Path("results"), help="Where run stores are."),
) -> None:
    """Write a run's curves as a small schema-versioned JSON (a baseline for `compare`),
    and/or its per-item records and points as CSV or Parquet."""
    from bench.results.curves import export_run
    from bench.results.tables import export_tables

    if out is None and records is None and points is None:
        raise BenchError("export: give -o curves.json, --records FILE or --points FILE")
    if out is not None:
        typer.echo(f"curves: {export_run(run_name, out, results_dir)}")
    for what, path in export_tables(run_name, results_dir, records, points):
        typer.echo(f"{what}: {path}")


@app.command("compare")
def compare(
    baseline: str = typer.Argument(..., metavar="BASELINE", help="A run or a curves .json."),
    new: str = typer.Argument(..., metavar="NEW", help="A run or an exported curves .json."),
    tolerance: float = typer.Option(1.0, help="Allowed BD-rate change, in percentage points."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML here."),
    results_dir: Path = typer.Option(Path("results"), help="Where run stores are."),
) -> None:
    """Gate a run against a baseline: exit 1 on any worse or failed curve."""
    from bench.analysis.compare import compare_sources, format_comparison

    result = compare_sources(baseline, new, tolerance, str(results_dir))
    if junit:
        from bench.report.junit import write_junit

        write_junit(result, junit)
    typer.echo(format_comparison(result))
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command("train")
def train(
    recipe: str = typer.Argument(..., metavar="RECIPE|NAME",
                                 help="A recipe YAML, or a shipped recipe's name (see docs)."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe value: key.path=value"),
    resume: bool = typer.Option(False, "--resume", help="Continue from the saved state."),
    steps: int | None = typer.Option(None, "--steps", help="Train to this many steps."),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda or cuda:N."),
) -> None:
    """Train a model from a recipe: resumable, with progress, evaluation and a model card."""
    from bench.train.trainer import train as run_training

    summary = run_training(recipe, set_, resume=resume, steps=steps, device=device,
                           log=typer.echo)
    typer.echo(f"weights: {summary['weights']}" + (f"; card: {summary['card']}"
                                                   if summary.get("card") else ""))


# -- commands added by other modules go above this line --


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM. Not a KeyboardInterrupt, which typer would turn into a silent
    exit code; a BaseException, so codec calls still kill their process groups."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def _click_exceptions() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(ClickException, Abort, Exit) classes of click and of typer's own copy of click."""
    mods = []
    try:
        import click.exceptions

        mods.append(click.exceptions)
    except ImportError:  # pragma: no cover - typer without click
        pass
    try:
        from typer import _click

        mods.append(_click.exceptions)
    except ImportError:  # older typer: it uses click itself
        pass
    pick = lambda name: tuple(getattr(m, name) for m in mods if hasattr(m, name))
    return pick("ClickException"), pick("Abort"), pick("Exit")


def _usage_line(exc: BaseException) -> str:
    """One line for a click usage error: the message, the usage, where help is."""
    ctx = getattr(exc, "ctx", None)
    msg = (exc.format_message() if hasattr(exc, "format_message") else str(exc)).strip()
    path = getattr(ctx, "command_path", None) or "icm-bench"
    usage = ""
    if ctx is not None:
        try:
            usage = " ".join(ctx.get_usage().split())
        except Exception:  # noqa: BLE001 - the message alone is enough
            usage = ""
        usage = re.sub(r"[{}]", "", usage.removeprefix("Usage:").strip())
    if not msg or exc.__class__.__name__ == "NoArgsIsHelpError":
        msg = "missing command" if usage.endswith("COMMAND [ARGS]...") else "missing arguments"
    if msg == "Missing command.":
        msg = "missing command"
    commands = ""
    command = getattr(ctx, "command", None)
    if usage.endswith("COMMAND [ARGS]...") and hasattr(command, "list_commands"):
        commands = f"; commands: {', '.join(command.list_commands(ctx))}"
    usage_part = f" (usage: {usage}{commands})" if usage else ""
    return f"error: {msg.rstrip('.')}{usage_part}; see `{path} --help`"


_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free space, then re-run (finished jobs are kept)",
    errno.EDQUOT: "the disk quota is exceeded: free space, then re-run",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "permission denied: fix the permissions or choose another folder",
    errno.EPERM: "permission denied: fix the permissions or choose another folder",
    errno.ENOEXEC: "not an executable for this machine: point the codec's binary setting "
                   "(e.g. ICM_BENCH_FFMPEG, the codec's `ffmpeg`/`bin_dir` param) at one that is",
    errno.ENOENT: "it does not exist: check the path",
}


def os_error_line(exc: OSError) -> str:
    """One line for an OSError: what, which path, what to do."""
    where = f" {str(exc.filename)!r}" if exc.filename is not None else ""
    hint = _OS_HINTS.get(exc.errno or 0, "check the path and the disk, then re-run")
    return f"error: cannot access{where}: {exc.strerror or exc}; {hint}"


def _internal_error_line(exc: BaseException) -> str:
    """One line for a bug; the traceback goes to a file the line names."""
    try:
        fd, path = tempfile.mkstemp(prefix="icm-bench-error-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write("".join(traceback.format_exception(exc)))
        where = f"; traceback in {path} (please report it)"
    except OSError:
        where = "; set ICM_BENCH_DEBUG=1 to see the traceback"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"error: internal error {type(exc).__name__}: {first}{where}"


def _interrupted(exc: BaseException) -> int:
    typer.echo("interrupted; finished jobs are stored, re-run to continue", err=True)
    return 128 + exc.signum if isinstance(exc, Interrupted) else 130


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every failure is one line on stderr (see the module doc)."""
    sys.exit(run_main(argv))


def run_main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    click_error, click_abort, click_exit = _click_exceptions()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = app(args=argv, prog_name="icm-bench", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except BenchError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        return 2
    except (Interrupted, KeyboardInterrupt) as exc:
        return _interrupted(exc)
    except click_abort as exc:  # click turns Ctrl-C into Abort
        cause = exc.__cause__ or exc.__context__
        return _interrupted(cause) if isinstance(cause, KeyboardInterrupt) else 1
    except click_exit as exc:  # typer turns Ctrl-C into Exit(130)
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, KeyboardInterrupt):
            return _interrupted(cause)
        return int(getattr(exc, "exit_code", 0) or 0)
    except click_error as exc:
        cause = exc.__cause__
        if isinstance(cause, BenchError):
            typer.secho(f"error: {cause}", err=True, fg=typer.colors.RED)
        else:
            typer.secho(_usage_line(exc), err=True, fg=typer.colors.RED)
        return 2
    except OSError as exc:
        typer.secho(os_error_line(exc), err=True, fg=typer.colors.RED)
        return 1
    except Exception as exc:
        if os.environ.get("ICM_BENCH_DEBUG"):
            raise
        typer.secho(_internal_error_line(exc), err=True, fg=typer.colors.RED)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    main()
