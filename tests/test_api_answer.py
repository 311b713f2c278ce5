"""The retry rule and the one-line wording of failed API answers (egdoctor/snapshot/api_answer.py)."""

from __future__ import annotations

from egdoctor.snapshot import api_answer


def test_only_a_retry_after_header_asks_for_a_retry() -> None:
    assert api_answer.retry_after({"Retry-After": "3"}) == 3.0
    assert api_answer.retry_after({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}) == 1.0
    assert api_answer.retry_after({}) is None
    assert api_answer.retry_after(None) is None


def test_the_wait_backs_off_and_never_passes_the_budget() -> None:
    assert api_answer.next_wait(0.0, 0, 10.0) == 0.2
    assert api_answer.next_wait(0.0, 2, 10.0) == 0.8  # doubled per retry when the server asks for less
    assert api_answer.next_wait(3.0, 0, 10.0) == 3.0  # the server's ask when it is longer
    assert api_answer.next_wait(30.0, 0, 10.0) is None  # longer than what is left: give up now
    assert api_answer.next_wait(0.0, api_answer.MAX_RETRIES, 10.0) is None


def test_status_lines_carry_the_apis_own_message_on_one_line() -> None:
    body = {"kind": "Status", "message": "etcdserver:\nrequest timed out", "code": 500}
    assert (
        api_answer.status_line(500, body) == "HTTP 500 Internal Server Error: etcdserver: request timed out"
    )
    assert api_answer.status_line(502, None) == "HTTP 502 Bad Gateway"
    assert api_answer.status_line(418, {"message": ""}) == "HTTP 418"


def test_a_body_that_is_not_json_is_named_without_quoting_it() -> None:
    # the answer to a Secret get may hold key material: its bytes are never echoed
    assert api_answer.not_json(200, 57) == "HTTP 200 with a body that is not valid JSON (57 bytes)"


def test_urllib3s_incomplete_read_becomes_plain_words() -> None:
    read = "IncompleteRead(57 bytes read, 58 more expected)"
    text = f"('Connection broken: {read}', {read})"
    assert api_answer.cut_off(text) == "the answer was cut off: the connection closed after 57 of 115 bytes"
    assert api_answer.cut_off("connection refused") is None
