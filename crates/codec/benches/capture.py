#!/usr/bin/python3
"""Capture real terminal frames for the codec benchmark.

Starts its own Xvfb (free display), a full-screen xterm like
shared/bench/env.sh (DejaVu Sans Mono 9, white background), and records
frames exactly as the X server holds them (BGRX, what scrap delivers):

  type-WxH     typing into `cat`: one frame per key (rfbmeter.py's text, Enter
               every 60th key)
  scroll-WxH   scroller.py's log lines: one frame per printed line, the whole
               terminal scrolls

Each sequence is written as `<name>.frames.zst`: zstd (long window) of
  b"LOTSEFX2", u32le width, u32le height, u32le count, then per frame
  u32le y0, u32le y1 and rows y0..y1 (w*4 bytes each, BGRX); the other rows
  are those of the frame before (the first frame has all rows).

usage: /usr/bin/python3 capture.py OUTDIR
       (needs Xvfb, xterm, xdotool, Debian python3-xlib, zstd)
"""
import os
import struct
import subprocess
import sys
import tempfile
import time

from Xlib import X, display

TEXT = "the quick brown fox jumps over the lazy dog 0123456789 "
WORDS = ("alpha beta gamma delta epsilon connection relay session frame encoder "
         "websocket latency bytes INFO WARN DEBUG tls handshake").split()

STEPPER = r'''
import os, random, sys
r = random.Random(42)
words = %r
i = 0
def line():
    global i
    i += 1
    return "%%08d %%s" %% (i, " ".join(r.choice(words) for _ in range(r.randint(6, 22))))
for _ in range(%d):
    sys.stdout.write(line() + "\n")
sys.stdout.flush()
with open(%r) as f:
    for cmd in f:
        for _ in range(int(cmd)):
            sys.stdout.write(line() + "\n")
        sys.stdout.flush()
'''


def start_x(w, h):
    r, wfd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-noreset", "-nolisten", "tcp",
                             "-screen", "0", "%dx%dx24" % (w, h)], pass_fds=(wfd,),
                            stderr=subprocess.DEVNULL)
    os.close(wfd)
    num = b""
    while not num.endswith(b"\n"):
        c = os.read(r, 1)
        if not c:
            raise SystemExit("Xvfb did not start")
        num += c
    os.close(r)
    disp = ":" + num.decode().strip()
    subprocess.run(["xsetroot", "-solid", "#305070"], env=dict(os.environ, DISPLAY=disp), check=True)
    return xvfb, disp


def grab(d, w, h):
    img = d.screen().root.get_image(0, 0, w, h, X.ZPixmap, 0xFFFFFFFF)
    data = img.data
    assert len(data) == w * h * 4, (len(data), w, h)
    return bytes(data)


def settle(d, w, h, prev, timeout=3.0):
    """Wait until the screen differs from prev and then stays the same."""
    end = time.monotonic() + timeout
    cur = grab(d, w, h)
    while cur == prev and time.monotonic() < end:
        cur = grab(d, w, h)
    while time.monotonic() < end:
        again = grab(d, w, h)
        if again == cur:
            return cur
        cur = again
    return cur


def xterm(disp, w, h, cmd):
    cols, rows = (w - 2) // 8 - 0, (h - 2) // 15
    if (w, h) == (1280, 800):
        cols, rows = 159, 53  # exactly env.sh
    env = dict(os.environ, DISPLAY=disp)
    p = subprocess.Popen(["xterm", "-geometry", "%dx%d+0+0" % (cols, rows), "-fa", "DejaVu Sans Mono",
                          "-fs", "9", "-bg", "white", "-fg", "black", "-e"] + cmd, env=env,
                         stderr=subprocess.DEVNULL)
    for _ in range(100):
        out = subprocess.run(["xdotool", "search", "--pid", str(p.pid)], env=env,
                             capture_output=True, text=True).stdout.split()
        if out:
            subprocess.run(["xdotool", "windowfocus", out[0]], env=env, stderr=subprocess.DEVNULL)
            return p
        time.sleep(0.05)
    raise SystemExit("xterm window did not appear")


def write(out_dir, name, w, h, frames):
    raw = os.path.join(out_dir, name + ".frames")
    with open(raw, "wb") as f:
        f.write(b"LOTSEFX2" + struct.pack("<III", w, h, len(frames)))
        prev = None
        row = w * 4
        for fr in frames:
            y0, y1 = 0, h
            if prev is not None:
                while y0 < h and fr[y0 * row:(y0 + 1) * row] == prev[y0 * row:(y0 + 1) * row]:
                    y0 += 1
                while y1 > y0 and fr[(y1 - 1) * row:y1 * row] == prev[(y1 - 1) * row:y1 * row]:
                    y1 -= 1
            f.write(struct.pack("<II", y0, y1))
            f.write(fr[y0 * row:y1 * row])
            prev = fr
    subprocess.run(["zstd", "-q", "-f", "-12", "--long=27", "--rm", raw, "-o", raw + ".zst"], check=True)
    print("%s: %d frames, %d bytes" % (name, len(frames), os.path.getsize(raw + ".zst")))


def capture(out_dir, w, h, keys, steps):
    xvfb, disp = start_x(w, h)
    try:
        d = display.Display(disp)
        env = dict(os.environ, DISPLAY=disp)
        # Typing into cat.
        background = grab(d, w, h)
        term = xterm(disp, w, h, ["cat"])
        frames = [settle(d, w, h, background)]
        for k in range(keys):
            ch = TEXT[k % len(TEXT)]
            key = "Return" if (k + 1) % 60 == 0 else ("space" if ch == " " else ch)
            subprocess.run(["xdotool", "key", key], env=env, check=True)
            frames.append(settle(d, w, h, frames[-1]))
        term.kill()
        term.wait()
        write(out_dir, "type-%dx%d" % (w, h), w, h, frames)
        # Scrolling log lines.
        with tempfile.TemporaryDirectory() as tmp:
            fifo = os.path.join(tmp, "step")
            os.mkfifo(fifo)
            script = os.path.join(tmp, "stepper.py")
            with open(script, "w") as f:
                f.write(STEPPER % (WORDS, h // 15 + 5, fifo))
            term = xterm(disp, w, h, ["python3", script])
            first = settle(d, w, h, background)
            with open(fifo, "w") as ctl:
                # Warm-up line: the first settled screen can be the blank
                # window before the pre-filled lines are drawn.
                ctl.write("1\n")
                ctl.flush()
                frames = [settle(d, w, h, first)]
                for _ in range(steps):
                    ctl.write("1\n")
                    ctl.flush()
                    frames.append(settle(d, w, h, frames[-1]))
            term.kill()
            term.wait()
        write(out_dir, "scroll-%dx%d" % (w, h), w, h, frames)
    finally:
        xvfb.kill()
        xvfb.wait()


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    capture(out_dir, 1280, 800, keys=100, steps=60)
    capture(out_dir, 1920, 1080, keys=30, steps=30)


if __name__ == "__main__":
    main()
