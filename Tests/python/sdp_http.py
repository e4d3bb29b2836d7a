"""The HTTP side of the WHEP and WHIP test clients: one request with an SDP (or any) body, and a refusal's code."""
import json
import urllib.error
import urllib.request


def request(method, url, body=None, content_type="application/sdp", key=None):
    """(status, headers, text) of one request; `key` goes as `Authorization: Bearer`."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", content_type)
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def error_code(body):
    """The `error.code` of a JSON refusal, or None."""
    try:
        return json.loads(body)["error"]["code"]
    except Exception:
        return None
