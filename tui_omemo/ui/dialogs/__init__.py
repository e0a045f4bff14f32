"""tui_omemo.ui.dialogs."""
