"""Small real services for the scan tests, run inside a namespace (or on loopback).

    python lab_services.py banner BIND PORT TEXT     a TCP listener that sends an SSH-like banner line
    python lab_services.py telnet BIND PORT          sends Telnet option negotiation (IAC DO ...)
    python lab_services.py http BIND PORT            a tiny HTTP server
    python lab_services.py tls BIND PORT CERT KEY    HTTPS with TLS 1.0-1.2 allowed (SECLEVEL=0)

Prints "ready" on stdout once listening. Not a test module (no test_ prefix).
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _listener(bind: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, port))
    sock.listen(64)
    return sock


def _serve(sock: socket.socket, handle) -> None:  # type: ignore[no-untyped-def]
    print("ready", flush=True)
    while True:
        conn, _ = sock.accept()
        conn.settimeout(5)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _greeter(payload: bytes):  # type: ignore[no-untyped-def]
    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(payload)
                conn.recv(1024)
            except OSError:
                pass

    return handle


class _Hello(BaseHTTPRequestHandler):
    def version_string(self) -> str:
        # A banner nmap's -sV knows: an unknown one makes it try every probe (about 90 s).
        return "Apache/2.4.57 (Debian)"

    def do_GET(self) -> None:
        body = b"<html><head><title>Sentinel lab</title></head><body>lab</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _tls(bind: str, port: int, cert: str, key: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0")
    ctx.load_cert_chain(cert, key)

    def handle(conn: socket.socket) -> None:
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(b"HTTP/1.0 200 OK\r\nServer: Apache/2.4.57 (Debian)\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            conn.close()

    _serve(_listener(bind, port), handle)


def main(argv: list[str]) -> None:
    mode, bind, port = argv[0], argv[1], int(argv[2])
    if mode == "banner":
        _serve(_listener(bind, port), _greeter(argv[3].encode() + b"\r\n"))
    elif mode == "telnet":
        _serve(_listener(bind, port), _greeter(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27"))
    elif mode == "http":
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        ThreadingHTTPServer.address_family = family
        server = ThreadingHTTPServer((bind, port), _Hello)
        print("ready", flush=True)
        server.serve_forever()
    elif mode == "tls":
        _tls(bind, port, argv[3], argv[4])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
