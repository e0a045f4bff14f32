"""XEP-0384 (OMEMO) for slixmpp, both namespaces: importing this module registers the plugin
`tui_omemo_xep_0384` with slixmpp; `stanza.py` holds the element classes."""

from slixmpp.plugins.base import register_plugin

from tui_omemo.xmpp.xep_0384 import stanza
from tui_omemo.xmpp.xep_0384.plugin import XEP_0384, DeviceListUpdate

register_plugin(XEP_0384)

__all__ = ["XEP_0384", "DeviceListUpdate", "stanza"]
