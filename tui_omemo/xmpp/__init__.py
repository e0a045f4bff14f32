"""The slixmpp adapter: the only place XML exists (DESIGN.md §2).

* `client.XmppClient` — the one slixmpp layer, a small class over one part per concern:
  * `connection` — connect (TLS, or plaintext on loopback when explicitly allowed; fails fast
    when nobody listens), reconnect with backoff (XEP-0198 resume where offered; `link.Link`
    for listeners), carbons, IQ requests, ping; `outgoing` writes our messages and counts
    stream-management acks; `tuning` gates slixmpp's handlers and tunes the socket;
  * `pep` — PEP device lists and bundles for both OMEMO versions;
  * `archive` — one MAM page at a time (only results of our own queries);
  * `roster` — roster, contacts and presence;
  * `sending` — encrypted and plain messages, invitations, raw stanzas for group chats;
  * `inbound` — incoming messages for the stanza sink, carbons only from our own bare JID.
* `received` — `Received`: every incoming message for a stanza sink (the service's transport),
  unwrapped, refused ones included with their `Rejection`.
* `rooms.RoomClient` — group chats (XEP-0045) on an `XmppClient`: joins, occupants, affiliations,
  configuration, room archives, bookmarks.
* `translate` — pure XML ↔ `protocol.elements` translation, strict on malformed input.
* `messages` — encrypted `<message>` stanzas: build, read, unwrap carbons.
* `mam` — XEP-0313 query/result helpers.
* `muc` — XEP-0045 join/occupant/configuration helpers (OMEMO rooms: members-only,
  non-anonymous).
* `xep_0384` — the slixmpp plugin (`tui_omemo_xep_0384`) and element classes.
* `xep_0420` — the Stanza Content Encryption envelope used by OMEMO 2.
* `errors` — `TransportError` and its leaves.
"""
