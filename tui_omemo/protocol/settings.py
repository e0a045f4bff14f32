"""The settings of DESIGN.md §4 that the protocol core itself acts on.

`tui_omemo/config.py` (the app-wide `Settings`) maps onto this value; the core does not import
config so that it stays usable without the rest of the app.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class CoreSettings:
    """Protocol-level options.

    Attributes:
        renew_signed_prekey: rotate the signed prekey in `Engine.maintain`.
        renew_signed_prekey_after_hours: its age before rotation (default one week).
        renew_signed_prekey_keep: how many old signed prekeys keep answering key exchanges.
        complete_session_with_empty_message: set `DecryptResult.send_empty_message` after a
            key exchange (the host then sends `Engine.encrypt(..., None)` to the sender).
        pre_keys_target: how many prekeys each bundle publishes (refilled after every use).
        max_skipped_message_keys: skipped message keys kept per session, and the most one
            message may make us derive (doubleratchet's two limits, both set to this).
        heartbeat_after: counter of a receiving chain's message from which an empty message is due.
    """

    renew_signed_prekey: bool = True
    renew_signed_prekey_after_hours: int = 24 * 7
    renew_signed_prekey_keep: int = 3
    complete_session_with_empty_message: bool = True
    pre_keys_target: int = 100
    max_skipped_message_keys: int = 1000
    heartbeat_after: int = 53

    @classmethod
    def from_settings(cls, settings: object) -> CoreSettings:
        """The core's view of the app's `tui_omemo.config.Settings` (read by attribute name).

        Duck-typed so that the protocol layer does not import config: `renew_signed_prekey`,
        `renew_signed_prekey_after_hours`, `signed_prekey_keep` (or `renew_signed_prekey_keep`)
        and `complete_session_with_empty_message` are taken when present; everything else keeps
        its default.
        """
        aliases = {"renew_signed_prekey_keep": "signed_prekey_keep"}
        values: dict[str, object] = {}
        for option in fields(cls):
            for name in (option.name, aliases.get(option.name)):
                if name is not None and hasattr(settings, name):
                    values[option.name] = getattr(settings, name)
                    break
        return cls(**values)  # type: ignore[arg-type]
