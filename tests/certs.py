"""The test certificates live in `devtools.certs` (the Prosody runner of `devtools` makes its
TLS hosts with them); this module keeps the tests' import path.
"""

from devtools.certs import CertificateAuthority, Pem, self_signed

__all__ = ["CertificateAuthority", "Pem", "self_signed"]
