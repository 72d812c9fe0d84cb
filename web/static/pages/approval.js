// The approval page: what is asked, by whom, the facts and documents, the decisions so far.
'use strict';
(function () {
  const { t, when, show, element, documentBlock, call } = window.DocG;
  const $ = (id) => document.getElementById(id);
  const token = location.pathname.split('/').pop();
  const api = `/api/v1/approvals/${encodeURIComponent(token)}`;
  const page = $('page');

  function what(view) {
    return view.subject ? `${view.workflow.name} — ${view.subject}` : view.workflow.name;
  }

  function decisionText(person) {
    if (person.status === 'approved' || person.status === 'rejected') {
      return t(`status_${person.status}`, { when: when(person.decided_at) });
    }
    return t(`status_${person.status}`) || person.status;
  }

  function notice(view) {
    switch (view.state) {
      case 'approved':
      case 'rejected':
        return t(`used_${view.state}`, { who: view.decided_by || view.approver, when: when(view.decided_at) });
      case 'expired': return t('state_expired', { when: when(view.expires_at) });
      case 'withdrawn': return t('state_withdrawn', { when: when(view.decided_at) });
      case 'closed': return t('state_closed', { when: when(view.settled_at || view.decided_at) });
      default: return '';
    }
  }

  function render(view) {
    page.dataset.state = view.state;
    const live = view.state === 'pending';
    $('ask').textContent = live ? t('ask', { approver: view.approver, what: what(view) })
                                : t('about', { what: what(view) });
    show('requested', t('requested', { who: view.requested_by, when: when(view.requested_at) }))
      .dataset.iso = view.requested_at || '';
    show('expires', live && view.expires_at ? t('expires', { when: when(view.expires_at) }) : '')
      .dataset.iso = view.expires_at || '';
    show('notice', notice(view));

    const facts = $('facts');
    facts.replaceChildren();
    for (const fact of view.summary || []) {
      facts.appendChild(element('dt', fact.label));
      facts.appendChild(element('dd', fact.value));
    }
    $('facts-section').hidden = !(view.summary || []).length;

    const people = $('approvers');
    people.replaceChildren();
    for (const person of view.approvers || []) {
      const item = element('li', '', { 'data-status': person.status, 'data-email': person.email });
      item.appendChild(element('span', person.you ? `${person.email} (${t('you')})` : person.email,
                               { class: 'who' }));
      item.appendChild(document.createTextNode(' — '));
      item.appendChild(element('span', decisionText(person), { class: 'decision' }));
      if (person.comment) item.appendChild(element('q', person.comment, { class: 'comment' }));
      people.appendChild(item);
    }
    $('strategy').textContent = t(`strategy_${view.strategy}`, { n: view.quorum || '' });
    $('approvers-section').hidden = (view.approvers || []).length < 2 && live;

    const docs = $('documents');
    docs.replaceChildren();
    if (live) {
      if (!(view.documents || []).length) docs.appendChild(element('p', t('no_documents'), { class: 'muted' }));
      for (const doc of view.documents || []) docs.appendChild(documentBlock(doc));
    }
    $('documents-section').hidden = !live;
    $('decide').hidden = !live;
  }

  // Numbered like the signing page's loads: an older answer arriving after a newer one is dropped.
  let loads = 0;

  async function load() {
    const mine = ++loads;
    let answer;
    try { answer = await call(api); } catch (e) { answer = { status: 0 }; }
    if (mine !== loads) return;
    if (answer.ok) return render(answer.body);
    const details = answer.body && answer.body.error && answer.body.error.details;
    if (answer.status === 410 && details) return render(details);
    page.dataset.state = answer.status === 404 ? 'not_found' : 'error';
    $('ask').textContent = '';
    show('notice', answer.status === 404 ? t('not_found') : t('failed'));
  }

  async function decide(decision) {
    document.querySelectorAll('#decide button').forEach((b) => { b.disabled = true; });
    let answer;
    try {
      answer = await call(`${api}/decision`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ decision, comment: $('comment').value }) });
    } catch (e) { answer = { status: 0 }; }
    if (answer.ok) {
      $('decide').hidden = true;
      $('expires').hidden = true;
      page.dataset.state = decision;
      show('result', t(`done_${decision}`));
      return;
    }
    const details = answer.body && answer.body.error && answer.body.error.details;
    if (details) return render(details);
    document.querySelectorAll('#decide button').forEach((b) => { b.disabled = false; });
    show('result', t('failed'));
  }

  $('approve').addEventListener('click', () => decide('approved'));
  $('reject').addEventListener('click', () => decide('rejected'));
  load();
})();
