"""With a certificate and its key, a service serves HTTPS and gRPC over TLS,
and other services reach it through a channel that verifies it."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labelmesh.access.app import AccessApp, build_app
from labelmesh.access.config import AccessSettings
from labelmesh.core.authentication import RemoteAuthenticator
from labelmesh.core.config import ConfigError, CoreSettings, load
from labelmesh.devstack.processes import free_port
from labelmesh.testing.access import bearer, grpc_bearer
from labelmesh.testing.services import served_app
from labelmesh.v1 import access_service_pb2 as pb
from labelmesh.v1 import access_service_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labelmesh-test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
async def tls_app(core_settings: CoreSettings, tmp_path: Path) -> AsyncIterator[AccessApp]:
    cert_file, key_file = self_signed(tmp_path)
    async with served_app(
        build_app,
        AccessSettings,
        core_settings,
        rest_port=free_port(),
        grpc_port=free_port(),
        tls_cert_file=cert_file,
        tls_key_file=key_file,
        bootstrap_key_file=tmp_path / "admin.key",
    ) as app:
        yield app


async def test_rest_and_grpc_serve_tls_that_clients_verify(
    tls_app: AccessApp, tmp_path: Path
) -> None:
    settings = tls_app.service.settings
    admin_key = (tmp_path / "admin.key").read_text().strip()
    ca = (tmp_path / "cert.pem").read_bytes()

    trusting = ssl.create_default_context(cafile=tmp_path / "cert.pem")
    async with httpx.AsyncClient(verify=trusting) as client:
        me = await client.get(
            f"https://127.0.0.1:{settings.rest_port}/v1/whoami", headers=bearer(admin_key)
        )
    assert me.status_code == 200, me.text
    async with httpx.AsyncClient() as plain:
        with pytest.raises(httpx.HTTPError):
            await plain.get(f"http://127.0.0.1:{settings.rest_port}/v1/whoami")

    target = f"127.0.0.1:{settings.grpc_port}"
    async with grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(ca)) as channel:
        stub = pb_grpc.AccessServiceStub(channel)  # type: ignore[no-untyped-call]
        reply = await stub.WhoAmI(pb.WhoAmIRequest(), metadata=grpc_bearer(admin_key))
    assert reply.principal.subject == "admin"

    remote = RemoteAuthenticator(target, ttl_seconds=5, trusted_ca=ca)
    assert (await remote.authenticate(admin_key)).subject == "admin"
    await remote.close()


def test_a_certificate_without_its_key_stops_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELMESH_TLS_CERT_FILE", "/etc/labelmesh/cert.pem")
    with pytest.raises(ConfigError, match="LABELMESH_TLS_KEY_FILE: set both or neither"):
        load(CoreSettings)
