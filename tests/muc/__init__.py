"""Encrypted group chats (issue 5): `service.muc.GroupChats` over the Prosody fixture."""
