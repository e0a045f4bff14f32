"""The slixmpp adapter: the only place XML exists (DESIGN.md §2).

* `client.XmppClient` — connect (TLS, or plaintext on loopback when explicitly allowed), PEP
  device lists and bundles for both OMEMO versions, encrypted messages in and out, carbons
  (only from our own bare JID), one MAM page at a time (only results of our own queries),
  roster and contacts, group chats.
* `translate` — pure XML ↔ `protocol.elements` translation, strict on malformed input.
* `messages` — encrypted `<message>` stanzas: build, read, unwrap carbons.
* `mam` — XEP-0313 query/result helpers.
* `muc` — XEP-0045 join/occupant/configuration helpers (OMEMO rooms: members-only,
  non-anonymous).
* `xep_0384` — the slixmpp plugin (`tui_omemo_xep_0384`) and element classes.
* `xep_0420` — the Stanza Content Encryption envelope used by OMEMO 2.
* `errors` — `TransportError` and its leaves.
"""
