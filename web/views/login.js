// views/login.js - asks for a reader (or admin) token.
//
// The token is checked against the collector (GET /api/v1/overview) before
// it is kept, then stored in sessionStorage: it stays in this browser tab
// only and is gone when the tab closes. Nothing else is shown until then.
import { checkToken, setToken } from '../api.js';
import { h, setChildren } from '../dom.js';

export function render({ root, message, onSignedIn }) {
  const input = h('input#token', {
    type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'reader or admin token', 'aria-describedby': 'login-help',
  });
  const status = h('p.login-status', { role: 'alert', 'aria-live': 'assertive' }, message || '');
  if (message) status.classList.add('shown');
  const button = h('button.btn.btn-primary', { type: 'submit' }, 'Sign in');
  const form = h('form.login-form', { autocomplete: 'off', novalidate: true },
    h('label', { for: 'token' }, 'Access token'), input, button, status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    status.classList.add('shown');
    if (!token) {
      status.textContent = 'Enter a token first.';
      input.focus();
      return;
    }
    button.disabled = true;
    status.textContent = 'Checking the token with the collector…';
    try {
      await checkToken(token);
      setToken(token);
      input.value = '';
      onSignedIn();
    } catch (e) {
      status.textContent = e.status === 401
        ? 'The collector does not know this token (401). Check for a typo, or create one with: rasfleet-collector token add --role reader'
        : e.message;
      button.disabled = false;
      input.select();
    }
  });
  setChildren(root, h('div.login',
    h('div.login-card',
      h('h1', 'Sign in to rasfleet'),
      h('p', 'The dashboard shows Always On VPN telemetry of your fleet. It needs a reader or admin token of this collector.'),
      form,
      h('div#login-help.login-help',
        h('p', 'Create a read-only token on the collector host:'),
        h('pre', h('code', 'rasfleet-collector --db /var/lib/rasfleet/rasfleet.db token add --role reader --name dashboard')),
        h('p', 'The token is kept in this browser tab only (sessionStorage) and sent as “Authorization: Bearer”. Closing the tab or “Sign out” forgets it.')))));
  root.dataset.state = 'ready';
  input.focus();
}
