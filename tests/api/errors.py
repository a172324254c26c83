"""What every API error looks like: `{"error": {"code", "message", "fields"}}` with a message a person reads."""


def error_of(response):
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["message"]
    return body["error"]
