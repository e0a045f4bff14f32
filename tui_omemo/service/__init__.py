"""The application layer: where protocol, store and transport meet (DESIGN.md §2).

Entry points:

* `OmemoChatService` (`app_service.py`): the `ChatService` of `api.py`, 1:1 chats and, over a
  transport with an `XmppClient`, group chats (`muc.py`'s `GroupChats`, built by the service);
  `await OmemoChatService.create(database, transport, settings)`, then `await service.start()`.
* `XmppTransport` (`xmpp_adapter.py`): the `Transport` port over `xmpp.client.XmppClient`, the
  network side.
* `DbRunner` (`runner.py`): the one SQLCipher thread.
"""
