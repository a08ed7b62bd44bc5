package demoapp

// portalScript drives the portal buttons. Open POSTs the standalone view
// call and inserts the returned form; Submit and Validate read the entry
// ID from the inserted hidden input. Each section's status element gets
// data-state "opening", "opened", "submitted", "valid", "invalid" or
// "error", which browser tests can wait for. The script uses plain DOM
// and fetch only.
const portalScript = `
(function () {
  'use strict';
  var portal = document.getElementById('portal');
  var user = portal.dataset.user;
  var portalSession = portal.dataset.portalSession;
  var helpTail = '@@@validation@@@ajaxSubmission@@@null@@@en';

  function xmlText(s) {
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  function setStatus(uuid, state, text) {
    var el = document.getElementById('status-' + uuid);
    el.dataset.state = state;
    el.textContent = text || state;
  }

  function entryID(uuid) {
    var input = document.querySelector('#form-' + uuid + ' input[name="webappIdentifier"]');
    return input ? input.value : '';
  }

  function checked(resp) {
    if (!resp.ok) {
      throw new Error('HTTP ' + resp.status);
    }
    return resp.text();
  }

  function fail(uuid) {
    return function (err) { setStatus(uuid, 'error', 'error: ' + err.message); };
  }

  function openForm(uuid) {
    setStatus(uuid, 'opening');
    var body = '<webapp><ISSessionId>' + xmlText(portalSession) + '</ISSessionId>' +
      '<ISUserName>' + xmlText(user) + '@@@intern</ISUserName></webapp>';
    fetch('/ibis/rest/webapp/standalone/view/' + uuid, {
      method: 'POST',
      headers: {'Content-Type': 'application/xml'},
      body: body
    }).then(checked).then(function (html) {
      document.getElementById('form-' + uuid).innerHTML = html;
      document.getElementById('entry-' + uuid).textContent = entryID(uuid);
      document.getElementById('submit-' + uuid).disabled = false;
      document.getElementById('validate-' + uuid).disabled = false;
      setStatus(uuid, 'opened');
    }).catch(fail(uuid));
  }

  function submitForm(uuid) {
    fetch('/ibis/rest/webapp/standalone/submit/' + uuid, {
      method: 'POST',
      headers: {'Content-Type': 'application/xml', 'webappIdentifier': entryID(uuid)},
      body: '<data><comment>demo</comment></data>'
    }).then(checked).then(function () {
      setStatus(uuid, 'submitted');
    }).catch(fail(uuid));
  }

  function validateForm(uuid) {
    var url = '/ibis/rest/task/help?ajaxType=validation&ajaxMode=Submission' +
      '&workflowName=@@@ISAjaxCall@@@&params=' + encodeURIComponent(entryID(uuid) + helpTail);
    fetch(url, {method: 'POST'}).then(checked).then(function (xml) {
      setStatus(uuid, xml.indexOf('<valid>true</valid>') >= 0 ? 'valid' : 'invalid');
    }).catch(fail(uuid));
  }

  var actions = {open: openForm, submit: submitForm, validate: validateForm};
  document.querySelectorAll('button[data-action]').forEach(function (b) {
    b.addEventListener('click', function () { actions[b.dataset.action](b.dataset.uuid); });
  });
})();
`
