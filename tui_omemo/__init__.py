"""tui-omemo: a terminal XMPP client with OMEMO (0.3 and 2) end-to-end encryption."""

__version__ = "0.1.0"
