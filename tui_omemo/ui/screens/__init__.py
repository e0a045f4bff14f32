"""tui_omemo.ui.screens."""
