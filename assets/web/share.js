// Screen sharing from the browser: the browser's own picker chooses a
// screen, window or tab; frames go to the technician as JPEG images in
// binary WebSocket frames (protocol kind 3, ImageFrame), paced: at most
// one frame in flight until the technician's frame_ack, and at most
// MAX_FPS frames a second.
'use strict';

(function () {
  const HEADER_LEN = 24;
  const KIND_IMAGE_FRAME = 3;
  const FLAG_LAST = 1;
  const MAX_BINARY_BYTES = 2 * 1024 * 1024;
  const MAX_FPS = 5;
  const MAX_WIDTH = 1920;
  const MAX_HEIGHT = 1200;
  // An ack that has not come after this long is taken as lost (acks are
  // not resent after a reconnect), so sharing never stalls for good.
  const ACK_TIMEOUT_MS = 4000;

  // The 24-byte header of crates/protocol/src/binary.rs, then the payload.
  function imageFrame(streamId, frame, jpeg) {
    const buf = new Uint8Array(HEADER_LEN + jpeg.byteLength);
    const view = new DataView(buf.buffer);
    view.setUint8(0, KIND_IMAGE_FRAME);
    view.setUint8(1, FLAG_LAST);
    view.setUint16(2, 0);
    view.setUint32(4, streamId);
    view.setBigUint64(8, 0n); // session: 0 on customer links
    view.setBigUint64(16, BigInt(frame));
    buf.set(new Uint8Array(jpeg), HEADER_LEN);
    return buf.buffer;
  }

  function fit(w, h) {
    const scale = Math.min(1, MAX_WIDTH / w, MAX_HEIGHT / h);
    return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
  }

  function waitForSize(video) {
    if (video.videoWidth > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (video.videoWidth > 0) resolve(); };
      video.addEventListener('loadedmetadata', done);
      video.addEventListener('resize', done);
    });
  }

  // io: { sendBinary(buf) → bool, ready() → bool, onEnded() } — ready()
  // says whether the link can take a frame now.
  function createSharer(io) {
    let stream = null;
    let video = null;
    let canvas = null;
    let ctx = null;
    let size = null;
    let active = false;
    let frame = 0;
    let inFlight = null;
    let lastSentAt = 0;
    let timer = null;
    let quality = 0.7;
    // Stream 0 is the primary stream; frame numbers keep growing across
    // shares so a late ack of an old share cannot match a new frame.
    const streamId = 0;

    async function start() {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: MAX_FPS, max: 15 } },
        audio: false,
      });
      const track = stream.getVideoTracks()[0];
      track.addEventListener('ended', () => stop(true));
      video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      video.srcObject = stream;
      await video.play();
      await waitForSize(video);
      size = fit(video.videoWidth, video.videoHeight);
      canvas = document.createElement('canvas');
      canvas.width = size.width;
      canvas.height = size.height;
      ctx = canvas.getContext('2d', { alpha: false });
      active = true;
      inFlight = null;
      lastSentAt = 0;
      schedule(0);
      return { width: size.width, height: size.height };
    }

    function schedule(ms) {
      clearTimeout(timer);
      timer = setTimeout(tick, ms);
    }

    async function tick() {
      if (!active) return;
      const now = performance.now();
      if (inFlight && now - inFlight.at > ACK_TIMEOUT_MS) inFlight = null;
      const due = lastSentAt + 1000 / MAX_FPS - now;
      if (inFlight || !io.ready() || due > 0) {
        schedule(Math.max(20, Math.min(due, 100)));
        return;
      }
      // Follow a source that changed size (a resized window).
      const want = fit(video.videoWidth || size.width, video.videoHeight || size.height);
      if (want.width !== size.width || want.height !== size.height) {
        size = want;
        canvas.width = size.width;
        canvas.height = size.height;
      }
      ctx.drawImage(video, 0, 0, size.width, size.height);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
      if (!active) return;
      if (!blob) {
        schedule(200);
        return;
      }
      if (blob.size + HEADER_LEN > MAX_BINARY_BYTES) {
        quality = Math.max(0.2, quality - 0.15);
        schedule(0);
        return;
      }
      const jpeg = await blob.arrayBuffer();
      if (!active) return;
      frame += 1;
      if (io.sendBinary(imageFrame(streamId, frame, jpeg))) {
        inFlight = { frame, at: performance.now() };
        lastSentAt = inFlight.at;
      } else {
        frame -= 1;
      }
      schedule(Math.ceil(1000 / MAX_FPS));
    }

    // The technician applied frame `n` (and everything before it).
    function ack(n) {
      if (inFlight && n >= inFlight.frame) {
        inFlight = null;
        if (active) schedule(0);
      }
    }

    // The link was cut: the frame in flight will never be acknowledged.
    function linkReset() {
      inFlight = null;
    }

    // Stop capturing. `tellPeer`: the customer ended it (Stop sharing, or
    // the browser's own stop), so the technician is told through onEnded.
    function stop(tellPeer) {
      if (!active && !stream) return;
      active = false;
      clearTimeout(timer);
      if (stream) for (const tr of stream.getTracks()) tr.stop();
      stream = null;
      if (video) video.srcObject = null;
      video = null;
      if (tellPeer) io.onEnded();
    }

    return {
      start,
      ack,
      linkReset,
      stop,
      get active() { return active; },
      get framesSent() { return frame; },
    };
  }

  window.LotseShare = { createSharer, imageFrame };
})();
