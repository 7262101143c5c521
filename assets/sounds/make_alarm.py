#!/usr/bin/env python3
"""Writes alarm.wav: Lotse's nudge alarm, our own sound.

0.4 s, two tones (880 Hz then 660 Hz, 0.2 s each, each faded in and out
over 8 ms so there is no click), 16-bit mono PCM at 22050 Hz (~17 KB).
Run from this folder: python3 make_alarm.py
"""
import math
import struct
import wave

RATE = 22050
TONES = [(880.0, 0.2), (660.0, 0.2)]
FADE = 0.008
AMPLITUDE = 0.5

frames = bytearray()
for freq, secs in TONES:
    n = int(RATE * secs)
    fade = int(RATE * FADE)
    for i in range(n):
        env = min(1.0, i / fade, (n - 1 - i) / fade)
        # A little third harmonic makes it cut through like a buzzer.
        s = math.sin(2 * math.pi * freq * i / RATE) + 0.25 * math.sin(6 * math.pi * freq * i / RATE)
        v = int(max(-1.0, min(1.0, AMPLITUDE * env * s / 1.25)) * 32767)
        frames += struct.pack("<h", v)

with wave.open("alarm.wav", "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(RATE)
    w.writeframes(bytes(frames))
