"""The application layer: where protocol, store and transport meet (DESIGN.md §2).

Entry points:

* `OmemoChatService` (`app_service.py`): the `ChatService` of `api.py`, 1:1 chats and, with a
  `RoomTransport`, group chats (`muc.py`'s `GroupChats`, built by the service);
  `await OmemoChatService.create(database, transport, settings, rooms=rooms)`, then
  `await service.start()`.
* `ports.py`: what the service needs from the network (`Transport`, `RoomTransport`, their
  values and errors). `xmpp/` implements them (`xmpp.transport.XmppTransport`,
  `xmpp.rooms.RoomClient`); the service never imports `xmpp/`, the composition root
  (`commands/runtime.py`) hands the XMPP side in.
* `DbRunner` (`runner.py`): the one SQLCipher thread.
"""
