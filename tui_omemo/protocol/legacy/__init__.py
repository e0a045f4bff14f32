"""tui_omemo.protocol.legacy."""
