// The public portal: site name, session key, and either the Click-to-Chat
// start form or the support app download for the visitor's system.
'use strict';

(function () {
  const I = window.LotseI18n;
  const C = window.LotseCommon;
  const t = (k, v) => I.t(k, v);
  const $ = (id) => document.getElementById(id);

  // What the relay tells about the site; a failed request means the
  // conservative default (no chat, offer the download).
  async function loadSite() {
    try {
      const res = await fetch('/api/site', { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) throw new Error('status ' + res.status);
      const j = await res.json();
      return {
        name: typeof j.name === 'string' ? j.name : '',
        clickToChat: j.click_to_chat === true,
        lang: typeof j.lang === 'string' ? j.lang : null,
      };
    } catch (_) {
      return { name: '', clickToChat: false, lang: null };
    }
  }

  // Download links into `box`: the visitor's system first, then the others,
  // then the Linux chmod hint. `key`: a session key to stamp in.
  function renderDownloads(box, key) {
    box.replaceChildren();
    const os = C.detectOs();
    if (os) {
      const a = C.el('a', 'button primary', t('portal.download.primary', { os: t('os.' + os) }));
      a.href = C.downloadHref(os, key);
      a.download = C.downloadName(os);
      a.dataset.testid = 'download-primary';
      a.dataset.os = os;
      box.appendChild(a);
    }
    box.appendChild(C.el('p', 'muted', t(os ? 'portal.download.others' : 'portal.download.unknown_os')));
    const list = C.el('ul', 'os-list');
    for (const other of C.OSES) {
      if (other === os) continue;
      const li = C.el('li');
      const a = C.el('a', null, t('os.' + other));
      a.href = C.downloadHref(other, key);
      a.download = C.downloadName(other);
      a.dataset.testid = 'download-' + other;
      li.appendChild(a);
      list.appendChild(li);
    }
    box.appendChild(list);
    box.appendChild(C.chmodHint(t));
  }

  function showError(id, text) {
    const p = $(id);
    p.textContent = text;
    p.hidden = !text;
  }

  function goToChat(start) {
    sessionStorage.removeItem('lotse.chat');
    sessionStorage.setItem('lotse.start', JSON.stringify(start));
    location.href = '/web/chat.html';
  }

  async function main() {
    I.apply(document);
    const site = await loadSite();
    I.useSiteLang(site.lang);
    I.apply(document);
    window.LotseCommon.applyLimits(t);
    if (site.name) {
      $('site-name').textContent = site.name;
      document.title = site.name;
    }
    $('loading').hidden = true;
    $('key').hidden = false;
    if (site.clickToChat) {
      $('start').hidden = false;
      $('start-name').focus();
    } else {
      $('download').hidden = false;
      renderDownloads($('download-links'), null);
    }

    $('start-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = $('start-name').value.trim();
      const problem = $('start-problem').value.trim();
      if (!name) {
        showError('start-error', t('portal.start.name_missing'));
        $('start-name').focus();
        return;
      }
      goToChat({ name, problem });
    });

    // A session key belongs to one technician's session, which the support
    // app joins: the key always leads to the download, stamped with it.
    $('key-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const key = $('key-input').value.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(key)) {
        showError('key-error', t('portal.key.invalid'));
        $('key-links').hidden = true;
        return;
      }
      showError('key-error', '');
      $('key-links').hidden = false;
      renderDownloads($('key-links'), key);
    });
  }

  main();
})();
