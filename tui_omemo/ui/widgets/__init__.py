"""tui_omemo.ui.widgets."""
