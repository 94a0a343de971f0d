"""The box's CA and the S3 stand-in's certificate.

The stack's S3 endpoint is HTTPS (the config requires it), so the box's S3 stand-in is too. Its
clients trust it because the box's Python base image trusts the box's CA, as a cloud's machine
images trust the cloud's CA. The CA is made once and kept in the cache (the images that trust it are
kept too); the server certificate is made for each run, in memory, and handed to the S3 stand-in as
Swarm secrets.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.box.dockerd import Layout


@dataclass(frozen=True)
class ServerCert:
    cert_pem: bytes
    key_pem: bytes


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ensure_ca(layout: Layout) -> None:
    """Create the CA under the cache once (key readable by root only)."""
    cert_path, key_path = layout.ca / "ca.crt", layout.ca / "ca.key"
    if cert_path.exists() and key_path.exists():
        return
    layout.ca.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("deepcube box CA"))
        .issuer_name(_name("deepcube box CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(_key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def server_cert(layout: Layout, hostname: str) -> ServerCert:
    """A certificate for `hostname` signed by the box's CA, valid for two days, never written."""
    ca_cert = x509.load_pem_x509_certificate((layout.ca / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((layout.ca / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        san = x509.DNSName(hostname)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hostname))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ServerCert(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=_key_pem(key),
    )
