"""tui_omemo.ui."""
