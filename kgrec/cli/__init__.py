"""The ``kgrec`` command line: a thin argument parser over the library.

Each sub-command lives in its own module of this package exposing ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; modules import only ``argparse`` at
top level so that ``kgrec --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Sub-command modules, in the order ``kgrec --help`` lists them.
COMMANDS = (
    "kgrec.cli.demo",
    "kgrec.cli.data",
    "kgrec.cli.build_graph",
    "kgrec.cli.train",
    "kgrec.cli.evaluate",
    "kgrec.cli.recommend",
    "kgrec.cli.explain",
    "kgrec.cli.benchmark",
    "kgrec.cli.serve",
)


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    from kgrec import __version__

    parser = argparse.ArgumentParser(
        prog="kgrec", description="Explainable knowledge-graph movie recommendation.")
    parser.add_argument("--version", action="version", version=f"kgrec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(name)
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    # OpenMP threads that busy-wait make sparse training 10x+ slower on a busy machine;
    # set before torch is imported (the user's own choice wins).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:  # e.g. `kgrec data --json | head`
        sys.stderr.close()
        return 0
    except CLIError as exc:
        print(f"kgrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"kgrec {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
