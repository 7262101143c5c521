#!/usr/bin/env python3
"""GNOME (mutter) tools that need no consent: mutter's own org.gnome.Mutter.ScreenCast and
org.gnome.Mutter.RemoteDesktop D-Bus APIs. Run inside a GNOME session (wayland.sh exec NAME --).

  mutter.py grab OUT.png [--cursor]    the whole 1280x800 monitor, one frame, as PNG
                                       (no cursor unless --cursor)
  mutter.py answer-dialog share|share-with-control|window|decline [--timeout S]
                                       wait until xdg-desktop-portal-gnome's dialog is on the
                                       screen, click it (window: the first window of its
                                       list, then Share), wait until it is gone
  mutter.py selftest                   gnome-shell: a click on Activities opens the overview
  mutter.py pixels X,Y...              print the colours (RRGGBB) at these points
  mutter.py click X Y                  a left click at monitor coordinates
  mutter.py keys CODE...               press and release evdev key codes (e.g. 21 = KEY_Y)
  mutter.py serve                      keep one input session: `keys CODE...`, `chord CODE...`,
                                       `click X Y` lines on stdin, `ok` on stdout after each
  mutter.py wait-color RRGGBB X,Y... [--timeout S]
                                       wait until all these pixels show that colour

Frames come from a PipeWire stream of a RecordMonitor session read by gst-launch-1.0
(pipewiresrc ! videoconvert ! RGBx on stdout); pointer and keys go through a RemoteDesktop
session linked to that ScreenCast session (absolute coordinates on the stream).
"""
import argparse
import os
import queue
import threading
import re
import struct
import zlib
import subprocess
import sys
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

BTN_LEFT = 0x110
# Where the pointer waits (bottom left, clear of the dialog).
PARK = (40, 700)
# gnome-shell's "Activities" button in the top bar.
ACTIVITIES = (30, 15)
KEY_LEFTSHIFT = 42

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()


def log(*a):
    print("mutter.py:", *a, file=sys.stderr, flush=True)


class Session:
    """A mutter RemoteDesktop session (when input is wanted) linked to a ScreenCast session
    recording the primary monitor."""

    def __init__(self, remote_desktop, cursor=False):
        self.rd = None
        sc_mgr = dbus.Interface(bus.get_object("org.gnome.Mutter.ScreenCast", "/org/gnome/Mutter/ScreenCast"),
                                "org.gnome.Mutter.ScreenCast")
        props = {}
        if remote_desktop:
            rd_mgr = dbus.Interface(bus.get_object("org.gnome.Mutter.RemoteDesktop", "/org/gnome/Mutter/RemoteDesktop"),
                                    "org.gnome.Mutter.RemoteDesktop")
            rd_path = rd_mgr.CreateSession()
            self.rd_obj = bus.get_object("org.gnome.Mutter.RemoteDesktop", rd_path)
            self.rd = dbus.Interface(self.rd_obj, "org.gnome.Mutter.RemoteDesktop.Session")
            sid = self.rd_obj.Get("org.gnome.Mutter.RemoteDesktop.Session", "SessionId",
                                  dbus_interface="org.freedesktop.DBus.Properties")
            props["remote-desktop-session-id"] = sid
        sc_path = sc_mgr.CreateSession(dbus.Dictionary(props, signature="sv"))
        self.sc = dbus.Interface(bus.get_object("org.gnome.Mutter.ScreenCast", sc_path),
                                 "org.gnome.Mutter.ScreenCast.Session")
        # cursor-mode: 0 hidden, 1 embedded, 2 metadata
        self.stream_path = self.sc.RecordMonitor("", dbus.Dictionary(
            {"cursor-mode": dbus.UInt32(1 if cursor else 0)}, signature="sv"))
        stream = bus.get_object("org.gnome.Mutter.ScreenCast", self.stream_path)
        loop = GLib.MainLoop()
        got = {}

        def added(node_id):
            got["node"] = int(node_id)
            loop.quit()

        match = stream.connect_to_signal("PipeWireStreamAdded", added,
                                         dbus_interface="org.gnome.Mutter.ScreenCast.Stream")
        if self.rd:
            self.rd.Start()
        else:
            self.sc.Start()
        timer = GLib.timeout_add(10000, loop.quit)
        loop.run()
        match.remove()
        if "node" not in got:
            sys.exit("mutter.py: no PipeWire stream from mutter within 10 s")
        GLib.source_remove(timer)
        self.node = got["node"]
        params = stream.Get("org.gnome.Mutter.ScreenCast.Stream", "Parameters",
                            dbus_interface="org.freedesktop.DBus.Properties")
        self.width, self.height = (int(v) for v in params["size"])
        self.reader = None
        self.last = None

    def stop(self):
        if self.reader:
            self.reader.kill()
            self.reader.wait()
        try:
            (self.rd or self.sc).Stop()
        except dbus.DBusException:
            pass

    # -- frames
    def gst(self, tail):
        return ["gst-launch-1.0", "-q", "pipewiresrc", "path=%d" % self.node, "always-copy=true", "!",
                "videoconvert", "!"] + tail

    def _read_frames(self):
        size = self.width * self.height * 4
        out = self.reader.stdout
        while True:
            buf = bytearray()
            while len(buf) < size:
                chunk = out.read(size - len(buf))
                if not chunk:
                    self.queue.put(None)
                    return
                buf += chunk
            self.queue.put(bytes(buf))

    def next_frame(self, timeout):
        """The next RGBx frame mutter sends (it sends one when the screen changes), or None
        after timeout seconds without one."""
        if not self.reader:
            self.queue = queue.Queue()
            self.reader = subprocess.Popen(
                self.gst(["video/x-raw,format=RGBx", "!", "fdsink", "fd=1", "sync=false"]),
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
            threading.Thread(target=self._read_frames, daemon=True).start()
        try:
            frame = self.queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if frame is None:
            sys.exit("mutter.py: the frame reader ended")
        self.last = frame
        return frame

    def pixel(self, frame, x, y):
        i = (y * self.width + x) * 4
        return frame[i], frame[i + 1], frame[i + 2]

    def wait_frame(self, cond, timeout, what):
        """The first frame for which cond(frame) holds (the latest frame counts too)."""
        deadline = time.monotonic() + timeout
        if self.last is not None and cond(self.last):
            return self.last
        while True:
            frame = self.next_frame(deadline - time.monotonic())
            if frame is not None and cond(frame):
                return frame
            if time.monotonic() >= deadline:
                sys.exit("mutter.py: timeout waiting for " + what)

    def wait_still(self, quiet, timeout, what):
        """The screen once it has not changed for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.next_frame(quiet) is None:
                return self.last
        sys.exit("mutter.py: timeout waiting for " + what)

    # -- input
    def motion(self, x, y):
        self.rd.NotifyPointerMotionAbsolute(self.stream_path, float(x), float(y))

    def button(self, pressed):
        self.rd.NotifyPointerButton(dbus.Int32(BTN_LEFT), pressed)

    def key(self, code, pressed):
        self.rd.NotifyKeyboardKeycode(dbus.UInt32(code), pressed)

    def prime(self, frame=None):
        """mutter 50 loses the first events of a fresh RemoteDesktop session
        (../../../shared/platforms/WAYLAND.md): a Shift tap and a harmless motion first. With a
        stream that embeds the cursor and a frame from before, the motion is checked like every
        click's (see move)."""
        self.key(KEY_LEFTSHIFT, True)
        self.key(KEY_LEFTSHIFT, False)
        if frame is None:
            self.motion(*PARK)
            time.sleep(0.3)
            return
        self.move(*PARK)

    def move(self, x, y):
        """Move the pointer and wait until the stream (cursor embedded) draws it there: the
        screen changes right below (x, y), where the arrow is drawn. A click then lands where
        it is meant to, not where the pointer was before."""
        ref = self.last

        def drawn(f):
            return any(self.pixel(f, min(x + dx, self.width - 1), min(y + dy, self.height - 1)) !=
                       self.pixel(ref, min(x + dx, self.width - 1), min(y + dy, self.height - 1))
                       for dx in range(0, 10, 2) for dy in range(2, 16, 2))
        self.motion(x, y)
        self.wait_frame(drawn, 5, "the pointer at %d,%d" % (x, y))

    def click(self, x, y, checked=False):
        if checked:
            self.move(x, y)
        else:
            self.motion(x, y)
        self.button(True)
        self.button(False)


def save_png(s, frame, path):
    """Write an RGBx frame as an RGB PNG (for debugging: LOTSE_WL_DEBUG=DIR)."""
    rows = bytearray()
    stride = s.width * 4
    for y in range(s.height):
        row = frame[y * stride:(y + 1) * stride]
        rows.append(0)
        rgb = bytearray(s.width * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = row[0::4], row[1::4], row[2::4]
        rows += rgb

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", s.width, s.height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(bytes(rows), 1)) + chunk(b"IEND", b""))


def debug_frame(s, frame, name):
    d = os.environ.get("LOTSE_WL_DEBUG")
    if d and frame is not None:
        save_png(s, frame, os.path.join(d, "%s-%s.png" % (time.strftime("%H%M%S"), name)))


def near(rgb, want, tol=24):
    return all(abs(a - b) <= tol for a, b in zip(rgb, want))


def hexcolor(s):
    return tuple(int(s[i:i + 2], 16) for i in (0, 2, 4))


def cmd_grab(args):
    s = Session(remote_desktop=False, cursor=args.cursor)
    try:
        # The first buffer can precede the first complete frame: take the second one
        # pipewiresrc hands out, which mutter sends at once (always-copy, keepalive).
        out = os.path.abspath(args.out)
        subprocess.run(s.gst(["video/x-raw,format=RGB", "!", "pngenc", "snapshot=true", "!",
                              "filesink", "location=" + out]), check=True, timeout=30,
                       stderr=subprocess.DEVNULL)
    finally:
        s.stop()


# The dialog on a 1280x800 virtual monitor (mutter 50, xdg-desktop-portal-gnome 50), measured
# from screenshots. Alone on the screen it is centred: header bar with Cancel at (360,172) and
# the blue Share button at (922,172); for a RemoteDesktop request the "Allow Remote
# Interaction" switch at (895,255). A second dialog is cascaded by (+50,+50): the buttons are
# found relative to the Share button, which is located on the screen.
SHARE_BLUE = (0x35, 0x84, 0xe4)
CANCEL_DX = 360 - 922
SWITCH_DX, SWITCH_DY = 895 - 922, 255 - 172
SHARE_RUN = re.compile(b"(?:[\x2f-\x3b][\x7e-\x8a][\xde-\xea].){40,}", re.S)
# Share while nothing is picked yet (the window list): pale blue, #97bfef.
SHARE_OFF_RUN = re.compile(b"(?:[\x91-\x9d][\xb9-\xc5][\xe9-\xf5].){40,}", re.S)
# The first row of the window list, from Share.
FIRST_ROW_DX, FIRST_ROW_DY = 640 - 921, 310 - 188


def find_share(s, frame, run=SHARE_RUN):
    """Centre of the (focused, bright blue) Share button, or None; with run=SHARE_OFF_RUN
    the pale one of a window list where nothing is picked yet."""
    stride = s.width * 4
    rows = {}
    for m in run.finditer(frame):
        start, end = m.start() // 4, m.end() // 4
        y, x0 = divmod(start, s.width)
        x1 = min(end - y * s.width, s.width) - 1
        if 40 <= x1 - x0 + 1 <= 140:
            rows.setdefault((x0 // 4, x1 // 4), []).append(y)
    for (bx0, bx1), ys in rows.items():
        if len(ys) >= 8 and max(ys) - min(ys) <= 40:
            x0, x1 = bx0 * 4, bx1 * 4 + 3
            return ((x0 + x1) // 2, (min(ys) + max(ys)) // 2)
    del stride
    return None


def dialog_buttons(s, frame, mode):
    """Share, Cancel and (for a RemoteDesktop dialog) switch positions if the dialog is shown."""
    share = find_share(s, frame, SHARE_OFF_RUN if mode == "window" else SHARE_RUN)
    if share is None:
        return None
    cancel = (share[0] + CANCEL_DX, share[1])
    switch = (share[0] + SWITCH_DX, share[1] + SWITCH_DY)
    row = (share[0] + FIRST_ROW_DX, share[1] + FIRST_ROW_DY)
    if not near(s.pixel(frame, *cancel), (0xe6, 0xe6, 0xe7), 12):
        return None
    return {"share": share, "cancel": cancel, "switch": switch, "row": row}


def click_and_wait(s, xy, done, what):
    """Click at xy (the pointer shown there first) and wait until done(frame) holds."""
    s.click(*xy, checked=True)
    if not wait_effect(s, done, 5):
        sys.exit("mutter.py: timeout waiting for " + what)


def wait_effect(s, done, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        f = s.next_frame(deadline - time.monotonic())
        if f is not None and done(f):
            return True
    return done(s.last)


def cmd_answer(args):
    s = Session(remote_desktop=True, cursor=True)
    try:
        t0 = time.monotonic()
        # Prime the input first and park the pointer where it covers nothing of the dialog.
        first = s.next_frame(10)
        if first is None:
            sys.exit("mutter.py: no frame from mutter")
        s.prime(first)
        found = {}

        def visible(f):
            found["b"] = dialog_buttons(s, f, args.mode)
            return found["b"] is not None
        s.wait_frame(visible, args.timeout, "the portal dialog")
        # The shell may still move it (centring below the top bar): wait until the screen is
        # still for 0.2 s and the dialog is there.
        while True:
            frame = s.wait_still(0.2, args.timeout, "the portal dialog to settle")
            if visible(frame):
                break
            s.wait_frame(visible, args.timeout, "the portal dialog")
        b = found["b"]
        debug_frame(s, frame, "dialog")
        log("dialog visible after %.2f s: Share %s, Cancel %s, switch %s" % (
            time.monotonic() - t0, b["share"], b["cancel"], b["switch"]))
        probe = (b["switch"][0] - 14, b["switch"][1])  # knob (off) or blue track (on)

        def switch_on(f):
            return near(s.pixel(f, *probe), SHARE_BLUE, 40)

        def closed(f):
            # Left of where the pointer's arrow is drawn: Share's blue and Cancel's grey gone.
            sx, sy = b["share"]
            cx, cy = b["cancel"]
            return (not near(s.pixel(f, sx - 30, sy), SHARE_BLUE, 30)
                    and not near(s.pixel(f, cx - 20, cy), (0xe6, 0xe6, 0xe7), 10))
        if args.mode == "share-with-control":
            click_and_wait(s, b["switch"], switch_on, "the switch to turn on")
        if args.mode == "window":
            def picked(f):
                return near(s.pixel(f, *b["share"]), SHARE_BLUE, 30)
            click_and_wait(s, b["row"], picked, "Share to turn on after picking the first window")
        target = b["cancel"] if args.mode == "decline" else b["share"]
        debug_frame(s, s.last, "before")
        click_and_wait(s, target, closed, "the dialog to close")
        debug_frame(s, s.last, "closed")
        log("answered", args.mode, "after %.2f s" % (time.monotonic() - t0))
    except SystemExit:
        # What the screen showed last, for the failing test's log.
        if s.last is not None and os.environ.get("LOTSE_WL_DIR"):
            path = os.path.join(os.environ["LOTSE_WL_DIR"], "answer-dialog-failed.png")
            save_png(s, s.last, path)
            log("last frame:", path)
        raise
    finally:
        s.stop()


def overview_active():
    shell = bus.get_object("org.gnome.Shell", "/org/gnome/Shell")
    return bool(shell.Get("org.gnome.Shell", "OverviewActive", dbus_interface="org.freedesktop.DBus.Properties"))


def cmd_selftest(args):
    """gnome-shell only (wayland.sh start runs it): a click on "Activities" in the top bar must
    open the overview; then it is closed again. Exit 1 if no click has an effect: that session
    passes no virtual button events on at all (seen when several GNOME sessions start at once)
    and is restarted."""
    s = Session(remote_desktop=True, cursor=True)
    try:
        first = s.next_frame(10)
        if first is None:
            sys.exit("mutter.py: no frame from mutter")
        s.prime(first)
        for attempt in range(3):
            s.click(*ACTIVITIES, checked=True)
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                if overview_active():
                    shell = bus.get_object("org.gnome.Shell", "/org/gnome/Shell")
                    shell.Set("org.gnome.Shell", "OverviewActive", False,
                              dbus_interface="org.freedesktop.DBus.Properties")
                    while overview_active():
                        s.next_frame(0.05)
                    s.move(*PARK)
                    return
                s.next_frame(0.05)
            s.move(*PARK)
        log("no click had an effect: this session passes no button events on")
        sys.exit(1)
    finally:
        s.stop()


def cmd_pixels(args):
    s = Session(remote_desktop=False)
    try:
        frame = s.next_frame(10)
        if frame is None:
            sys.exit("mutter.py: no frame")
        for xy in args.points:
            x, y = (int(v) for v in xy.split(","))
            print("%d,%d %02x%02x%02x" % ((x, y) + s.pixel(frame, x, y)))
    finally:
        s.stop()


def cmd_click(args):
    s = Session(remote_desktop=True)
    try:
        s.prime()
        s.click(args.x, args.y)
    finally:
        s.stop()


def cmd_keys(args):
    s = Session(remote_desktop=True)
    try:
        s.prime()
        for code in args.codes:
            s.key(code, True)
            s.key(code, False)
    finally:
        s.stop()


def cmd_serve(args):
    """One input session for the life of this process. Every new mutter RemoteDesktop
    session takes the keyboard focus from the focused window, so a test that presses keys in
    a window keeps this one: lines on stdin, `keys CODE...` or `click X Y`; each is answered
    with `ok` (or `error ...`) on stdout once sent; `chord CODE...` holds each key until the
    last is pressed (Shift+Tab). `ready` first, once primed."""
    s = Session(remote_desktop=True)
    try:
        s.prime()
        print("ready", flush=True)
        for line in sys.stdin:
            words = line.split()
            try:
                if words and words[0] == "keys":
                    for code in words[1:]:
                        s.key(int(code), True)
                        s.key(int(code), False)
                elif words and words[0] == "chord":
                    # All pressed in order, released in reverse (Shift+Tab).
                    codes = [int(c) for c in words[1:]]
                    for code in codes:
                        s.key(code, True)
                    for code in reversed(codes):
                        s.key(code, False)
                elif words and words[0] == "click" and len(words) == 3:
                    s.click(int(words[1]), int(words[2]))
                else:
                    print("error unknown command: %s" % line.strip(), flush=True)
                    continue
            except ValueError as e:
                print("error %s" % e, flush=True)
                continue
            print("ok", flush=True)
    finally:
        s.stop()


def cmd_wait_color(args):
    s = Session(remote_desktop=False)
    want = hexcolor(args.color)
    points = [tuple(int(v) for v in xy.split(",")) for xy in args.points]
    try:
        s.wait_frame(lambda f: all(near(s.pixel(f, x, y), want, 6) for x, y in points),
                     args.timeout, "#%s at %s" % (args.color, " ".join(args.points)))
    finally:
        s.stop()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grab")
    g.add_argument("out")
    g.add_argument("--cursor", action="store_true")
    a = sub.add_parser("answer-dialog")
    a.add_argument("mode", choices=["share", "share-with-control", "window", "decline"])
    a.add_argument("--timeout", type=float, default=30)
    sub.add_parser("selftest")
    px = sub.add_parser("pixels")
    px.add_argument("points", nargs="+", help="X,Y")
    c = sub.add_parser("click")
    c.add_argument("x", type=int)
    c.add_argument("y", type=int)
    k = sub.add_parser("keys")
    k.add_argument("codes", type=int, nargs="+")
    sub.add_parser("serve")
    w = sub.add_parser("wait-color")
    w.add_argument("color")
    w.add_argument("points", nargs="+", help="X,Y")
    w.add_argument("--timeout", type=float, default=20)
    args = p.parse_args()
    {"grab": cmd_grab, "answer-dialog": cmd_answer, "pixels": cmd_pixels, "selftest": cmd_selftest, "click": cmd_click, "keys": cmd_keys,
     "wait-color": cmd_wait_color, "serve": cmd_serve}[args.cmd](args)


if __name__ == "__main__":
    main()
