"""tui_omemo.protocol.v2."""
