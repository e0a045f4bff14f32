"""Where XEP-0308 `<replace>` travels (issue #17): outside the encryption only next to an OMEMO
0.3 element (as Conversations sends it), inside the SCE envelope's content for OMEMO 2; read
back from both places; an empty or oversized id is no correction."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.xmpp.test_translate import legacy_encrypted, v2_encrypted
from tui_omemo.xmpp import messages
from tui_omemo.xmpp.correction import REPLACE_TAG, replace_element
from tui_omemo.xmpp.xep_0420.envelope import build_envelope, parse_envelope


def test_replace_outside_only_next_to_omemo_0_3() -> None:
    legacy = messages.build_encrypted_message(legacy_encrypted(), "b@x", replaces="m1")
    v2 = messages.build_encrypted_message(v2_encrypted(), "b@x", replaces="m1")
    both = messages.build_encrypted_message(
        v2_encrypted(), "b@x", also=legacy_encrypted(), replaces="m1"
    )
    assert [m.find(REPLACE_TAG) is not None for m in (legacy, v2, both)] == [True, False, True]
    assert messages.read_message(legacy, "b@x").replaces == "m1"
    assert messages.read_message(v2, "b@x").replaces is None


def test_replace_inside_the_envelope_round_trips_and_is_not_unknown_content() -> None:
    envelope = parse_envelope(build_envelope("fixed", sender="a@x", to="b@x", replaces='a"<b'))
    assert (envelope.body, envelope.replaces, envelope.other_content) == ("fixed", 'a"<b', ())
    assert parse_envelope(build_envelope("plain", sender="a@x", to="b@x")).replaces is None


def test_an_empty_or_oversized_id_is_no_correction() -> None:
    for value in ("", "x" * 257):
        message = messages.build_encrypted_message(legacy_encrypted(), "b@x")
        element = replace_element("placeholder")
        element.set("id", value)
        message.append(element)
        assert messages.read_message(ET.fromstring(ET.tostring(message)), "b@x").replaces is None
