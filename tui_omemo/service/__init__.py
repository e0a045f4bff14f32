"""The application layer: where protocol, store and transport meet (DESIGN.md §2).

Entry points:

* `OmemoChatService` (`app_service.py`): the `ChatService` of `api.py` for 1:1 chat;
  `await OmemoChatService.create(database, transport, settings)`, then `await service.start()`.
* `SlixmppTransport` and `connect_client` (`xmpp_adapter.py`): the network side.
* `DbRunner` (`runner.py`): the one SQLCipher thread.
"""
