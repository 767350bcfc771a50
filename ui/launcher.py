"""The `gatehouse` console script: the window by default, the CLI for subcommands.

Qt is imported only when a window is wanted, so `gatehouse serve --headless` runs on a
server with no display libraries.
"""

from __future__ import annotations

import sys

from app.cli import build_parser, run_command, settings_from_args, setup_logging


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None or (args.command == "serve" and not args.headless):
        settings = settings_from_args(args)
        setup_logging(settings)
        from ui.main import run_gui

        return run_gui(settings)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
