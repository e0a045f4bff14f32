"""`python -m tests.muc.muc_cli --profile DIR muc …`: the `muc` command alone, built the way
`cli.py` builds its commands, so the tests can run it as a subprocess before `cli.py` wires
`add_muc_parser` in."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tui_omemo import cli
from tui_omemo.commands.console import Console
from tui_omemo.commands.muc import add_muc_parser
from tui_omemo.commands.profile import ProfileOptions


def main(argv: Sequence[str] | None = None) -> int:
    console = Console()
    cli._quiet_logging(console)
    cli._Parser.console = console
    parser = cli._Parser(prog=cli.PROG)
    cli._global_options(parser, top=True)
    common = cli._Parser(add_help=False)
    cli._global_options(common, top=False)
    add_muc_parser(parser.add_subparsers(dest="command", required=True), common)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else cli.EXIT_USAGE
    options = ProfileOptions(args.profile, args.passphrase_file)
    return cli._run(args.handler, options, args, console)


if __name__ == "__main__":
    sys.exit(main())
