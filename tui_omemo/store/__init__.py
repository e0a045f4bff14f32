"""tui_omemo.store."""
