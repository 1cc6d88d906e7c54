"""ACLs, delegation tokens and SASL on a broker without an authorizer and with
PLAINTEXT listeners: answered at every version as Kafka answers them with its
defaults (Kafka 4.4.0 observed), so that kafka-acls and kafka-delegation-tokens
report what they report against such a Kafka."""
import pytest

from pykbroker.errors import ErrorCode
from pykbroker.handlers import HANDLERS

DESCRIBE_ACLS, CREATE_ACLS, DELETE_ACLS = 29, 30, 31
CREATE_TOKEN, RENEW_TOKEN, EXPIRE_TOKEN, DESCRIBE_TOKENS = 38, 39, 40, 41
SASL_HANDSHAKE, SASL_AUTHENTICATE = 17, 36
ANY, LITERAL, TOPIC, READ, ALLOW = 1, 3, 2, 3, 3
ACL_FILTER = {"resource_type_filter": ANY, "resource_name_filter": None, "pattern_type_filter": ANY,
              "principal_filter": None, "host_filter": None, "operation": ANY, "permission_type": ANY}
ACL = {"resource_type": TOPIC, "resource_name": "t", "resource_pattern_type": LITERAL, "principal": "User:alice",
       "host": "*", "operation": READ, "permission_type": ALLOW}


def versions(api_key):
    low, high = HANDLERS[api_key].VERSIONS
    return range(low, high + 1)


def test_acl_apis_report_that_there_is_no_authorizer(raw):
    client = raw()
    for version in versions(DESCRIBE_ACLS):
        described = client.request(DESCRIBE_ACLS, version, ACL_FILTER)
        assert (described["error_code"], described["error_message"], described["resources"]) == \
            (ErrorCode.SECURITY_DISABLED, "No Authorizer is configured on the broker", [])
    for version in versions(CREATE_ACLS):
        created = client.request(CREATE_ACLS, version, {"creations": [ACL, dict(ACL, principal="User:bob")]})
        assert [(r["error_code"], r["error_message"]) for r in created["results"]] == \
            [(ErrorCode.SECURITY_DISABLED, "No Authorizer is configured.")] * 2
    for version in versions(DELETE_ACLS):
        deleted = client.request(DELETE_ACLS, version, {"filters": [ACL_FILTER]})
        assert [(r["error_code"], r["error_message"], r["matching_acls"]) for r in deleted["filter_results"]] == \
            [(ErrorCode.SECURITY_DISABLED, "No Authorizer is configured.", [])]
    # Nothing was created behind the error.
    assert client.request(DESCRIBE_ACLS, 3, ACL_FILTER)["resources"] == []


def test_delegation_tokens_are_not_issued_over_plaintext(raw):
    client = raw()
    for version in versions(CREATE_TOKEN):
        created = client.request(CREATE_TOKEN, version, {
            "owner_principal_type": None, "owner_principal_name": None,
            "renewers": [{"principal_type": "User", "principal_name": "bob"}], "max_lifetime_ms": -1})
        assert created["error_code"] == ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
        assert (created["principal_type"], created["principal_name"], created["token_id"], created["hmac"]) == \
            ("User", "ANONYMOUS", "", b"")
        if version >= 3:
            assert (created["token_requester_principal_type"], created["token_requester_principal_name"]) == \
                ("User", "ANONYMOUS")
    for api_key, body in [(RENEW_TOKEN, {"hmac": b"abc", "renew_period_ms": 1000}),
                          (EXPIRE_TOKEN, {"hmac": b"abc", "expiry_time_period_ms": 1000})]:
        for version in versions(api_key):
            answered = client.request(api_key, version, body)
            assert (answered["error_code"], answered["expiry_timestamp_ms"]) == \
                (ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, -1)
    for version in versions(DESCRIBE_TOKENS):
        described = client.request(DESCRIBE_TOKENS, version, {"owners": None})
        assert (described["error_code"], described["tokens"]) == (ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, [])


@pytest.mark.parametrize("version", versions(SASL_HANDSHAKE))
def test_sasl_on_a_plaintext_connection_is_an_illegal_state(raw, version):
    client = raw()
    handshake = client.request(SASL_HANDSHAKE, version, {"mechanism": "PLAIN"})
    assert (handshake["error_code"], handshake["mechanisms"]) == (ErrorCode.ILLEGAL_SASL_STATE, [])
    for auth_version in versions(SASL_AUTHENTICATE):
        answered = client.request(SASL_AUTHENTICATE, auth_version, {"auth_bytes": b"\0user\0secret"})
        assert (answered["error_code"], answered["error_message"]) == \
            (ErrorCode.ILLEGAL_SASL_STATE, "SaslAuthenticate request received after successful authentication")
    # The connection stays authenticated as it was, and usable.
    assert client.request(18, 0, {})["error_code"] == ErrorCode.NONE
