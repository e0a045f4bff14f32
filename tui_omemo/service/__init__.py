"""The application layer: where protocol, store and transport meet (DESIGN.md §2).

Entry points:

* `OmemoChatService` (`app_service.py`): the `ChatService` of `api.py`, 1:1 chats and, over a
  transport with a slixmpp client, group chats (`muc.py`'s `GroupChats`, built by the service);
  `await OmemoChatService.create(database, transport, settings)`, then `await service.start()`.
* `SlixmppTransport` and `connect_client` (`xmpp_adapter.py`): the network side.
* `DbRunner` (`runner.py`): the one SQLCipher thread.
"""
