"""Issue 12 item 3: drift history (what, old -> new, when found and corrected, who)."""

from __future__ import annotations

from controller.operator.history import KEEP, DriftHistory, DriftRecord, render


def test_a_field_still_drifted_is_one_record_until_corrected() -> None:
    h = DriftHistory("portal")
    changes = [("ingress", [{"port": 443}], [{"port": 443}, {"port": 2222}])]
    (first,) = h.detected("security_group/alb", changes, ("arn:aws:iam::1:user/alice", "E"), 10.0)
    assert h.detected("security_group/alb", changes, None, 20.0) == []  # seen again: same
    (done,) = h.corrected("security_group/alb", 21.5)
    assert done is first and (first.detected_at, first.corrected_at) == (10.0, 21.5)
    assert (first.old, first.new) == ('[{"port": 443}]', '[{"port": 443}, {"port": 2222}]')
    assert first.principal == "arn:aws:iam::1:user/alice" and first.event == "E"
    # the same drift made again after the correction is a new record
    assert len(h.detected("security_group/alb", changes, None, 30.0)) == 1
    assert len(h.records) == 2


def test_only_the_last_records_are_kept_and_long_values_clipped() -> None:
    h = DriftHistory("portal")
    for i in range(KEEP + 20):
        h.detected(f"log_group/s{i}", [("retention_days", 7, i)], None, float(i))
    assert len(h.records) == KEEP
    assert h.records[0].resource == "log_group/s20"
    (r,) = h.detected("task_definition/x", [("container.image", "a", "b" * 5000)], None, 1.0)
    assert len(r.new) == 1000 and r.new.endswith("...")


def test_round_trip_through_the_status_document_skips_unreadable_entries() -> None:
    h = DriftHistory("portal")
    h.detected("vpc/main", [("enable_dns_support", True, False)], ("p", "ModifyVpcAttribute"), 5.0)
    h.corrected("vpc/main", 6.0)
    docs = [*h.to_json(), {"resource": "x"}, "garbage"]
    back = DriftHistory.from_json("portal", docs)
    assert [r.to_json() for r in back.records] == h.to_json()
    assert DriftHistory.from_json("portal", None).records == DriftHistory("portal").records
    text = render("portal", list(back.records))
    assert "vpc/main  enable_dns_support: true -> false by p (ModifyVpcAttribute)" in text
    assert "after 1.0s" in text
    assert render("portal", []) == "No drift recorded for stack portal."
    assert isinstance(back.records[0], DriftRecord)
