"""Request files and the matching of raw JSON lines, in plain Python."""

from __future__ import annotations

from userscore.privacy.matching import line_matcher, line_requests, subject_owner
from userscore.privacy.requests import ErasureRequest, read_requests


def test_requests_group_user_ids_in_file_order(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user_id,request_id\n u2 ,r1\nu1,r1\nu2,r1\n\nu3,r2\n", encoding="utf-8")
    assert read_requests(path) == (ErasureRequest("r1", ("u2", "u1")), ErasureRequest("r2", ("u3",)))


def test_a_user_id_in_two_requests_belongs_to_the_first():
    owner = subject_owner([ErasureRequest("r1", ("u1",)), ErasureRequest("r2", ("u1", "u2"))])
    assert owner == {"u1": "r1", "u2": "r2"}


def test_raw_lines_match_whole_json_strings_only():
    tokens, prefilter = line_matcher({"u1": "r1", 'we"ird': "r2"})
    lines = {
        b'{"user_id": "u1", "amount": 3}': {"r1"},
        b'{"user_id": "u10", "amount": 3}': set(),
        b'{"note": "u1 and more", "x": "xu1"}': set(),
        b'{"order_id": "o1", "user_id": "u1", "amount": ': {"r1"},  # malformed, still the user's
        b'{"user_id": "we\\"ird", "ref": "u1"}': {"r1", "r2"},
        b'\xff\xfe{"user_id": "u1"}': {"r1"},  # not UTF-8
        b'{"a": "\\"u1\\""}': set(),  # u1 quoted inside another string
    }
    assert {line: line_requests(line, tokens, prefilter) for line in lines} == lines
