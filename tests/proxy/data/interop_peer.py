#!/usr/bin/env python3
"""One half of a zoneproxy session spoken with Python's ssl module (tests/proxy/interop_test.cpp).

Connects over TLS 1.2 with one cipher suite, sends the PROTOCOL.md 3.2 hello, checks the
101, then sends --send bytes (a stream seeded by --seed) while it reads until --expect
bytes came, in one non-blocking loop. Then it ends the stream: with --close-first it sends
its close_notify and waits for the other side's; without, it waits for the other side's
close_notify first (relayed by the proxy) and answers it. Prints one JSON line:
the suite OpenSSL negotiated, the byte count and SHA-256 of what it received, and the
SHA-256 of what it sent.
"""
import argparse
import hashlib
import json
import random
import select
import socket
import ssl
import sys
import time

K_101 = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n"


def payload(size, seed):
    return random.Random(seed).randbytes(size)


def fail(message):
    print(json.dumps({"error": message}), flush=True)
    sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cipher", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--send", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--close-first", action="store_true")
    p.add_argument("--timeout", type=float, default=120)
    a = p.parse_args()
    deadline = time.monotonic() + a.timeout

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(a.cipher)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the proxy's certificate is the fixture's self-signed one
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    s = ctx.wrap_socket(raw)
    s.sendall(b"GET /v1/rendezvous/%s HTTP/1.1\r\nHost: zoneproxy\r\nConnection: Upgrade\r\n"
              b"Upgrade: zoneproxy/1\r\n\r\n" % a.id.encode())
    head = b""
    while len(head) < len(K_101):
        chunk = s.recv(len(K_101) - len(head))
        if not chunk:
            fail("stream ended before the 101: %r" % head)
        head += chunk
    if head != K_101:
        fail("not the 101: %r" % head)

    out = memoryview(payload(a.send, a.seed))
    sent, got, digest = 0, 0, hashlib.sha256()
    s.setblocking(False)
    while sent < len(out) or got < a.expect:
        if time.monotonic() > deadline:
            fail("timed out: sent %d of %d, received %d of %d" % (sent, len(out), got, a.expect))
        if not s.pending():
            select.select([s] if got < a.expect else [], [s] if sent < len(out) else [], [], 1)
        if got < a.expect:
            try:
                chunk = s.recv(1 << 20)
                if not chunk:
                    fail("stream ended after %d of %d bytes" % (got, a.expect))
                got += len(chunk)
                digest.update(chunk)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        if sent < len(out):
            try:
                sent += s.send(out[sent:sent + (1 << 18)])
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass

    cipher = s.cipher()[0]
    s.setblocking(True)
    s.settimeout(max(1.0, deadline - time.monotonic()))
    if not a.close_first:
        extra = s.recv(1)  # b"" at the other side's close_notify
        if extra:
            fail("a byte after the expected %d" % a.expect)
    s.unwrap()  # our close_notify; with --close-first, then waits for the other side's
    raw.close()
    print(json.dumps({"cipher": cipher, "received": got, "sha256": digest.hexdigest(),
                      "sent_sha256": hashlib.sha256(out).hexdigest()}), flush=True)


if __name__ == "__main__":
    main()
