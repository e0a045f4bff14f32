"""tui_omemo.xmpp.xep_0420."""
