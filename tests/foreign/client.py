#!/usr/bin/env python3
"""A Lotse customer written from docs/PROTOCOL.md alone, with the Python
standard library only (no WebSocket or TLS helper packages). It proves the
protocol document is enough to write a client in another language.

    client.py --relay wss://HOST:PORT --pin HEX --name NAME --say TEXT --expect TEXT

Connects as a customer to the public queue (or with --ticket), answers the
site's prompts, joins, waits for a technician, sends --say, waits for a
chat line equal to --expect, then ends the session. Prints one line per
event on stdout. Exit codes: 0 done, 3 certificate did not match the pin
(nothing was sent), 1 anything else.
"""
import argparse, base64, hashlib, json, os, socket, ssl, struct, sys, time, urllib.parse

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
SENT_BYTES = 0  # application bytes (HTTP + WebSocket) written into TLS, ever


class PinMismatch(Exception):
    pass


class Link:
    """One pinned TLS WebSocket to the relay (PROTOCOL.md sections 1-2)."""

    def __init__(self, url, pin, deadline):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "wss":
            raise ValueError("the relay address must start with wss://")
        self.deadline, self.buf = deadline, b""
        raw = socket.create_connection((u.hostname, u.port or 443), timeout=self.left())
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # trust comes from the pin alone
        self.sock = ctx.wrap_socket(raw, server_hostname=u.hostname)
        got = hashlib.sha256(self.sock.getpeercert(binary_form=True)).hexdigest()
        if got != pin.lower().replace(":", ""):
            self.sock.close()  # before a single byte of HTTP or WebSocket
            raise PinMismatch(f"relay certificate sha256 {got} is not the pinned {pin}")
        self.handshake(u.hostname, u.port or 443, (u.path or "/") + ("?" + u.query if u.query else ""))

    def left(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        return remaining

    def send_raw(self, data):
        global SENT_BYTES
        self.sock.settimeout(self.left())
        self.sock.sendall(data)
        SENT_BYTES += len(data)

    def fill(self):
        self.sock.settimeout(self.left())
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the relay closed the connection")
        self.buf += chunk

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self, host, port, target):
        key = base64.b64encode(os.urandom(16)).decode()
        self.send_raw((f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if lines[0].split(" ")[1:2] != ["101"]:
            raise ConnectionError(f"the relay refused the upgrade: {lines[0]}")
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise ConnectionError("bad Sec-WebSocket-Accept")

    def send_frame(self, opcode, payload):
        """One final, masked frame (clients must mask, RFC 6455 5.3)."""
        n, head = len(payload), bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.send_raw(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, obj):
        self.send_frame(0x1, json.dumps(obj, ensure_ascii=False).encode())

    def recv(self):
        """The next whole text message as a dict; answers pings on the way."""
        message, first_op = b"", None
        while True:
            b0, b1 = self.read_exact(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.read_exact(8))[0]
            mask = self.read_exact(4) if b1 & 0x80 else None
            data = self.read_exact(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if op == 0x9:
                self.send_frame(0xA, data)  # pong
            elif op == 0x8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                raise ConnectionError(f"the relay closed the link: {code} {data[2:].decode(errors='replace')}")
            elif op in (0x0, 0x1, 0x2):
                first_op = op if op else first_op
                message += data
                if b0 & 0x80:
                    if first_op == 0x1:
                        return json.loads(message.decode())
                    message, first_op = b"", None  # a binary frame: not for a chat-only client

    def close(self):
        try:
            self.send_frame(0x8, struct.pack("!H", 1000))
            self.sock.close()
        except OSError:
            pass


class Customer:
    """Envelope, seq and ack handling (PROTOCOL.md sections 4-5)."""

    UNRELIABLE = {"hello", "welcome", "login", "login_ok", "ack", "queue_status", "queue", "hold",
                  "frame_ack", "peer_away", "peer_back", "error"}

    def __init__(self, link):
        self.link, self.next_seq, self.last_in, self.unacked = link, 0, 0, {}

    def send(self, msg):
        """Send; returns the seq of a reliable message (else None)."""
        if msg["type"] not in self.UNRELIABLE:
            self.next_seq += 1
            msg = {"seq": self.next_seq, **msg}
            self.unacked[self.next_seq] = msg
        self.link.send(msg)
        return msg.get("seq")

    def pump(self):
        """Read one message: acks a reliable one, returns it if new, else None."""
        msg = self.link.recv()
        event("recv", msg)
        kind, seq = msg.get("type"), msg.get("seq")
        if kind == "ack":
            for s in [s for s in self.unacked if s <= seq]:
                del self.unacked[s]
            return None
        if kind == "error" and msg.get("fatal"):
            raise ConnectionError(f"fatal error from the relay: {msg['code']}: {msg['message']}")
        if seq is not None:
            fresh = seq == self.last_in + 1
            if fresh:
                self.last_in = seq
            self.link.send({"type": "ack", "seq": self.last_in})
            if not fresh:
                return None  # a duplicate (or a gap, resent after a reconnect)
        return msg

    def wait_for(self, kind, **fields):
        while True:
            msg = self.pump()
            if msg is None:
                continue
            if msg.get("type") == kind and all(msg.get(k) == v for k, v in fields.items()):
                return msg
            if msg.get("type") == "end":
                raise ConnectionError(f"session ended: {msg.get('reason')}")

    def drain(self):
        """Until the relay has acknowledged everything we sent."""
        while self.unacked:
            self.pump()


def event(what, detail):
    print(json.dumps({"event": what, "detail": detail}, ensure_ascii=False), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--relay", required=True)
    p.add_argument("--pin", required=True)
    p.add_argument("--ticket", default="")
    p.add_argument("--name", default="Foreign Customer")
    p.add_argument("--say", default="Hello from Python")
    p.add_argument("--expect", default=None)
    p.add_argument("--malformed-first", action="store_true",
                   help="before --say, send a reliable chat without its text: the relay must refuse it "
                        "naming its seq and use that seq up (PROTOCOL.md section 5)")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--check-wrong-pin", action="store_true",
                   help="first connect with a pin that differs in one digit: it must fail before anything is sent")
    a = p.parse_args()
    deadline = time.monotonic() + a.timeout
    url = a.relay.rstrip("/") + "/ws/customer" + (("?ticket=" + urllib.parse.quote(a.ticket, safe="")) if a.ticket else "")
    try:
        return run(a, url, deadline)
    except (OSError, ConnectionError, ValueError, KeyError) as e:
        event("failed", f"{type(e).__name__}: {e}")
        return 1


def run(a, url, deadline):
    if a.check_wrong_pin:
        wrong = a.pin[:-1] + ("0" if a.pin[-1] != "0" else "1")
        try:
            Link(url, wrong, deadline).close()
            event("failed", "a wrong pin was accepted")
            return 1
        except PinMismatch as e:
            if SENT_BYTES:
                event("failed", f"{SENT_BYTES} bytes were sent before the pin check")
                return 1
            event("wrong_pin_refused", {"message": str(e), "bytes_sent": SENT_BYTES})
    try:
        link = Link(url, a.pin, deadline)
    except PinMismatch as e:
        event("pin_mismatch", {"message": str(e), "bytes_sent": SENT_BYTES})
        return 3
    c = Customer(link)
    try:
        c.send({"type": "hello", "version": 1, "role": "customer", "agent": "foreign-client.py 1", "lang": "en"})
        welcome = c.pump()
        if welcome is None or welcome.get("type") != "welcome":
            raise ConnectionError(f"expected welcome, got {welcome}")
        site = welcome["site"]
        if site.get("agreement"):
            c.send({"type": "consent", "topic": "agreement", "granted": True})
        if site.get("recording_prompt"):
            c.send({"type": "consent", "topic": "recording", "granted": False})
        c.send({"type": "join", "name": a.name})
        c.wait_for("technician_joined")
        if a.malformed_first:
            bad = c.send({"type": "chat"})
            refused = c.wait_for("error", refused_seq=bad)
            event("refused", {"seq": bad, "code": refused.get("code")})
        c.send({"type": "chat", "text": a.say})
        if a.expect is not None:
            c.wait_for("chat", text=a.expect)
        c.drain()  # everything we said has reached the relay
        c.send({"type": "end", "reason": "ended_by_customer"})
        c.drain()
        event("done", {"session": welcome.get("session")})
        return 0
    finally:
        link.close()


if __name__ == "__main__":
    sys.exit(main())
