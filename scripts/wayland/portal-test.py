#!/usr/bin/env python3
"""Ask xdg-desktop-portal for a ScreenCast, or a RemoteDesktop + ScreenCast, session as any
application would (for tests and debugging; run it inside a session: wayland.sh exec NAME --).

  portal-test.py screencast|remote-desktop [--persist 0|1|2] [--restore-token T] [--twice]
                 [--cursor-mode N] [--timeout S] [--hold S]

Prints one JSON line per Start: {"kind", "response" (0 granted, 1 cancelled, 2 other),
"restore_token", "streams", "devices", "seconds"}. --twice: after a granted Start, closes the
session and starts a new one with the restore token it got (no dialog expected). --hold S keeps
the (last) session open S seconds before closing it. Exit code: the last response, 3 on a
timeout or a D-Bus error.
"""
import argparse
import json
import sys
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

BUS = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
SOURCE_MONITOR = 1
DEVICE_KEYBOARD, DEVICE_POINTER = 1, 2

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
portal = bus.get_object(BUS, PATH)
sender = bus.get_unique_name()[1:].replace(".", "_")
counter = [0]


class Timeout(Exception):
    pass


def request(method, *args, timeout):
    """Call a portal method that answers through a Request object; return (response, results)."""
    counter[0] += 1
    token = "lotse%d_%d" % (int(time.time() * 1000) % 100000, counter[0])
    handle = "%s/request/%s/%s" % (PATH, sender, token)
    options = args[-1]
    options["handle_token"] = token
    loop = GLib.MainLoop()
    answer = {}

    def on_response(response, results):
        answer["r"] = (int(response), results)
        loop.quit()

    match = bus.add_signal_receiver(on_response, "Response", "org.freedesktop.portal.Request",
                                    BUS, handle)
    try:
        got = method(*args)
        if got != handle:
            sys.exit("unexpected request handle %s" % got)
        timer = GLib.timeout_add(int(timeout * 1000), loop.quit)
        loop.run()
        GLib.source_remove(timer) if "r" in answer else None
    finally:
        match.remove()
    if "r" not in answer:
        raise Timeout("no Response to %s within %s s" % (method._method_name, timeout))
    return answer["r"]


def plain(v):
    if isinstance(v, (dbus.Array, list)):
        return [plain(x) for x in v]
    if isinstance(v, (dbus.Struct, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dbus.Dictionary):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (dbus.String, dbus.ObjectPath)):
        return str(v)
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, (dbus.Int32, dbus.UInt32, dbus.Int64, dbus.UInt64, dbus.Byte, dbus.Int16, dbus.UInt16)):
        return int(v)
    if isinstance(v, dbus.Double):
        return float(v)
    return v


def one_session(args, restore_token):
    started = time.monotonic()
    sc = dbus.Interface(portal, "org.freedesktop.portal.ScreenCast")
    rd = dbus.Interface(portal, "org.freedesktop.portal.RemoteDesktop")
    create = rd.CreateSession if args.kind == "remote-desktop" else sc.CreateSession
    response, results = request(create, dbus.Dictionary({"session_handle_token": "lotse%d" % counter[0]},
                                                         signature="sv"), timeout=args.timeout)
    if response != 0:
        return {"kind": args.kind, "response": response, "step": "CreateSession"}, None
    session = results["session_handle"]
    if args.kind == "remote-desktop":
        opts = {"types": dbus.UInt32(DEVICE_KEYBOARD | DEVICE_POINTER),
                "persist_mode": dbus.UInt32(args.persist)}
        if restore_token:
            opts["restore_token"] = restore_token
        response, _ = request(rd.SelectDevices, session, dbus.Dictionary(opts, signature="sv"),
                              timeout=args.timeout)
        if response != 0:
            return {"kind": args.kind, "response": response, "step": "SelectDevices"}, session
    opts = {"types": dbus.UInt32(SOURCE_MONITOR), "multiple": False,
            "cursor_mode": dbus.UInt32(args.cursor_mode)}
    if args.kind == "screencast":
        opts["persist_mode"] = dbus.UInt32(args.persist)
        if restore_token:
            opts["restore_token"] = restore_token
    response, _ = request(sc.SelectSources, session, dbus.Dictionary(opts, signature="sv"),
                          timeout=args.timeout)
    if response != 0:
        return {"kind": args.kind, "response": response, "step": "SelectSources"}, session
    start = rd.Start if args.kind == "remote-desktop" else sc.Start
    response, results = request(start, session, "", dbus.Dictionary({}, signature="sv"),
                                timeout=args.timeout)
    out = {"kind": args.kind, "response": response, "step": "Start",
           "restore_token": str(results.get("restore_token", "")) or None,
           "streams": plain(results.get("streams", [])),
           "devices": int(results.get("devices", 0)),
           "seconds": round(time.monotonic() - started, 3)}
    return out, session


def close(session):
    if session is not None:
        try:
            dbus.Interface(bus.get_object(BUS, session), "org.freedesktop.portal.Session").Close()
        except dbus.DBusException:
            pass  # a cancelled or failed session is already gone


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["screencast", "remote-desktop"])
    p.add_argument("--persist", type=int, default=1)
    p.add_argument("--restore-token")
    p.add_argument("--twice", action="store_true")
    p.add_argument("--cursor-mode", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--hold", type=float, default=0)
    args = p.parse_args()
    token = args.restore_token
    rounds = 2 if args.twice else 1
    out = {"response": 3}
    try:
        for i in range(rounds):
            out, session = one_session(args, token)
            print(json.dumps(out), flush=True)
            if i + 1 == rounds or out["response"] != 0:
                if args.hold > 0 and out["response"] == 0:
                    loop = GLib.MainLoop()
                    GLib.timeout_add(int(args.hold * 1000), loop.quit)
                    loop.run()
                close(session)
                break
            close(session)
            token = out.get("restore_token")
            if not token:
                print(json.dumps({"error": "no restore token"}), flush=True)
                return 3
    except (Timeout, dbus.DBusException) as e:
        print(json.dumps({"error": str(e)}), flush=True)
        return 3
    return out["response"]


if __name__ == "__main__":
    sys.exit(main())
