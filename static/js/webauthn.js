// Security keys and passkeys (allauth's webauthn-json helper is loaded before this file).
// A file, not inline script: the Content-Security-Policy allows no 'unsafe-inline'.
(function () {
  const add = document.getElementById('webauthn-add');
  if (add) {
    add.addEventListener('click', async () => {
      const options = JSON.parse(document.getElementById('webauthn-options').textContent);
      const credential = await window.webauthnJSON.create(options.creation_options);
      document.getElementById('id_credential').value = JSON.stringify(credential);
      document.getElementById('webauthn-form').submit();
    });
  }
  const use = document.getElementById('key-button');
  if (use) {
    use.addEventListener('click', async () => {
      const form = document.getElementById('key-form');
      const response = await fetch(form.action, {headers: {Accept: 'application/json'}});
      const data = await response.json();
      const credential = await window.webauthnJSON.get(data.request_options);
      document.getElementById('key-credential').value = JSON.stringify(credential);
      form.submit();
    });
  }
})();
