// The signature sandbox's signing page: the document first, then Sign or Decline.
'use strict';
(function () {
  const { t, when, show, documentBlock, call } = window.DocG;
  const $ = (id) => document.getElementById(id);
  const [envelopeId, token] = location.pathname.split('/').slice(-2);
  const api = `/api/v1/sandbox/envelopes/${encodeURIComponent(envelopeId)}/signers/${encodeURIComponent(token)}`;
  const page = $('page');
  const STATES = { signed: 'state_signed', declined: 'state_declined', waiting: 'state_waiting',
                   withdrawn: 'state_withdrawn', closed: 'state_closed' };

  function render(view) {
    page.dataset.state = view.state;
    $('ask').textContent = t('ask', { signer: view.signer.name, name: view.envelope.name });
    const open = view.state === 'open';
    show('expires', open && view.envelope.expires_at ? t('expires', { when: when(view.envelope.expires_at) }) : '')
      .dataset.iso = view.envelope.expires_at || '';
    show('notice', STATES[view.state] ? t(STATES[view.state]) : '');
    const docs = $('documents');
    docs.replaceChildren();
    if (view.document && view.state !== 'withdrawn') docs.appendChild(documentBlock(view.document));
    $('documents-section').hidden = !docs.children.length;
    $('actions').hidden = !open;
  }

  // Each load is numbered: an older answer that arrives after a newer one (the first load racing the
  // reload after a click) is dropped, so the page never goes back to a state it has left.
  let loads = 0;

  async function load() {
    const mine = ++loads;
    let answer;
    try { answer = await call(api); } catch (e) { answer = { status: 0 }; }
    if (mine !== loads) return;
    if (answer.ok) return render(answer.body);
    page.dataset.state = answer.status === 404 ? 'not_found' : 'error';
    $('ask').textContent = '';
    show('notice', answer.status === 404 ? t('not_found') : t('failed'));
  }

  async function act(action) {
    document.querySelectorAll('#actions button').forEach((b) => { b.disabled = true; });
    let answer;
    try {
      answer = await call(api, { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                 body: JSON.stringify({ action }) });
    } catch (e) { answer = { status: 0 }; }
    if (!answer.ok && answer.status !== 409 && answer.status !== 410) {
      document.querySelectorAll('#actions button').forEach((b) => { b.disabled = false; });
      show('state', t('failed'));
      return;
    }
    await load();
  }

  $('sign').addEventListener('click', () => act('signed'));
  $('decline').addEventListener('click', () => act('declined'));
  load();
})();
