// Shared by the approval and signing pages: texts, dates in the reader's time zone, documents.
'use strict';
window.DocG = (function () {
  const texts = JSON.parse(document.body.dataset.texts || '{}');
  const locale = document.documentElement.lang || 'en';
  const DAY = 86400000;

  function t(key, params) {
    let text = texts[key] || key;
    for (const [name, value] of Object.entries(params || {})) text = text.split(`{${name}}`).join(value ?? '');
    return text;
  }

  // "tomorrow at 14:30", "today at 09:05", "on 3 December 2026 at 14:30", in the reader's zone.
  function when(iso) {
    if (!iso) return '';
    const moment = new Date(iso);
    const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const days = Math.round((midnight(moment) - midnight(new Date())) / DAY);
    const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' }).format(moment);
    if (Math.abs(days) <= 1) {
      const day = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(days, 'day');
      return `${day} ${t('at')} ${time}`;
    }
    const date = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'long', year: 'numeric' }).format(moment);
    return `${t('on')} ${date} ${t('at')} ${time}`;
  }

  function show(id, text) {
    const node = document.getElementById(id);
    node.textContent = text;
    node.hidden = !text;
    return node;
  }

  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  // One document: its pages as images when it is a PDF, and always a download link.
  function documentBlock(doc) {
    const block = element('div', '', { class: 'document', 'data-document-id': doc.id });
    block.appendChild(element('h3', doc.name));
    if (doc.preview) {
      const pages = element('div', '', { class: 'pages' });
      doc.preview.pages.forEach((url, i) => {
        pages.appendChild(element('img', '', { src: url, loading: i ? 'lazy' : 'eager',
                                               alt: t('page_alt', { n: i + 1, name: doc.name }) }));
      });
      block.appendChild(pages);
      if (doc.preview.total_pages > doc.preview.pages.length) {
        block.appendChild(element('p', t('more_pages', { n: doc.preview.pages.length }), { class: 'muted' }));
      }
    }
    block.appendChild(element('a', t('download', { name: doc.name }),
                              { class: 'download', href: doc.download_url, download: doc.name }));
    return block;
  }

  async function call(url, options) {
    const response = await fetch(url, options);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return { status: response.status, ok: response.ok, body };
  }

  document.querySelectorAll('[data-text]').forEach((node) => { node.textContent = t(node.dataset.text); });
  const comment = document.getElementById('comment');
  if (comment) comment.placeholder = t('comment');
  return { t, when, show, element, documentBlock, call, locale };
})();
