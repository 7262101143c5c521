// Helpers shared by the portal and the web chat. No HTML is ever built
// from strings: elements are created and filled with textContent.
'use strict';

(function () {
  // The visitor's operating system as the relay's /download/<os> names it,
  // or null when the browser does not tell.
  function detectOs() {
    const uaData = navigator.userAgentData;
    const platform = ((uaData && uaData.platform) || navigator.platform || '').toLowerCase();
    const ua = (navigator.userAgent || '').toLowerCase();
    const probe = platform + ' ' + ua;
    if (/android|iphone|ipad|ipod|cros/.test(probe)) return null;
    if (probe.includes('win')) return 'windows';
    if (probe.includes('mac')) return 'macos';
    if (probe.includes('linux') || probe.includes('x11')) return 'linux';
    return null;
  }

  // Create an element with optional class and text (textContent, never HTML).
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // `url` if it is an absolute http(s) address, else null. Guards links
  // the relay hands out (no `javascript:` or `data:` URLs).
  function safeHttpUrl(url) {
    try {
      const u = new URL(String(url), location.href);
      return (u.protocol === 'https:' || u.protocol === 'http:') ? u.href : null;
    } catch (_) {
      return null;
    }
  }

  // The download link for `os`, optionally for a session key.
  function downloadHref(os, key) {
    const path = '/download/' + encodeURIComponent(os);
    return key ? path + '?key=' + encodeURIComponent(key) : path;
  }

  // The file name a download is saved under (the chmod hint names it).
  function downloadName(os) {
    return os === 'windows' ? 'lotse.exe' : 'lotse';
  }

  // A code block showing how to make the Linux download executable.
  function chmodHint(t, fileName) {
    const box = el('div', 'hint');
    box.dataset.testid = 'linux-hint';
    box.appendChild(el('p', null, t('portal.download.linux_hint')));
    box.appendChild(el('code', 'cmd', 'chmod +x ' + (fileName || 'lotse') + ' && ./' + (fileName || 'lotse')));
    return box;
  }

  // Field limits in characters: the same numbers as `lotse_protocol::limits`
  // (crates/protocol/src/limits.rs). tests/tests/limits.rs reads this block
  // and fails if a number differs. (`maxlength` counts UTF-16 units, so a
  // field never holds more characters than the limit.)
  const LIMITS = Object.freeze({
    NAME_CHARS: 80,
    PROBLEM_CHARS: 4000,
    CHAT_CHARS: 4000,
    SURVEY_COMMENT_CHARS: 2000,
  });

  // The page's fields and their limits (by element id).
  const LIMITED_FIELDS = {
    'start-name': LIMITS.NAME_CHARS,
    'start-problem': LIMITS.PROBLEM_CHARS,
    'message': LIMITS.CHAT_CHARS,
    'survey-comment': LIMITS.SURVEY_COMMENT_CHARS,
  };

  // Make `field` (already in the page) stop at `limit` and say so: a note
  // after it counts near the limit and says when it is full.
  function limitField(field, limit, t) {
    field.maxLength = limit;
    const note = el('small', 'limit-note');
    note.id = field.id + '-limit';
    note.dataset.testid = field.id + '-limit';
    note.setAttribute('aria-live', 'polite');
    field.insertAdjacentElement('afterend', note);
    const update = () => {
      const count = field.value.length;
      note.hidden = count * 10 < limit * 9;
      note.textContent = count >= limit
        ? t('field.full', { limit })
        : t('field.count', { count, limit });
    };
    field.addEventListener('input', update);
    update();
  }

  // Every limited field of this page.
  function applyLimits(t) {
    for (const [id, limit] of Object.entries(LIMITED_FIELDS)) {
      const field = document.getElementById(id);
      if (field) limitField(field, limit, t);
    }
  }

  window.LotseCommon = { detectOs, el, safeHttpUrl, downloadHref, downloadName, chmodHint, LIMITS, applyLimits, limitField, OSES: ['windows', 'macos', 'linux'] };
})();
