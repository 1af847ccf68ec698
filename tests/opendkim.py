"""OpenDKIM's `opendkim-testmsg` (Debian: opendkim-tools) as a second judge of our signatures.

The tool verifies through the DKIM library, which looks the public key up in the DNS server of
/etc/resolv.conf: there is no option to hand it a key. So `verify` runs this file as a script in
a private user, network and mount namespace (`unshare`): there, 127.0.0.1:53 is a DNS server of
ours answering the test's TXT records, and /etc/resolv.conf is a bind mount naming it. Nothing
outside the namespace sees either."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

TESTMSG = Path("/usr/sbin/opendkim-testmsg")


def available() -> bool:
    return TESTMSG.exists() and shutil.which("unshare") is not None


def verify(messages: list[bytes], records: dict[str, str]) -> list[tuple[int, str]]:
    """(exit status, stderr) of `opendkim-testmsg` for each message; `records` maps a name
    (`selector._domainkey.domain`) to its TXT record. Status 0 and no output: verified."""
    with tempfile.TemporaryDirectory(prefix="opendkim-") as work:
        paths = []
        for n, message in enumerate(messages):
            path = Path(work) / f"{n}.eml"
            path.write_bytes(message)
            paths.append(str(path))
        done = subprocess.run(
            [
                "unshare",
                "--user",
                "--map-root-user",
                "--net",
                "--mount",
                sys.executable,
                __file__,
                json.dumps(records),
                *paths,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the namespace did not run: {done.stderr}")
    return [tuple(result) for result in json.loads(done.stdout)]  # type: ignore[misc]


def _serve(records: dict[str, str], server: socket.socket) -> None:
    import dns.message
    import dns.rcode
    import dns.rdatatype
    import dns.rrset

    while True:
        data, client = server.recvfrom(4096)
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        if question.rdtype == dns.rdatatype.TXT and name in records:
            text = records[name]
            chunks = " ".join(f'"{text[i : i + 200]}"' for i in range(0, len(text), 200))
            reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", chunks))
        else:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        server.sendto(reply.to_wire(), client)


def _inside(records: dict[str, str], paths: list[str]) -> None:
    """Runs in the namespace: loopback up, our resolver in place, then the tool per message."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    resolv = Path(tempfile.mkdtemp()) / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 53))
    threading.Thread(target=_serve, args=(records, server), daemon=True).start()
    results = []
    for path in paths:
        with open(path, "rb") as message:
            done = subprocess.run(
                [str(TESTMSG), "-C"], stdin=message, capture_output=True, text=True, timeout=30
            )
        results.append((done.returncode, done.stdout + done.stderr))
    print(json.dumps(results))


if __name__ == "__main__":
    os.environ.pop("RES_OPTIONS", None)
    _inside(json.loads(sys.argv[1]), sys.argv[2:])
