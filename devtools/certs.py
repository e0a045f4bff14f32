"""Test certificates made at test time with `cryptography`: a CA, server certificates it
signs, and self-signed ones. Keys are EC P-256 (fast to make); every file is PEM."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pem:
    """A certificate and its key, as files."""

    certificate: Path
    key: Path

    @property
    def der(self) -> bytes:
        cert = x509.load_pem_x509_certificate(self.certificate.read_bytes())
        return cert.public_bytes(serialization.Encoding.DER)

    @property
    def sha256(self) -> str:
        """`AA:BB:…`, as tui-omemo prints fingerprints."""
        digest = hashlib.sha256(self.der).hexdigest().upper()
        return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Pem:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return Pem(cert_path, key_path)


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


@dataclass(frozen=True)
class CertificateAuthority:
    """A certificate authority for one test session."""

    pem: Pem
    key: ec.EllipticCurvePrivateKey
    name: x509.Name

    @classmethod
    def create(cls, directory: Path) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name("tui-omemo test CA")
        cert = (
            _builder(name, name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(_write(directory, "ca", cert, key), key, name)

    def issue(self, directory: Path, stem: str, dns_name: str) -> Pem:
        """A server certificate for `dns_name`, signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(_name(dns_name), self.name, key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return _write(directory, stem, cert, key)


def self_signed(directory: Path, stem: str, dns_name: str) -> Pem:
    """A self-signed server certificate for `dns_name`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(dns_name)
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, stem, cert, key)
