"""A SAML service provider built on Debian's python3-onelogin-saml2, driven by the tests one step per
run: a JSON command on stdin, a JSON answer on stdout. It is an SP implementation independent of
ssoctl's (lxml and xmlsec underneath), so what it accepts is what a real Python app would accept."""
import json
import sys

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.settings import OneLogin_Saml2_Settings

command = json.load(sys.stdin)
sp = command["sp"]
settings = {
    "strict": True,
    "debug": False,
    "sp": {
        "entityId": sp["entityId"],
        "assertionConsumerService": {"url": sp["acs"], "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
        "singleLogoutService": {"url": sp["slo"], "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
        "NameIDFormat": sp.get("nameIdFormat", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
        "x509cert": sp.get("cert", ""),
        "privateKey": sp.get("key", ""),
    },
    "idp": {
        "entityId": command["idp"]["entityId"],
        "singleSignOnService": {"url": command["idp"]["sso"], "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
        "singleLogoutService": {"url": command["idp"]["slo"], "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
        "x509cert": command["idp"]["cert"],
    },
    "security": {
        "authnRequestsSigned": sp.get("signs", False),
        "logoutRequestSigned": sp.get("signs", False),
        "wantAssertionsSigned": True,
        "wantMessagesSigned": True,
        "requestedAuthnContext": False,
        "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
    },
}

acs = sp["acs"]
host_port = acs.split("/")[2]
host, port = host_port.split(":")


def path_of(url):
    return "/" + url.split("/", 3)[3]


def request(path, get=None, post=None):
    return {"https": "off", "http_host": host, "server_port": port, "script_name": path, "get_data": get or {}, "post_data": post or {}}


mode = command["mode"]
if mode == "metadata":
    metadata = OneLogin_Saml2_Settings(settings, sp_validation_only=True).get_sp_metadata()
    print(json.dumps({"metadata": metadata.decode() if isinstance(metadata, bytes) else metadata}))
elif mode == "login":
    auth = OneLogin_Saml2_Auth(request(path_of(sp["acs"])), settings)
    url = auth.login(return_to="http://" + host_port + "/after", force_authn=command.get("forceAuthn", False))
    print(json.dumps({"url": url, "requestId": auth.get_last_request_id()}))
elif mode == "acs":
    auth = OneLogin_Saml2_Auth(request(path_of(sp["acs"]), post={"SAMLResponse": command["SAMLResponse"]}), settings)
    auth.process_response(request_id=command.get("requestId"))
    print(json.dumps({
        "errors": auth.get_errors(),
        "reason": auth.get_last_error_reason(),
        "authenticated": auth.is_authenticated(),
        "nameId": auth.get_nameid(),
        "nameIdFormat": auth.get_nameid_format(),
        "sessionIndex": auth.get_session_index(),
        "attributes": auth.get_attributes(),
    }))
elif mode == "logout":
    auth = OneLogin_Saml2_Auth(request(path_of(sp["slo"])), settings)
    url = auth.logout(name_id=command["nameId"], session_index=command["sessionIndex"], name_id_format=command.get("nameIdFormat"),
                      nq=command["idp"]["entityId"], spnq=sp["entityId"])
    print(json.dumps({"url": url, "requestId": auth.get_last_request_id()}))
elif mode == "slo":
    auth = OneLogin_Saml2_Auth(request(path_of(sp["slo"]), get=command["query"]), settings)
    auth.process_slo(keep_local_session=True, request_id=command.get("requestId"))
    print(json.dumps({"errors": auth.get_errors(), "reason": auth.get_last_error_reason()}))
