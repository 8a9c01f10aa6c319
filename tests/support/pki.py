"""A throw-away certificate authority for TLS registries and token servers in tests.

Everything is made with ``cryptography`` (a dev dependency) on EC P-256 keys, which are quick
to generate. Certificates are valid from a day ago for 30 days, so a clock a little off does
not matter and a session never outlives them.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# What a server certificate names by default: every way a test reaches a local server.
LOCAL_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class CertAuthority:
    """A CA: its key and self-signed certificate, in memory and as PEM files."""

    key: PrivateKey
    cert: x509.Certificate
    cert_path: Path
    key_path: Path

    def cert_dir(self, dest: Path) -> Path:
        """A folder holding only ``ca.crt`` (this CA), the layout skopeo's ``--*-cert-dir``
        and Docker's ``certs.d/HOST/`` expect; returns ``dest``."""
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "ca.crt").write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return dest


@dataclass(frozen=True)
class IssuedCert:
    """A key and a certificate signed by a :class:`CertAuthority`, also as PEM files.

    ``chain`` is the certificate followed by the CA's (leaf first), as a server presents it
    or a JWT's ``x5c`` header carries it.
    """

    key: PrivateKey
    cert: x509.Certificate
    cert_path: Path
    key_path: Path
    chain: tuple[x509.Certificate, ...]


def new_key(kind: str = "ec") -> PrivateKey:
    """A fresh private key: ``"ec"`` (P-256, the default) or ``"rsa"`` (2048 bits)."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key kind {kind!r}: use 'ec' or 'rsa'")


def _write_key(key: PrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(
        now + datetime.timedelta(days=30)
    )


def make_ca(dest: Path, name: str = "dockwright test CA") -> CertAuthority:
    """Make a CA in ``dest`` (created): ``ca.key`` and the self-signed ``ca.crt``."""
    dest.mkdir(parents=True, exist_ok=True)
    key = new_key("ec")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = _validity(builder).sign(key, hashes.SHA256())
    cert_path, key_path = dest / "ca.crt", dest / "ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return CertAuthority(key=key, cert=cert, cert_path=cert_path, key_path=key_path)


def _sans(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue_cert(
    ca: CertAuthority,
    dest: Path,
    name: str,
    *,
    hosts: Sequence[str] = LOCAL_HOSTS,
    key_kind: str = "ec",
    server: bool = True,
) -> IssuedCert:
    """Issue ``dest/NAME.crt`` and ``dest/NAME.key`` signed by ``ca``.

    With ``server`` (the default) the certificate is a TLS server certificate whose subject
    alternative names are ``hosts`` (IP addresses become IP SANs, the rest DNS SANs); without
    it, a plain signing certificate (e.g. for JWTs) with ``name`` as its common name.
    """
    dest.mkdir(parents=True, exist_ok=True)
    key = new_key(key_kind)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_sans(hosts)), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    cert = _validity(builder).sign(ca.key, hashes.SHA256())
    cert_path, key_path = dest / f"{name}.crt", dest / f"{name}.key"
    # A server sends its whole chain; Go's TLS server reads the chain from this one file.
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca.cert.public_bytes(serialization.Encoding.PEM)
    )
    _write_key(key, key_path)
    return IssuedCert(
        key=key, cert=cert, cert_path=cert_path, key_path=key_path, chain=(cert, ca.cert)
    )
