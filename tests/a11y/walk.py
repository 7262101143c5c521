#!/usr/bin/python3
"""Walks a program's accessibility tree through AT-SPI (pyatspi), as a screen reader does.

  walk.py tree PID          one JSON object per line for every node of the program with that
                            process id: role, name, states, actions, attributes, depth
  walk.py do PID ROLE NAME  run the first action ("click", "press", "activate", "toggle") of
                            the first node with that role and name; exits 1 if there is none
  walk.py listen PID        print "listening", then one JSON line for every announcement the
                            program makes (what a screen reader speaks from a live region)

Run with Debian's python3 (/usr/bin/python3: python3-pyatspi) on the session bus whose
org.a11y.Bus the program registered with.
"""
import json
import sys

import pyatspi


def app_of(pid):
    for app in pyatspi.Registry.getDesktop(0):
        if app is not None and app.get_process_id() == pid:
            return app
    return None


def nodes(node, depth=0):
    yield node, depth
    for child in node:
        if child is not None:
            yield from nodes(child, depth + 1)


def describe(node, depth):
    try:
        action = node.queryAction()
        actions = [action.getName(i) for i in range(action.nActions)]
    except NotImplementedError:
        actions = []
    states = node.getState().getStates()
    return {
        "depth": depth,
        "role": node.getRoleName(),
        "name": node.name or "",
        "states": sorted(pyatspi.stateToString(s) for s in states),
        "actions": actions,
        "attributes": node.get_attributes() or {},
    }


def main():
    cmd, pid = sys.argv[1], int(sys.argv[2])
    app = app_of(pid)
    if app is None:
        sys.exit("walk.py: no accessible application with pid %d" % pid)
    if cmd == "tree":
        for node, depth in nodes(app):
            print(json.dumps(describe(node, depth)))
        return
    if cmd == "do":
        role, name = sys.argv[3], sys.argv[4]
        for node, _ in nodes(app):
            if node.getRoleName() == role and node.name == name:
                action = node.queryAction()
                if action.nActions == 0:
                    sys.exit("walk.py: %s %r has no action" % (role, name))
                action.doAction(0)
                return
        sys.exit("walk.py: no %s named %r" % (role, name))
    if cmd == "listen":
        def announced(event):
            try:
                if event.host_application.get_process_id() != pid:
                    return
            except Exception:  # the sender went away
                return
            print(json.dumps({"text": str(event.any_data), "role": event.source.getRoleName()}),
                  flush=True)
        pyatspi.Registry.registerEventListener(announced, "object:announcement")
        print("listening", flush=True)
        pyatspi.Registry.start()
        return
    sys.exit("walk.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
