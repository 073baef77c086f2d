"""Drives unmodified simple-salesforce against a running `ledgerforce sandbox salesforce --tls`.

Usage: python check.py <instance URL> <username> <password> <security token>

The instance URL is https://127.0.0.1:PORT; requests must trust the sandbox's CA (run.sh sets
REQUESTS_CA_BUNDLE to the printed certificate). Prints one pass/FAIL line per check and a closing
"N passed, M failed" line; exits non-zero if any check failed.
"""

import csv
import io
import sys
import traceback
import uuid
from datetime import datetime, timedelta, timezone

from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

VERSION = "62.0"

passed = 0
failed = 0


def check(name, fn):
    """Runs one check; an exception or a false assertion fails it and the run goes on."""
    global passed, failed
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
        failed += 1
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        print(f"FAIL {name}: {detail[:600]}")
        return
    passed += 1
    print(f"ok   {name}")


def expect_raises(exc_type, fn, code=None):
    try:
        fn()
    except exc_type as exc:
        if code is not None:
            content = getattr(exc, "content", None)
            codes = [e.get("errorCode") for e in content] if isinstance(content, list) else []
            assert code in codes, f"expected {code}, got {content!r}"
        return exc
    raise AssertionError(f"expected {exc_type.__name__}")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    base, username, password, token = sys.argv[1:]
    marker = uuid.uuid4().hex[:8]
    state = {}

    def login():
        # The default Salesforce(username=, password=, security_token=) builds its login URL
        # from a domain under salesforce.com; SalesforceLogin's scratch_url is how the same
        # SOAP login reaches another host.
        session_id, instance = SalesforceLogin(
            username=username,
            password=password,
            security_token=token,
            sf_version=VERSION,
            scratch_url=base,
        )
        assert instance == base.removeprefix("https://"), instance
        sf = Salesforce(session_id=session_id, instance=instance, version=VERSION)
        assert sf.base_url == f"{base}/services/data/v{VERSION}/", sf.base_url
        state["sf"] = sf

    check("SOAP login (username + password + security token)", login)
    sf = state.get("sf")
    if sf is None:
        print(f"{passed} passed, {failed} failed")
        return 1

    def bad_login():
        exc = expect_raises(
            SalesforceAuthenticationFailed,
            lambda: SalesforceLogin(
                username=username,
                password="wrong",
                security_token=token,
                sf_version=VERSION,
                scratch_url=base,
            ),
        )
        assert exc.code == "INVALID_LOGIN", exc.code
        assert "Invalid username, password, security token" in exc.auth_message, exc.auth_message

    check("bad password -> SalesforceAuthenticationFailed INVALID_LOGIN", bad_login)

    def query():
        r = sf.query("SELECT Id, Name FROM Account ORDER BY Name LIMIT 5")
        assert r["totalSize"] == 5 and r["done"] is True, r
        assert all(rec["attributes"]["type"] == "Account" for rec in r["records"])

    check("query", query)

    def query_all_pages():
        total = sf.query("SELECT COUNT() FROM Account")["totalSize"]
        assert total > 2000, f"needs more than one page: {total}"
        r = sf.query_all("SELECT Id FROM Account")
        ids = {rec["Id"] for rec in r["records"]}
        assert len(ids) == total == r["totalSize"], (len(ids), total, r["totalSize"])

    check("query_all follows nextRecordsUrl", query_all_pages)

    def relationships():
        r = sf.query("SELECT Id, LastName, Account.Name FROM Contact WHERE AccountId != null LIMIT 3")
        assert r["totalSize"] > 0, r
        assert all(rec["Account"]["Name"] for rec in r["records"]), r
        parents = sf.query(
            "SELECT Name, (SELECT LastName FROM Contacts) FROM Account WHERE Id IN (SELECT AccountId FROM Contact) LIMIT 3"
        )
        assert parents["totalSize"] > 0, parents
        for rec in parents["records"]:
            assert rec["Contacts"]["totalSize"] >= 1, rec

    check("relationship query (parent field, child subquery)", relationships)

    def crud():
        created = sf.Account.create({"Name": f"simple-salesforce {marker}"})
        assert created["success"] is True, created
        acct = created["id"]
        assert sf.Account.get(acct)["Name"] == f"simple-salesforce {marker}"
        assert sf.Account.update(acct, {"Phone": "+1 555 0100"}) == 204
        assert sf.Account.get(acct)["Phone"] == "+1 555 0100"
        assert sf.Account.delete(acct) == 204
        expect_raises(SalesforceResourceNotFound, lambda: sf.Account.get(acct))
        state["deleted"] = acct

    check("create / get / update / delete", crud)

    def upsert():
        key = f"SS-{marker}"
        assert sf.Account.upsert(f"Intacct_Customer_ID__c/{key}", {"Name": f"Upsert {marker}"}) == 201
        # An update by upsert answers 200 with created:false from API v46.0 on (204 before).
        assert sf.Account.upsert(f"Intacct_Customer_ID__c/{key}", {"Name": f"Upsert {marker} 2"}) == 200
        rec = sf.Account.get_by_custom_id("Intacct_Customer_ID__c", key)
        assert rec["Name"] == f"Upsert {marker} 2", rec
        state["upserted"] = rec["Id"]

    check("upsert by external id (201 then 200), get_by_custom_id", upsert)

    def collections():
        # simple-salesforce has no collections wrapper; restful() sends the documented body
        # with the client's own session.
        body = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": f"Coll {marker} {n}"} for n in range(3)
            ]
            + [{"attributes": {"type": "Contact"}}],
        }
        results = sf.restful("composite/sobjects", method="POST", json=body)
        assert [r["success"] for r in results] == [True, True, True, False], results
        assert results[3]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING", results[3]
        ids = ",".join(r["id"] for r in results[:3])
        got = sf.restful("composite/sobjects/Contact", params={"ids": ids, "fields": "Id,LastName"})
        assert [g["LastName"] for g in got] == [f"Coll {marker} {n}" for n in range(3)], got

    check("sObject Collections create + retrieve (restful)", collections)

    def describe():
        d = sf.Account.describe()
        names = {f["name"] for f in d["fields"]}
        assert {"Name", "Intacct_Customer_ID__c", "CurrencyIsoCode"} <= names, names
        ext = next(f for f in d["fields"] if f["name"] == "Intacct_Customer_ID__c")
        assert ext["externalId"] is True, ext
        objects = {o["name"] for o in sf.describe()["sobjects"]}
        assert {"Account", "Opportunity", "DatedConversionRate"} <= objects

    check("describe (object and global)", describe)

    def rates():
        r = sf.query(
            "SELECT IsoCode, ConversionRate, StartDate, NextStartDate FROM DatedConversionRate "
            "WHERE IsoCode = 'EUR' ORDER BY StartDate"
        )
        assert r["totalSize"] >= 12, r["totalSize"]
        recs = r["records"]
        for a, b in zip(recs, recs[1:]):
            assert a["NextStartDate"] == b["StartDate"], (a, b)

    check("DatedConversionRate periods chain", rates)

    def replication():
        now = datetime.now(timezone.utc)
        start, end = now - timedelta(minutes=10), now + timedelta(minutes=2)
        updated = sf.Account.updated(start, end)
        assert state.get("upserted") in updated["ids"], updated
        assert state.get("deleted") not in updated["ids"], "a deleted record is not an update"
        assert updated["latestDateCovered"].endswith(":00.000+0000"), updated
        deleted = sf.Account.deleted(start, end)
        assert state.get("deleted") in {d["id"] for d in deleted["deletedRecords"]}, deleted
        assert "earliestDateAvailable" in deleted and "latestDateCovered" in deleted, deleted
        expect_raises(
            SalesforceMalformedRequest,
            lambda: sf.Account.updated(now - timedelta(days=31), now),
            "INVALID_REPLICATION_DATE",
        )

    check("updated() / deleted() and the 30-day limit", replication)

    def bulk2():
        rows = [{"LastName": f"Bulk {marker} {n}", "Email": f"bulk{n}.{marker}@example.com"} for n in range(5)]
        results = sf.bulk2.Contact.insert(records=rows)
        processed = sum(int(r["numberRecordsProcessed"]) for r in results)
        failures = sum(int(r["numberRecordsFailed"]) for r in results)
        assert (processed, failures) == (5, 0), results
        chunks = list(sf.bulk2.Contact.query(f"SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Bulk {marker}%'"))
        got = [row for chunk in chunks for row in csv.DictReader(io.StringIO(chunk))]
        assert sorted(r["LastName"] for r in got) == sorted(r["LastName"] for r in rows), got

    check("Bulk 2.0 insert + query", bulk2)

    def errors():
        expect_raises(SalesforceResourceNotFound, lambda: sf.Account.get("001000000000000AAA"))
        expect_raises(SalesforceResourceNotFound, lambda: sf.Nope__c.describe())
        expect_raises(
            SalesforceMalformedRequest, lambda: sf.Account.create({"Phone": "1"}), "REQUIRED_FIELD_MISSING"
        )
        expect_raises(SalesforceMalformedRequest, lambda: sf.query("SELECT Nope FROM Account"), "INVALID_FIELD")
        stale = Salesforce(session_id="00D000000000000!AQbogus", instance=sf.sf_instance, version=VERSION)
        expect_raises(SalesforceExpiredSession, lambda: stale.query("SELECT Id FROM Account LIMIT 1"))

    check("error types (NotFound, MalformedRequest, ExpiredSession)", errors)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
