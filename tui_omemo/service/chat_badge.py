"""The rule that picks a contact's encryption badge (`ChatSecurity`) from its devices' trust.

The badge must never claim more than is true: "verified" means every device that receives our
messages is verified, and a contact none of whose devices may receive them (all distrusted)
has a badge of its own, NO_TRUSTED_DEVICE. Apart from `api_security` because `api` (which the
UI imports) must not reach `protocol`.
"""

from __future__ import annotations

from collections.abc import Sequence

from tui_omemo.model import TrustLevel
from tui_omemo.protocol.trust import TrustDisplay, TrustMode, effective_decision
from tui_omemo.service.api_security import ChatSecurity


def contact_security(levels: Sequence[TrustLevel], mode: TrustMode) -> ChatSecurity:
    """The badge of a contact from the stored trust of its active devices.

    Undecided first (including devices trusted blindly while manual mode holds them back:
    they show as undecided), then no device that may receive (all distrusted), then blind
    trust; verified only when every receiving device is verified.

    Args:
        levels: the stored trust level of each active device whose identity we know.
        mode: the user's trust mode.

    Returns:
        The badge; UNDECIDED_DEVICES when no identity is known yet.
    """
    decisions = [effective_decision(level, mode) for level in levels]
    if not decisions or any(d.display is TrustDisplay.UNDECIDED for d in decisions):
        return ChatSecurity.UNDECIDED_DEVICES
    receiving = [d for d in decisions if d.may_receive_keys]
    if not receiving:
        return ChatSecurity.NO_TRUSTED_DEVICE
    if any(d.display is TrustDisplay.BLIND for d in receiving):
        return ChatSecurity.SOME_BLIND
    return ChatSecurity.ALL_VERIFIED
