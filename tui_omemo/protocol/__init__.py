"""The OMEMO protocol core: bytes, ints and str in and out; no XMPP, no SQL, no UI."""
