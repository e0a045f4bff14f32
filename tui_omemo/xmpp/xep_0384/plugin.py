"""The XEP-0384 slixmpp plugin: device lists and bundles over PEP, for both OMEMO namespaces.

What it guarantees (OMEMO-WIRE.md §3.1, §3.2, §4.1, §4.2, §8 pitfalls 9–11, 17):

* Device lists are published **merged** with what the server has: others' ids are never
  dropped. When a notification of our own list arrives without our id, the plugin re-adds it
  and republishes, keeping everyone else's ids (at most 3 times a minute, so a client that
  keeps removing us cannot start a publish ping-pong).
* Device lists and bundles are published with `pubsub#access_model=open`, so contacts without
  a presence subscription can fetch them; the OMEMO 2 bundles node also gets
  `pubsub#max_items=max`. On `precondition-not-met` the node is reconfigured and the publish
  retried once.
* 0.3 bundles are fetched without an item id (`max_items=1`, Dino uses item `1`); OMEMO 2
  bundles by item id = device id.
* `+notify` for both device-list nodes goes into our caps; every device-list notification is
  re-emitted as the slixmpp event `omemo_device_list` with a `DeviceListUpdate`.

The plugin is registered under the name `tui_omemo_xep_0384`, so it never collides with
slixmpp-omemo's own `xep_0384`, which tests load in the same process as an interop peer.
"""

from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from slixmpp import JID
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins import BasePlugin
from slixmpp.stanza import Message

from tui_omemo.model import Namespace, bare_jid
from tui_omemo.protocol.device_list import merge_device_list
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, WireBundle
from tui_omemo.xmpp import translate
from tui_omemo.xmpp.errors import BundleNotFound, MalformedStanza, PubSubRequestFailed
from tui_omemo.xmpp.xep_0384 import stanza

log = logging.getLogger(__name__)

PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"
NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config"
REQUEST_TIMEOUT = 20
CURRENT = "current"
PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors"
V2_BUNDLES_MAX_ITEMS = ("max", "1000")
_REFUSED = frozenset(
    {"precondition-not-met", "not-acceptable", "bad-request", "conflict", "policy-violation"}
)
READD_LIMIT = 3
READD_WINDOW_SECONDS = 60.0
"""At most READD_LIMIT automatic re-adds of our device per window (DESIGN.md invariant 7: no
publish ping-pong with a client that keeps removing us)."""


@dataclass(frozen=True, slots=True)
class DeviceListUpdate:
    """A device list notification: whose list, and the list (already parsed)."""

    bare_jid: str
    device_list: DeviceList


class XEP_0384(BasePlugin):
    """Device lists and bundles of both OMEMO versions over PEP."""

    name = "tui_omemo_xep_0384"
    description = "XEP-0384: OMEMO 0.3 and 2 device lists and bundles (tui-omemo)"
    dependencies: ClassVar[set[str]] = {
        "xep_0004",
        "xep_0030",
        "xep_0060",
        "xep_0115",
        "xep_0163",
    }

    def plugin_init(self) -> None:
        """Register the stanzas, the `+notify` interests and the PEP event handler."""
        pubsub = self.xmpp.plugin["xep_0060"].stanza
        stanza.register_stanzas(pubsub.EventItem, pubsub.Item)
        self._own_entries: dict[Namespace, DeviceListEntry] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._readds: dict[Namespace, deque[float]] = {}
        self.xmpp.add_event_handler("pubsub_publish", self._on_publish)

    def plugin_end(self) -> None:
        """Unhook the handler and cancel pending republications."""
        self.xmpp.del_event_handler("pubsub_publish", self._on_publish)
        for task in self._tasks:
            task.cancel()

    def session_bind(self, jid: JID) -> None:
        """Announce `+notify` for both device-list nodes (XEP-0115 caps)."""
        for namespace in Namespace:
            self.xmpp.plugin["xep_0163"].add_interest(translate.device_list_node(namespace))

    @property
    def own_bare_jid(self) -> str:
        """Our account's bare JID."""
        return bare_jid(str(self.xmpp.boundjid.bare))

    # --- device lists ------------------------------------------------------------------------

    async def fetch_device_list(self, jid: str, namespace: Namespace) -> DeviceList:
        """The device list `jid` published for `namespace`; empty when there is none.

        `item-not-found` and `forbidden` both give an empty list: Prosody answers `forbidden`
        for a node that does not exist when its default access model (presence) hides it from
        us, and a list we may not read is as unusable as no list.

        Raises:
            MalformedStanza: when the published list is malformed.
            PubSubRequestFailed: on any other error or a timeout.
        """
        node = translate.device_list_node(namespace)
        # For our own list only item-not-found means "none": treating an unexpected
        # `forbidden` as empty would make publish_device_list drop everyone else's ids.
        empty_when = {"item-not-found"}
        if bare_jid(jid) != self.own_bare_jid:
            empty_when.add("forbidden")
        try:
            items = await self._items(jid, node, item_ids=None, max_items=1)
        except PubSubRequestFailed as error:
            if error.condition in empty_when:
                log.info(
                    "no readable %s device list for %s (%s)", namespace.label, jid, error.condition
                )
                return DeviceList(namespace, ())
            raise
        if not items:
            return DeviceList(namespace, ())
        device_list = translate.device_list_from_xml(items[-1])
        if device_list.namespace is not namespace:
            raise MalformedStanza(f"device list node {node} holds another namespace")
        return device_list

    async def publish_device_list(
        self,
        namespace: Namespace,
        own: DeviceListEntry,
        *,
        drop: Iterable[int] = (),
        server: DeviceList | None = None,
    ) -> DeviceList:
        """Make sure our device is on our own list, merged with what the server has.

        Also remembers `own`, so that a notification of our list without our id re-adds it.

        Args:
            namespace: which version's list.
            own: our device entry (id and, for OMEMO 2, label and label signature).
            drop: ids to remove (an explicit, user-confirmed removal only).
            server: the list as just received; fetched from the server when None.

        Returns:
            The list now on the server.

        Raises:
            MalformedStanza: when the server's list is malformed (we do not overwrite it).
            PubSubRequestFailed: when publishing fails even after reconfiguring the node.
        """
        self._own_entries[namespace] = own
        if server is None:
            server = await self.fetch_device_list(self.own_bare_jid, namespace)
        merged = merge_device_list(namespace, server, [own], drop=drop)
        if merged is None:
            return server
        await self._publish(
            translate.device_list_node(namespace),
            CURRENT,
            translate.device_list_to_xml(merged),
            {"pubsub#access_model": "open"},
        )
        return merged

    async def publish_exact_device_list(self, device_list: DeviceList) -> None:
        """Publish `device_list` unchanged (open access); the caller merged it with the
        server's list.

        Raises:
            PubSubRequestFailed: when publishing fails even after reconfiguring the node.
        """
        await self._publish(
            translate.device_list_node(device_list.namespace),
            CURRENT,
            translate.device_list_to_xml(device_list),
            {"pubsub#access_model": "open"},
        )

    def _on_publish(self, message: Message) -> None:
        node = message["pubsub_event"]["items"]["node"]
        namespace = _namespace_of_device_list_node(node)
        if namespace is None:
            return
        sender = bare_jid(str(message["from"].bare)) or self.own_bare_jid
        for item in message.xml.iter("{http://jabber.org/protocol/pubsub#event}item"):
            payload = next(iter(item), None)
            if payload is None:
                continue
            try:
                device_list = translate.device_list_from_xml(payload)
            except MalformedStanza as error:
                log.warning("ignoring malformed device list from %s: %s", sender, error)
                continue
            if device_list.namespace is not namespace:
                continue
            self.xmpp.event("omemo_device_list", DeviceListUpdate(sender, device_list))
            if sender == self.own_bare_jid:
                self._readd_if_missing(device_list)

    def _readd_if_missing(self, device_list: DeviceList) -> None:
        own = self._own_entries.get(device_list.namespace)
        if own is None or own.device_id in device_list.device_ids:
            return
        recent = self._readds.setdefault(device_list.namespace, deque())
        now = time.monotonic()
        while recent and now - recent[0] > READD_WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= READD_LIMIT:
            log.warning(
                "our device keeps disappearing from our own %s list; not re-adding it again "
                "for now (another client of this account removes it)",
                device_list.namespace.label,
            )
            return
        recent.append(now)
        log.info(
            "our device is missing from our own %s list; re-adding it", device_list.namespace.label
        )
        task = asyncio.ensure_future(self._republish(device_list, own))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _republish(self, device_list: DeviceList, own: DeviceListEntry) -> None:
        try:
            await self.publish_device_list(device_list.namespace, own, server=device_list)
        except (PubSubRequestFailed, MalformedStanza) as error:
            log.warning("re-adding our device failed: %s", error)

    # --- bundles -----------------------------------------------------------------------------

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle (0.3: node `…bundles:<id>` item `current`; 2: item `<id>`).

        The OMEMO 2 bundles node must hold one item per device, so it asks for
        `max_items=max`; a server that refuses `max` gets `1000` instead (as QXmpp does).

        Raises:
            PubSubRequestFailed: when publishing fails even after reconfiguring the node.
        """
        node = translate.bundle_node(bundle.namespace, device_id)
        payload = translate.bundle_to_xml(bundle)
        if bundle.namespace is Namespace.LEGACY:
            await self._publish(node, CURRENT, payload, {"pubsub#access_model": "open"})
            return
        for max_items in V2_BUNDLES_MAX_ITEMS:
            options = {"pubsub#access_model": "open", "pubsub#max_items": max_items}
            try:
                await self._publish(node, str(device_id), payload, options)
                return
            except PubSubRequestFailed as error:
                if max_items == V2_BUNDLES_MAX_ITEMS[-1] or error.condition not in _REFUSED:
                    raise
                log.info("server refuses max_items=%s on %s (%s)", max_items, node, error.condition)

    async def fetch_bundle(self, jid: str, namespace: Namespace, device_id: int) -> WireBundle:
        """The bundle `jid` published for `device_id`.

        Raises:
            BundleNotFound: when there is none (or it is not visible to us).
            MalformedStanza: when it is malformed or in the wrong namespace.
            PubSubRequestFailed: on other errors or a timeout.
        """
        node = translate.bundle_node(namespace, device_id)
        try:
            if namespace is Namespace.LEGACY:
                items = await self._items(jid, node, item_ids=None, max_items=1)
            else:
                items = await self._items(jid, node, item_ids=[str(device_id)], max_items=None)
        except PubSubRequestFailed as error:
            # Prosody answers `forbidden` for a node that does not exist when the default
            # access model would not let us see it; both mean "no bundle we can use".
            if error.condition in {"item-not-found", "forbidden"}:
                raise BundleNotFound(
                    f"no bundle for {jid} device {device_id}", error.condition
                ) from error
            raise
        if not items:
            raise BundleNotFound(f"no bundle for {jid} device {device_id}", "item-not-found")
        bundle = translate.bundle_from_xml(items[-1])
        if bundle.namespace is not namespace:
            raise MalformedStanza(f"bundle of {jid} device {device_id} is in another namespace")
        return bundle

    # --- PubSub plumbing ---------------------------------------------------------------------

    async def _items(
        self, jid: str, node: str, *, item_ids: list[str] | None, max_items: int | None
    ) -> list[ET.Element]:
        """The payload elements of the items returned (in document order)."""
        try:
            result = await self.xmpp.plugin["xep_0060"].get_items(  # type: ignore[no-untyped-call]
                JID(jid), node, item_ids=item_ids, max_items=max_items, timeout=REQUEST_TIMEOUT
            )
        except IqError as error:
            raise PubSubRequestFailed(
                f"fetching {node} from {jid}: {error.condition}", str(error.condition)
            ) from error
        except IqTimeout as error:
            raise PubSubRequestFailed(f"fetching {node} from {jid}: timeout", "timeout") from error
        payloads = []
        for item in result.xml.iter("{http://jabber.org/protocol/pubsub}item"):
            payload = next(iter(item), None)
            if payload is not None:
                payloads.append(payload)
        return payloads

    async def _publish(
        self, node: str, item_id: str, payload: ET.Element, options: dict[str, str]
    ) -> None:
        """Publish with publish-options; on `precondition-not-met` reconfigure and retry once."""
        try:
            await self._publish_once(node, item_id, payload, options)
            return
        except PubSubRequestFailed as error:
            if error.condition != "precondition-not-met":
                raise
            log.info("node %s has another configuration; reconfiguring it", node)
        await self.configure_node(node, options)
        await self._publish_once(node, item_id, payload, options)

    async def _publish_once(
        self, node: str, item_id: str, payload: ET.Element, options: dict[str, str]
    ) -> None:
        form = self._form(PUBLISH_OPTIONS, options)
        try:
            await self.xmpp.plugin["xep_0060"].publish(  # type: ignore[no-untyped-call]
                None, node, id=item_id, payload=payload, options=form, timeout=REQUEST_TIMEOUT
            )
        except IqError as error:
            condition = _condition(error)
            raise PubSubRequestFailed(f"publishing to {node}: {condition}", condition) from error
        except IqTimeout as error:
            raise PubSubRequestFailed(f"publishing to {node}: timeout", "timeout") from error

    async def configure_node(self, node: str, options: dict[str, str]) -> None:
        """Set node configuration fields on one of our PEP nodes (XEP-0060 §8.2).

        Raises:
            PubSubRequestFailed: when the server refuses.
        """
        form = self._form(NODE_CONFIG, options)
        try:
            await self.xmpp.plugin["xep_0060"].set_node_config(  # type: ignore[no-untyped-call]
                None, node, form, timeout=REQUEST_TIMEOUT
            )
        except IqError as error:
            raise PubSubRequestFailed(
                f"configuring {node}: {error.condition}", str(error.condition)
            ) from error
        except IqTimeout as error:
            raise PubSubRequestFailed(f"configuring {node}: timeout", "timeout") from error

    def _form(self, form_type: str, fields: dict[str, str]) -> Any:
        form = self.xmpp.plugin["xep_0004"].make_form(ftype="submit")  # type: ignore[no-untyped-call]
        form.add_field(var="FORM_TYPE", ftype="hidden", value=form_type)
        for var, value in fields.items():
            form.add_field(var=var, value=value)
        return form


def _condition(error: IqError) -> str:
    """The error condition, preferring XEP-0060's application condition: servers signal
    `precondition-not-met` as `<conflict/>` plus a `pubsub#errors` child (Prosody does)."""
    for child in error.iq.xml.iter():
        if child.tag.startswith(f"{{{PUBSUB_ERRORS}}}"):
            return str(child.tag.split("}", 1)[1])
    return str(error.condition)


def _namespace_of_device_list_node(node: str) -> Namespace | None:
    for namespace in Namespace:
        if node == translate.device_list_node(namespace):
            return namespace
    return None
