"""The OMEMO protocol core: bytes, ints and str in and out; no XMPP, no SQL, no UI.

Entry point: `tui_omemo.protocol.engine.Engine` (one per own account and device, both OMEMO
versions). Its host provides the ports of `ports.py` (`StateStore`, `Directory`) and commits the
`StateChanges` every operation returns. Layout:

* `engine.py`: the face (sessions across versions, encrypt/decrypt, maintenance), delegating to
  `encryption.py`, `decryption.py` and `upkeep.py`, each working inside one `operation.py`
  `Operation`, with `own_device.py` holding what is derived once; `results.py` its values;
  `errors.py` the `ProtocolError` tree; `settings.py` the options the core acts on.
* `identity.py`: our device id, the one identity key, prekey ids, hiding, rotation.
* `session.py`: one session's persisted form; `ratchet.py` the shared Double Ratchet pieces.
* `version.py`: what differs between the versions, implemented by `legacy/` (0.3) and `v2/` (2),
  each with `wire.py` (protobuf framing), `payload.py` (payload crypto) and `version.py`;
  `versions.py` (`version_for`) picks one by namespace.
* `protobuf.py`: the one protobuf codec; `codec.py`: JSON helpers for persisted values.
* `trust.py`, `verification.py`: BTBV rules, fingerprints and trust URIs (separate owner).
"""
