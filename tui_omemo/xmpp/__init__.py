"""tui_omemo.xmpp."""
