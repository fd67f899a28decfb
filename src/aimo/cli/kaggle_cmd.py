"""`aimo kaggle serve|gateway|bundle`: the competition notebook, its local rehearsal, its offline bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aimo.cli.options import with_run_options
from aimo.config import RunConfig

kaggle_app = typer.Typer(
    help="The Kaggle competition: serve predict, rehearse with a local gateway, build the offline bundle.",
    no_args_is_help=True,
)

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder for submission.parquet.")]
ShuffleOpt = Annotated[bool, typer.Option(help="Feed the problems in random order, as Kaggle does.")]


def _needs_polars() -> None:
    try:
        import polars  # noqa: F401
    except ImportError:
        raise typer.BadParameter("aimo kaggle needs polars: pip install 'aimo[kaggle]'") from None


@with_run_options
def serve(
    test_csv: Annotated[
        Path | None,
        typer.Option(help="Problems for the local gateway (default: the competition's test.csv)."),
    ] = None,
    out: OutOpt = Path("."),
    shuffle: ShuffleOpt = True,
    *,
    run_config: RunConfig,
    run_flags: dict[str, Any],
) -> None:
    """The notebook's body: Kaggle's inference server when `kaggle_evaluation` is importable, else aimo's
    local gateway on the test file."""
    from aimo.kaggle.server import serve as serve_competition

    _needs_polars()
    serve_competition(run_config, test_csv, out, shuffle=shuffle)


@with_run_options
def gateway(
    problems: Annotated[Path, typer.Argument(help="CSV with id and problem columns (answer: scored).")],
    out: OutOpt = Path("."),
    shuffle: ShuffleOpt = True,
    *,
    run_config: RunConfig,
    run_flags: dict[str, Any],
) -> None:
    """Rehearse a submission under the competition's rules with aimo's own gateway: one predict call per
    problem, submission.parquet, the time used against the limit, and the score when gold exists."""
    from aimo.kaggle.server import serve as serve_competition

    _needs_polars()
    report = serve_competition(run_config, problems, out, shuffle=shuffle, local_only=True)
    if report is not None and not report.within_limit:
        raise typer.Exit(1)


def bundle(
    config: Annotated[Path, typer.Option("--config", "-c", help="The run config the notebook serves with.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The bundle folder (upload it as a dataset).")],
    python_version: Annotated[str, typer.Option(help="Python of the target image.")] = "3.11",
    glibc: Annotated[str, typer.Option(help="glibc of the target image (its manylinux wheels).")] = "2.35",
    platform: Annotated[
        list[str] | None,
        typer.Option(help="Wheel platform tags of the target instead of --glibc's (repeat)."),
    ] = None,
    extra: Annotated[
        list[str] | None, typer.Option(help="aimo extras to bundle besides kaggle, e.g. llamacpp (repeat).")
    ] = None,
    wheel: Annotated[
        list[Path] | None,
        typer.Option(help="A local wheel to bundle, e.g. a built llama-cpp-python (repeat)."),
    ] = None,
    find_links: Annotated[list[Path] | None, typer.Option(help="More folders of wheels (repeat).")] = None,
    kaggle_dir: Annotated[
        str, typer.Option(help="Where the bundle is mounted on Kaggle.")
    ] = "/kaggle/input/aimo-bundle",
) -> None:
    """Build the offline bundle: a wheelhouse of aimo and its dependencies, the config, the notebook."""
    from aimo.kaggle.bundle import BundleSpec, build_bundle, linux_platforms

    built = build_bundle(
        BundleSpec(
            config=config,
            out=out,
            python_version=python_version,
            platforms=tuple(platform or linux_platforms(glibc)),
            extras=tuple(extra or ()),
            wheels=tuple(wheel or ()),
            find_links=tuple(find_links or ()),
            kaggle_dir=kaggle_dir,
        )
    )
    print(
        f"bundle in {built.path}: {len(built.wheels)} wheels; the notebook installs {built.requirements[0]}"
    )
    for engine in built.image_engines:
        print(f"not bundled: {engine} (the notebook checks that the image has it)")
    for path in built.local_paths:
        print(f"note: {path} is a path on this machine; on Kaggle point it at /kaggle/input/…")


def register(app: typer.Typer, bench_app: typer.Typer) -> Any:
    kaggle_app.command()(serve)
    kaggle_app.command()(gateway)
    kaggle_app.command()(bundle)
    app.add_typer(kaggle_app, name="kaggle")
