"""Shared Double Ratchet and crypto building blocks of both OMEMO versions.

Both versions use the same ratchet (X25519 DH ratchet, HKDF root chain, HMAC message chain with
the constant 0x02/0x01, HKDF-expanded message keys, AES-256-CBC) and differ only in constants and
in how a ratchet message is framed on the wire. This module holds the common parts; the version
packages (`legacy/`, `v2/`) add the constants and the framing.

How the header reaches the AEAD: doubleratchet hands the AEAD one "associated data" value built
by `DoubleRatchet._build_associated_data`. Ours is `ad ‖ ratchet_pub(32) ‖ pn(u32 BE) ‖ n(u32 BE)`,
never sent anywhere; `unpack_associated_data` splits it again so that the AEAD can write the wire
message (header + ciphertext) itself and MAC `ad ‖ wire bytes`. That detour serves only
doubleratchet's own calls: the engine's fast paths call `RatchetAEAD.seal` / `RatchetAEAD.open`
with the AD and the header directly, and a received message is parsed once (`RatchetAEAD.parse`
→ `RatchetMessage`): the parse that gives its header also gives the MACed bytes and ciphertext.
"""

from __future__ import annotations

import hmac
import struct
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import doubleratchet
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from doubleratchet.recommended import HashFunction, kdf_hkdf, kdf_separate_hmacs
from doubleratchet.recommended.diffie_hellman_ratchet_curve25519 import DiffieHellmanRatchet

from tui_omemo.protocol.errors import MalformedMessage

MESSAGE_CHAIN_CONSTANT = b"\x02\x01"
_HEADER_SUFFIX = struct.Struct(">32sII")


_HASH_LENGTH = 32
_SHA256 = SHA256()


def hkdf_sha256(ikm: bytes, info: bytes, length: int, salt: bytes = b"\x00" * 32) -> bytes:
    """HKDF-SHA-256 (RFC 5869) with a 32-zero-byte salt unless given.

    cryptography's `HKDF` does extract and expand in one native call: with cryptography 48 and
    OpenSSL 3 that is half the time of the same HMACs as one-shot `hmac.digest` calls (which
    this function made before), for the same bytes.
    """
    if not 0 < length <= 255 * _HASH_LENGTH:
        raise ValueError(f"HKDF length out of range: {length}")
    return HKDF(_SHA256, length, salt or None, info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA-256."""
    return hmac.digest(key, data, "sha256")


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """AES-CBC with PKCS#7 padding (key length selects AES-128/256)."""
    pad = 16 - len(plaintext) % 16
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(plaintext + bytes((pad,)) * pad) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Inverse of `aes_cbc_encrypt`.

    Raises:
        ValueError: the ciphertext is not a multiple of the block size or the padding is bad.
    """
    if not ciphertext or len(ciphertext) % 16:
        raise ValueError("ciphertext is not a positive multiple of 16 bytes")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= 16 or padded[-pad:] != bytes((pad,)) * pad:
        raise ValueError("bad PKCS#7 padding")
    return padded[:-pad]


def pack_associated_data(associated_data: bytes, header: doubleratchet.Header) -> bytes:
    """`ad ‖ ratchet_pub ‖ pn ‖ n`: the AEAD's view of the AD and the header (never sent)."""
    return associated_data + _HEADER_SUFFIX.pack(
        header.ratchet_pub, header.previous_sending_chain_length, header.sending_chain_length
    )


def unpack_associated_data(packed: bytes) -> tuple[bytes, doubleratchet.Header]:
    """Inverse of `pack_associated_data`."""
    cut = len(packed) - _HEADER_SUFFIX.size
    ratchet_pub, previous, current = _HEADER_SUFFIX.unpack(packed[cut:])
    return packed[:cut], doubleratchet.Header(ratchet_pub, previous, current)


class MessageKDF(kdf_separate_hmacs.KDF):
    """The message chain KDF: HMAC-SHA-256 with the chain key, data 0x02 / 0x01.

    `derive` gives doubleratchet's bytes (one HMAC per byte of data, concatenated) with
    one-shot `hmac.digest` calls instead of an awaited `cryptography` HMAC object per byte:
    it runs for every message sent and received."""

    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @classmethod
    async def derive(cls, key: bytes, data: bytes, length: int) -> bytes:
        if length != len(data) * _HASH_LENGTH:
            raise ValueError(f"message KDF: {length} bytes asked, {len(data)} x 32 derivable")
        return b"".join(hmac.digest(key, data[i : i + 1], "sha256") for i in range(len(data)))


class MessageKeys(NamedTuple):
    """The expansion of one 32-byte message key (a `NamedTuple`: built per message and device)."""

    encryption_key: bytes
    authentication_key: bytes
    iv: bytes

    def __repr__(self) -> str:
        return "MessageKeys(…)"


def expand_message_key(message_key: bytes, info: bytes) -> MessageKeys:
    """HKDF(mk, 0×32, info, 80) → encryption key 32 ‖ authentication key 32 ‖ IV 16."""
    material = hkdf_sha256(message_key, info, 80)
    return MessageKeys(material[:32], material[32:64], material[64:])


class RatchetMessage(NamedTuple):
    """A received ratchet message, parsed once (a `NamedTuple`: built per message).

    Attributes:
        header: the ratchet header it carries.
        wire: the whole message as received (what doubleratchet's own calls are given).
        authenticated: the bytes its MAC covers after the AD.
        mac: the (truncated) MAC as received.
        ciphertext: the AES-CBC ciphertext of the key material.
    """

    header: doubleratchet.Header
    wire: bytes
    authenticated: bytes
    mac: bytes
    ciphertext: bytes

    @property
    def encrypted(self) -> doubleratchet.EncryptedMessage:
        """The message as doubleratchet takes it (header and wire bytes)."""
        return doubleratchet.EncryptedMessage(self.header, self.wire)


class RatchetAEAD(doubleratchet.AEAD):
    """AES-256-CBC + truncated HMAC, with the wire framing left to the subclass.

    Subclasses set `INFO` and implement `_frame` (header + ciphertext → MACed wire bytes) and
    `parse` (wire bytes → `RatchetMessage`, raising `MalformedMessage`). `seal` and `open` are
    what the engine calls; `encrypt` and `decrypt` are doubleratchet's interface over them.
    """

    INFO: ClassVar[bytes]

    @classmethod
    @abstractmethod
    def _frame(
        cls, header: doubleratchet.Header, ciphertext: bytes, keys: MessageKeys, ad: bytes
    ) -> bytes: ...

    @classmethod
    @abstractmethod
    def parse(cls, wire: bytes) -> RatchetMessage:
        """Read a wire ratchet message.

        Raises:
            MalformedMessage: for anything malformed.
        """

    @classmethod
    def seal(
        cls, plaintext: bytes, message_key: bytes, ad: bytes, header: doubleratchet.Header
    ) -> bytes:
        """Encrypt `plaintext` with one message key and frame it with `header`, MACed over `ad`."""
        keys = expand_message_key(message_key, cls.INFO)
        ciphertext = aes_cbc_encrypt(keys.encryption_key, keys.iv, plaintext)
        return cls._frame(header, ciphertext, keys, ad)

    @classmethod
    def open(cls, message: RatchetMessage, message_key: bytes, ad: bytes) -> bytes:
        """Check the MAC of a parsed message over `ad` and decrypt it.

        Raises:
            doubleratchet.AuthenticationFailedException: the MAC does not match.
            doubleratchet.DecryptionFailedException: the CBC ciphertext or its padding is bad.
        """
        keys = expand_message_key(message_key, cls.INFO)
        mac = message.mac
        expected = hmac_sha256(keys.authentication_key, ad + message.authenticated)[: len(mac)]
        if not mac or not hmac.compare_digest(expected, mac):
            raise doubleratchet.AuthenticationFailedException("ratchet MAC mismatch")
        try:
            return aes_cbc_decrypt(keys.encryption_key, keys.iv, message.ciphertext)
        except ValueError as error:
            raise doubleratchet.DecryptionFailedException("bad CBC ciphertext") from error

    @classmethod
    async def encrypt(cls, plaintext: bytes, key: bytes, associated_data: bytes) -> bytes:
        ad, header = unpack_associated_data(associated_data)
        return cls.seal(plaintext, key, ad, header)

    @classmethod
    async def decrypt(cls, ciphertext: bytes, key: bytes, associated_data: bytes) -> bytes:
        ad, _header = unpack_associated_data(associated_data)
        try:
            message = cls.parse(ciphertext)
        except MalformedMessage as error:
            raise doubleratchet.DecryptionFailedException(str(error)) from error
        return cls.open(message, key, ad)


class RootKDF(kdf_hkdf.KDF):
    """The root chain KDF: HKDF-SHA-256 with the root key as salt; subclasses set INFO."""

    INFO: ClassVar[bytes]

    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @classmethod
    def _get_info(cls) -> bytes:
        return cls.INFO


class PackingDoubleRatchet(doubleratchet.DoubleRatchet):
    """A DoubleRatchet whose AEAD input is `pack_associated_data(ad, header)`."""

    @staticmethod
    def _build_associated_data(associated_data: bytes, header: doubleratchet.Header) -> bytes:
        return pack_associated_data(associated_data, header)


@dataclass(frozen=True, slots=True)
class RatchetParameters:
    """Everything doubleratchet's classmethods need besides keys and messages."""

    root_kdf: type[RootKDF]
    aead: type[RatchetAEAD]
    max_skipped: int

    def _configuration(
        self,
    ) -> tuple[
        type[DiffieHellmanRatchet],
        type[RootKDF],
        type[MessageKDF],
        bytes,
        int,
        int,
        type[RatchetAEAD],
    ]:
        """The leading arguments every doubleratchet constructor takes, in its order: the
        DH ratchet, root and message KDFs, chain constant, DoS threshold, skipped-key cap, AEAD."""
        return (
            DiffieHellmanRatchet,
            self.root_kdf,
            MessageKDF,
            MESSAGE_CHAIN_CONSTANT,
            self.max_skipped,
            self.max_skipped,
            self.aead,
        )

    async def encrypt_initial(
        self, shared_secret: bytes, recipient_ratchet_pub: bytes, message: bytes, ad: bytes
    ) -> tuple[PackingDoubleRatchet, doubleratchet.EncryptedMessage]:
        """Start a session actively and encrypt its first message."""
        return await PackingDoubleRatchet.encrypt_initial_message(
            *self._configuration(),
            shared_secret,
            recipient_ratchet_pub,
            message,
            ad,
        )

    async def decrypt_initial(
        self,
        shared_secret: bytes,
        own_ratchet_priv: bytes,
        message: doubleratchet.EncryptedMessage,
        ad: bytes,
    ) -> tuple[PackingDoubleRatchet, bytes]:
        """Start a session passively from its first message."""
        return await PackingDoubleRatchet.decrypt_initial_message(
            *self._configuration(),
            shared_secret,
            own_ratchet_priv,
            message,
            ad,
        )

    def restore(self, serialized: doubleratchet.JSONObject) -> PackingDoubleRatchet:
        """Load a ratchet from its JSON."""
        return PackingDoubleRatchet.from_json(
            serialized,
            *self._configuration(),
        )
