"""tui_omemo.service."""
