#!/usr/bin/env python3
"""Records the known-answer vectors of tests/common/tls12_records_test.cpp.

A TLS 1.2 exchange between Python's ssl (OpenSSL) as the client and GnuTLS's echo server
(gnutls-serv, package gnutls-bin) on 127.0.0.1, for AES-128-GCM (SHA-256 PRF) and
AES-256-GCM (SHA-384 PRF): every byte on the wire both ways, the master secret (the
client's key log) and both randoms. GnuTLS, an implementation independent of OpenSSL,
uses the sequence number as the explicit nonce, as zoneproxy does, so its records are
what ours must be byte for byte. Run once; the JSON files are checked in:

    python3 tests/common/data/record-tls12-vectors.py tests/common/data
"""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

SUITES = {
    "aes128": ("ECDHE-ECDSA-AES128-GCM-SHA256", "+AES-128-GCM"),
    "aes256": ("ECDHE-ECDSA-AES256-GCM-SHA384", "+AES-256-GCM"),
}
# Messages the client sends; the echo server answers each with the same bytes.
MESSAGES = [b"hello\n", b"x" * 999 + b"\n", b"y" * 16383 + b"\n"]  # lines: gnutls-serv echoes by line; the last is a full 16 KiB record


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records(stream):
    out, i = [], 0
    while i + 5 <= len(stream):
        n = int.from_bytes(stream[i + 3:i + 5], "big")
        out.append(stream[i:i + 5 + n])
        i += 5 + n
    return out


def record_one(name, openssl_suite, gnutls_cipher, work, out_dir):
    key, crt = os.path.join(work, "k.pem"), os.path.join(work, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-subj", "/CN=vectors", "-days", "1"], check=True,
                   capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        ["gnutls-serv", "--echo", "-p", str(port), "--x509certfile", crt, "--x509keyfile", key,
         "--priority", f"NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:{gnutls_cipher}:-KX-ALL:+ECDHE-ECDSA"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        keylog = os.path.join(work, f"{name}.keylog")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(openssl_suite)
        ctx.keylog_filename = keylog
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_side=False)
        sent, received = bytearray(), bytearray()

        def flush():
            data = outgoing.read()
            sent.extend(data)
            sock.sendall(data)

        def pull():
            data = sock.recv(65536)
            if not data:
                raise EOFError("server closed")
            received.extend(data)
            incoming.write(data)

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                pull()
        flush()
        for m in MESSAGES:
            tls.write(m)
            flush()
            got = b""
            while len(got) < len(m):
                try:
                    got += tls.read(65536)
                except ssl.SSLWantReadError:
                    pull()
            assert got == m, "the echo differs"
        sock.close()
    finally:
        server.kill()
        server.wait()

    line = next(l for l in open(keylog) if l.startswith("CLIENT_RANDOM "))
    _, client_random, master = line.split()
    server_hello = next(r for r in records(bytes(received)) if r[0] == 22 and r[5] == 2)
    server_random = server_hello[5 + 4 + 2:5 + 4 + 2 + 32].hex()

    def after_ccs(stream):
        rs = records(bytes(stream))
        i = next(i for i, r in enumerate(rs) if r[0] == 20)
        return [r.hex() for r in rs[i + 1:]]

    vector = {
        "about": "recorded by record-tls12-vectors.py: Python ssl (OpenSSL) client, gnutls-serv --echo",
        "suite": openssl_suite,
        "master_secret": master,
        "client_random": client_random,
        "server_random": server_random,
        # Records after each side's ChangeCipherSpec: [0] is its Finished (sequence 0).
        "client_records": after_ccs(sent),
        "server_records": after_ccs(received),
        "messages": [m.hex() for m in MESSAGES],
    }
    path = os.path.join(out_dir, f"tls12_gnutls_{name}.json")
    with open(path, "w") as f:
        json.dump(vector, f, indent=1)
        f.write("\n")
    print(f"{path}: {len(vector['client_records'])} client records, {len(vector['server_records'])} server records")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as work:
        for name, (openssl_suite, gnutls_cipher) in SUITES.items():
            record_one(name, openssl_suite, gnutls_cipher, work, out_dir)


if __name__ == "__main__":
    main()
