"""The bodies of the `tui-omemo` subcommands; `tui_omemo.cli` parses arguments and calls them.

Each module holds one command (or a family, like `account`). Commands receive a `Console`
(streams, environment, keyring) and their parsed arguments, and report expected failures by
raising `CommandError`, `StoreError` or `ProtocolError`; `cli.main` turns those into one line
on stderr and an exit code.
"""
