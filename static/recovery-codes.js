/* ssoctl — the Copy button of the recovery codes page. Served from /static under CSP (no inline
   script); without script the button stays hidden and Download still works. */
(function () {
  "use strict";
  var button = document.getElementById("copy-codes");
  var status = document.getElementById("copy-status");
  if (!button || !status) return;
  var codes = button.getAttribute("data-codes") || "";

  function copied(ok) {
    status.textContent = ok ? "Copied." : "Copying failed: select the codes and copy them, or download them.";
  }

  /* The Clipboard API needs a secure context (https, localhost); elsewhere the older way. */
  function fallback() {
    var area = document.createElement("textarea");
    area.value = codes;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    copied(ok);
  }

  button.hidden = false;
  button.addEventListener("click", function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(codes).then(function () { copied(true); }, fallback);
    } else {
      fallback();
    }
  });
})();
