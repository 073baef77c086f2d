//! Every response shape of protocols.md B4, plus malformed and hostile documents.

use lf_domain::{Classify, ErrorClass};
use lf_intacct::record::{Customer, FromRecord};
use lf_intacct::{IntacctError, Reason, ResultData, ResultStatus, XmlError, parse_response};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The data of the first result of a fixture whose layers all succeeded.
fn first_data(name: &str) -> ResultData {
    parse_response(&fixture(name))
        .unwrap()
        .into_operation(false)
        .unwrap()
        .results
        .remove(0)
        .into_data()
        .unwrap()
}

#[test]
fn success_with_records() {
    let resp = parse_response(&fixture("read_by_query_success.xml")).unwrap();
    assert!(resp.control.success);
    assert_eq!(resp.control.sender_id.as_deref(), Some("lf-sender"));
    assert_eq!(resp.control.dtd_version.as_deref(), Some("3.0"));
    let op = resp.into_operation(false).unwrap();
    assert_eq!(
        op.authentication.company_id.as_deref(),
        Some("northwind-demo")
    );
    assert_eq!(
        op.authentication.location_id, None,
        "empty locationid = top level"
    );
    assert!(op.authentication.session_timeout.is_some());
    assert_eq!(op.results.len(), 1);
    let r = op.results.into_iter().next().unwrap();
    assert_eq!(r.function, "readByQuery");
    assert_eq!(r.control_id, "rbq-1");
    let data = r.into_data().unwrap();
    assert_eq!(data.listtype.as_deref(), Some("customer"));
    assert_eq!(
        (data.count, data.total_count, data.num_remaining),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(data.result_id, None, "empty resultId = none");
    let customers: Vec<Customer> = data
        .records
        .iter()
        .map(Customer::from_record)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        customers[0].name.as_deref(),
        Some("Northwind Traders & Sons")
    );
    assert_eq!(customers[1].name.as_deref(), Some("Contoso 'West'"));
    assert_eq!(customers[1].on_hold, Some(true));
    assert_eq!(
        customers[0]
            .display_contact
            .as_ref()
            .and_then(|d| d.mail_address.as_ref())
            .and_then(|a| a.city.as_deref()),
        Some("Seattle")
    );
}

#[test]
fn failure_with_several_errors_keeps_every_text() {
    let op = parse_response(&fixture("create_failure_several_errors.xml"))
        .unwrap()
        .into_operation(false)
        .unwrap();
    let r = op.results.into_iter().next().unwrap();
    assert_eq!(r.status, ResultStatus::Failure);
    assert_eq!(r.errors.len(), 3);
    assert_eq!(r.errors[0].errorno, "BL34000061");
    assert_eq!(r.errors[0].correction, "Use a unique value instead.");
    assert_eq!(
        r.errors[2].description2,
        "Error while saving the Customer info"
    );
    // A failed create may still carry <data count="0">.
    assert_eq!(r.data.as_ref().and_then(|d| d.count), Some(0));
    let err = r.into_data().unwrap_err();
    assert_eq!(err.reason(), Some(Reason::Duplicate));
    assert_eq!(err.class(), ErrorClass::Permanent);
    let shown = err.to_string();
    assert!(
        shown.contains("NW-0001 already exists")
            && shown.contains("Could not create Customer record!"),
        "{shown}"
    );
}

#[test]
fn aborted_transaction() {
    let op = parse_response(&fixture("transaction_aborted.xml"))
        .unwrap()
        .into_operation(false)
        .unwrap();
    let statuses: Vec<ResultStatus> = op.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ResultStatus::Aborted,
            ResultStatus::Failure,
            ResultStatus::Aborted
        ]
    );
    let mut errs = op.results.into_iter().map(|r| r.into_data().unwrap_err());
    let first = errs.next().unwrap();
    assert_eq!(first.reason(), Some(Reason::TransactionRolledBack));
    assert_eq!(first.class(), ErrorClass::Transient);
    let cause = errs.next().unwrap();
    assert_eq!(cause.reason(), Some(Reason::MissingRequired), "{cause}");
    assert_eq!(cause.class(), ErrorClass::Permanent);
}

#[test]
fn control_failure() {
    let resp = parse_response(&fixture("control_failure.xml")).unwrap();
    assert!(!resp.control.success);
    assert!(resp.authentication.is_none());
    let err = resp.into_operation(false).unwrap_err();
    assert!(matches!(&err, IntacctError::Control { errors } if errors[0].errorno == "XL03000003"));
    assert_eq!(err.reason(), Some(Reason::InvalidRequest));
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[test]
fn authentication_failures() {
    let err = parse_response(&fixture("auth_failure_invalid_session.xml"))
        .unwrap()
        .into_operation(false)
        .unwrap_err();
    assert!(matches!(
        err,
        IntacctError::Authentication { login: false, .. }
    ));
    assert_eq!(err.class(), ErrorClass::AuthExpired);
    assert_eq!(err.reason(), Some(Reason::InvalidSession));

    let err = parse_response(&fixture("auth_failure_bad_password.xml"))
        .unwrap()
        .into_operation(true)
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(err.reason(), Some(Reason::BadCredentials));
}

#[test]
fn empty_result() {
    let data = first_data("empty_result.xml");
    assert!(data.records.is_empty());
    assert_eq!(data.count, Some(0));
    assert_eq!(data.remaining(), 0);
}

#[test]
fn paged_results() {
    let data = first_data("paged_read_by_query.xml");
    assert_eq!(data.records.len(), 2);
    assert_eq!(data.remaining(), 3);
    assert_eq!(data.total_count, Some(5));
    assert_eq!(data.result_id.as_deref(), Some("lfRes0001Q@x"));

    let data = first_data("paged_query.xml");
    assert_eq!(data.offset, Some(2));
    assert_eq!(data.remaining(), 1);
    assert_eq!(data.records[1].field("customerid"), Some("NW-0002"));
}

#[test]
fn get_api_session_result() {
    let op = parse_response(&fixture("get_api_session.xml"))
        .unwrap()
        .into_operation(true)
        .unwrap();
    assert_eq!(op.authentication.location_id.as_deref(), Some("EU"));
    let ts = op.authentication.session_timestamp.unwrap();
    let to = op.authentication.session_timeout.unwrap();
    assert_eq!((to - ts).num_minutes(), 60);
    let data = op.results.into_iter().next().unwrap().into_data().unwrap();
    let api = &data.records[0];
    assert_eq!(api.name(), "api");
    assert_eq!(api.field("sessionid"), Some("lfFixtureSession.."));
    assert_eq!(
        api.field("endpoint"),
        Some("https://eu1.intacct.com/ia/xml/xmlgw.phtml")
    );
}

#[test]
fn results_of_a_batch_and_a_delete_without_data() {
    let op = parse_response(&fixture("create_success_batch.xml"))
        .unwrap()
        .into_operation(false)
        .unwrap();
    let ids: Vec<&str> = op.results.iter().map(|r| r.control_id.as_str()).collect();
    assert_eq!(ids, ["c-2", "d-1", "c-1"]);
    assert!(op.results[1].data.is_none());
    assert_eq!(
        op.results[0].data.as_ref().unwrap().records[0].field("RECORDNO"),
        Some("41")
    );
}

#[test]
fn legacy_create_answers_with_a_key() {
    let op = parse_response(&fixture("legacy_create_key.xml"))
        .unwrap()
        .into_operation(false)
        .unwrap();
    assert_eq!(op.authentication.location_id.as_deref(), Some("US"));
    assert_eq!(
        op.authentication.session_timeout, None,
        "timeout is optional"
    );
    let data = op.results.into_iter().next().unwrap().into_data().unwrap();
    assert_eq!(data.key.as_deref(), Some("4411"));
    assert!(data.records.is_empty());
    assert_eq!(
        lf_intacct::CreateOutcome::Created(data).record_no(),
        Some("4411")
    );
}

#[test]
fn gateway_error_bodies() {
    let r = parse_response(&fixture("http401_body.xml")).unwrap();
    assert_eq!(r.control_errors[0].errorno, "XMLGW_JPP0002");
    let r = parse_response(&fixture("http429_body.xml")).unwrap();
    let err = r.control_error().unwrap();
    assert!(matches!(err.class(), ErrorClass::Throttled { .. }));
    assert_eq!(err.reason(), Some(Reason::RateLimited));
}

#[test]
fn offline_acknowledgement() {
    let r = parse_response(&fixture("offline_acknowledgement.xml")).unwrap();
    assert_eq!(r.acknowledgement.as_deref(), Some("success"));
    assert!(r.control.success);
    assert!(matches!(
        r.into_operation(false),
        Err(IntacctError::Protocol { .. })
    ));
}

#[test]
fn hostile_and_malformed_documents_are_refused_clearly() {
    let err = |name: &str| parse_response(&fixture(&format!("hostile/{name}"))).unwrap_err();
    assert!(matches!(
        err("billion_laughs.xml"),
        IntacctError::Malformed(XmlError::DocType)
    ));
    assert!(matches!(
        err("external_entity.xml"),
        IntacctError::Malformed(XmlError::DocType)
    ));
    assert!(matches!(
        err("undeclared_entity.xml"),
        IntacctError::Malformed(XmlError::UnknownEntity(ref e)) if e == "secret"
    ));
    assert!(matches!(err("truncated.xml"), IntacctError::Malformed(_)));
    assert!(matches!(
        err("too_deep.xml"),
        IntacctError::Malformed(XmlError::TooDeep { limit: 64 })
    ));
    assert!(matches!(
        err("html_page.xml"),
        IntacctError::Protocol { .. }
    ));
    assert!(matches!(
        err("wrong_status.xml"),
        IntacctError::Protocol { .. }
    ));
    assert!(matches!(
        err("bad_count.xml"),
        IntacctError::Protocol { .. }
    ));
    let shown = err("billion_laughs.xml").to_string();
    assert!(shown.contains("DOCTYPE"), "{shown}");
    assert!(matches!(
        parse_response(b""),
        Err(IntacctError::Malformed(XmlError::NoRoot))
    ));
    assert!(matches!(
        parse_response(b"<response><control></control></response>"),
        Err(IntacctError::Protocol { .. })
    ));
}
