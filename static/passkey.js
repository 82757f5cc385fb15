/* ssoctl — passkeys in the browser: registration and sign-in, with navigator.credentials.
   Served from /static under CSP (no inline script). The page holds the server's options in
   data-options; the answer goes back in a hidden field of an ordinary form post. */
(function () {
  "use strict";

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.user = Object.assign({}, json.user, { id: fromBase64url(json.user.id) });
    options.excludeCredentials = (json.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: fromBase64url(c.id) });
    });
    return { publicKey: options };
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.allowCredentials = (json.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: fromBase64url(c.id) });
    });
    return { publicKey: options };
  }

  function registrationJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: typeof response.getTransports === "function" ? response.getTransports() : [],
      },
    };
  }

  function authenticationJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined,
      },
    };
  }

  function start(form) {
    var status = document.getElementById("passkey-status");
    var button = form.querySelector("[data-passkey-start]");
    var options = JSON.parse(form.getAttribute("data-options"));
    var mode = form.getAttribute("data-passkey");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      status.textContent = "This browser does not support passkeys.";
      return;
    }
    button.disabled = true;
    status.textContent = "Follow your browser's prompt…";
    var pending = mode === "register"
      ? navigator.credentials.create(creationOptions(options)).then(registrationJSON)
      : navigator.credentials.get(requestOptions(options)).then(authenticationJSON);
    pending.then(
      function (json) {
        form.querySelector("input[name=response]").value = JSON.stringify(json);
        status.textContent = "Checking…";
        form.submit();
      },
      function (error) {
        button.disabled = false;
        status.textContent = (error && error.name === "NotAllowedError")
          ? "The passkey prompt was cancelled or timed out. Try again."
          : "The passkey could not be used: " + (error && error.message ? error.message : String(error));
      },
    );
  }

  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-passkey]");
    Array.prototype.forEach.call(forms, function (form) {
      var button = form.querySelector("[data-passkey-start]");
      button.hidden = false;
      button.addEventListener("click", function () { start(form); });
    });
  });
})();
