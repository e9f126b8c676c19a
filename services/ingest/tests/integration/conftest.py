"""Real HTTP and HTTPS servers on the loopback interface, for URL imports to fetch from."""

from __future__ import annotations

import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labelmesh.core.config import CoreSettings
from labelmesh.ingest.config import IngestSettings
from labelmesh.testing.exports import png
from labelmesh.testing.services import service_settings

PNG = png(4, 3)


def ingest_settings(core: CoreSettings, moto_endpoint: str, **fields: object) -> IngestSettings:
    """Ingest's settings on the test's S3 server, in a media bucket of its own,
    allowed to reach the loopback interface."""
    return service_settings(
        IngestSettings,
        core,
        object_store="s3",
        s3_endpoint=moto_endpoint,
        s3_access_key="testing",
        s3_secret_key="testing",
        s3_bucket=f"media-{uuid.uuid4().hex[:12]}",
        url_allow_networks="127.0.0.0/8",
        **fields,
    )


HUGE_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class MediaServer:
    """What the server serves, and what it saw."""

    base: str
    port: int
    # Released when the test ends, so that a slow answer's thread stops.
    release: threading.Event
    # Bytes written by the answer that streams HUGE_BYTES, until the client hung up.
    huge_written: list[int] = field(default_factory=lambda: [0])
    hosts: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}

    def route(path: str) -> Callable[[Callable[[BaseHTTPRequestHandler], None]], None]:
        def register(answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
            routes[path] = answer

        return register

    def send(handler: BaseHTTPRequestHandler, body: bytes, content_type: str) -> None:
        handler.send_response(200)
        # Deliberately wrong for images: ingest sniffs the bytes instead.
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @route("/cat.png")
    def cat(handler: BaseHTTPRequestHandler) -> None:
        send(handler, PNG, "text/html")

    @route("/note")
    def note(handler: BaseHTTPRequestHandler) -> None:
        send(handler, "une note, é".encode(), "application/octet-stream")

    @route("/blob")
    def blob(handler: BaseHTTPRequestHandler) -> None:
        send(handler, b"\x00\x01\x02\x03binary", "image/png")

    @route("/hop")
    def hop(handler: BaseHTTPRequestHandler) -> None:
        redirect(handler, "/cat.png")

    @route("/to-metadata")
    def to_metadata(handler: BaseHTTPRequestHandler) -> None:
        redirect(handler, "http://169.254.169.254/latest/meta-data/")

    @route("/loop")
    def loop(handler: BaseHTTPRequestHandler) -> None:
        redirect(handler, "/loop")

    @route("/declared-huge")
    def declared_huge(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(HUGE_BYTES))
        handler.end_headers()
        stream(handler)

    @route("/huge")
    def huge(handler: BaseHTTPRequestHandler) -> None:
        # No Content-Length: the client only learns the size as it reads.
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        stream(handler)

    @route("/slow")
    def slow(handler: BaseHTTPRequestHandler) -> None:
        server.release.wait()

    def stream(handler: BaseHTTPRequestHandler) -> None:
        chunk = b"a" * CHUNK
        try:
            while server.huge_written[0] < HUGE_BYTES:
                handler.wfile.write(chunk)
                server.huge_written[0] += CHUNK
        except (BrokenPipeError, ConnectionResetError):
            pass

    def redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.hosts.append(self.headers.get("Host", ""))
            answer = routes.get(self.path.split("?", 1)[0])
            if answer is None:
                self.send_error(404)
                return
            answer(self)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    server = MediaServer(f"http://127.0.0.1:{port}", port, threading.Event())
    httpd.RequestHandlerClass = _handler(server)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@dataclass
class TlsMediaServer:
    """An HTTPS server whose certificate names only `media.example`."""

    port: int
    # A client context that trusts the server's self-signed certificate.
    trust: ssl.SSLContext
    # The server names clients asked for in their TLS hello (SNI).
    server_names: list[str]


def _self_signed(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def tls_media_server(tmp_path: Path) -> Iterator[TlsMediaServer]:
    certificate, key = _self_signed("media.example")
    (tmp_path / "cert.pem").write_bytes(certificate)
    (tmp_path / "key.pem").write_bytes(key)
    names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    def remember(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        names.append(name or "")

    context.sni_callback = remember
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    plain = MediaServer("", httpd.server_address[1], threading.Event())
    httpd.RequestHandlerClass = _handler(plain)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    trust = ssl.create_default_context(cadata=certificate.decode())
    yield TlsMediaServer(httpd.server_address[1], trust, names)
    httpd.shutdown()
    httpd.server_close()
    thread.join()
