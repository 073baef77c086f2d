//! Envelope, validation order, transactions, uniqueid, sessions, XML safety.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lf_domain::ManualClock;
use lf_sandbox_intacct::{DataSet, SandboxConfig, UNIQUEID_REPLAY_ERRORNO};

use crate::support::*;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-14T10:00:00Z")
        .unwrap()
        .to_utc()
}

#[tokio::test]
async fn control_then_authentication_then_functions() {
    let sb = start(SandboxConfig::default()).await;
    let good = Client::new(&sb);

    // Malformed XML: control failure XL03000003, HTTP 200, nothing else.
    let a = good
        .post("<request><control><senderid>x</control></request>".into())
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.control_status(), "failure");
    assert_eq!(a.control_errorno(), "XL03000003");
    assert!(a.root.child("operation").is_none());

    // Wrong sender AND wrong user: the sender is checked first (control failure).
    let mut bad = Client::new(&sb);
    bad.creds.sender_password = "wrong".into();
    bad.creds.user_password = "wrong".into();
    let a = bad
        .call(&[("f1", "<readByQuery><object>CUSTOMER</object></readByQuery>")])
        .await;
    assert_eq!(a.control_status(), "failure");
    assert_eq!(a.control_errorno(), "XL03000006");
    assert_eq!(
        a.root.value("control.controlid"),
        "req-1",
        "control is echoed"
    );
    assert!(a.root.child("operation").is_none());

    // Right sender, wrong user: authentication failure, no results.
    let mut bad = Client::new(&sb);
    bad.creds.user_password = "wrong".into();
    let a = bad
        .call(&[("f1", "<readByQuery><object>CUSTOMER</object></readByQuery>")])
        .await;
    assert_eq!(a.control_status(), "success");
    assert_eq!(a.auth_status(), "failure");
    assert_eq!(a.auth_errorno(), "XL03000006");
    assert!(a.results().is_empty());

    // Unknown entity in the login: authentication failure too.
    let a = Client::in_entity(&sb, "MARS")
        .call(&[("f1", "<readByQuery><object>CUSTOMER</object></readByQuery>")])
        .await;
    assert_eq!(a.auth_errorno(), "XL03000006");

    // Functions run in order; without a transaction one failure does not stop the others.
    let a = good
        .call(&[
            (
                "bad",
                "<readByQuery><object>BADOBJECT</object></readByQuery>",
            ),
            (
                "good",
                "<readByQuery><object>LOCATIONENTITY</object></readByQuery>",
            ),
        ])
        .await;
    assert_eq!(a.auth_status(), "success");
    assert_eq!(a.status(0), "failure");
    assert_eq!(a.errornos(0), vec!["Query Failed"]);
    assert!(
        a.result(0)
            .value("errormessage.error.description2")
            .contains("BADOBJECT not found")
    );
    assert_eq!(a.result(0).value("controlid"), "bad");
    assert_eq!(a.status(1), "success");
    assert_eq!(a.data(1).attr("count"), Some("4"), "US, UK, DE, EDU");
    sb.shutdown().await;
}

#[tokio::test]
async fn xml_safety_and_body_cap() {
    let sb = start(SandboxConfig {
        max_body_bytes: 4096,
        ..Default::default()
    })
    .await;
    let c = Client::new(&sb);
    let env = c.envelope(
        Opts::default(),
        &[("f1", "<readByQuery><object>CUSTOMER</object></readByQuery>")],
    );
    let evil = env.replacen(
        "<request>",
        "<!DOCTYPE request [<!ENTITY boom \"x\">]><request>",
        1,
    );
    let a = c.post(evil).await;
    assert_eq!(a.control_errorno(), "XL03000003");
    assert!(
        a.root
            .value("errormessage.error.description2")
            .contains("DOCTYPE")
    );
    let entity = env.replace("<object>CUSTOMER</object>", "<object>&boom;</object>");
    assert_eq!(c.post(entity).await.control_errorno(), "XL03000003");
    let big = env.replace(
        "<object>CUSTOMER</object>",
        &format!("<object>{}</object>", "A".repeat(5000)),
    );
    let a = c.post(big).await;
    assert_eq!(a.status, 413);
    assert_eq!(a.control_errorno(), "XL03000003");
    sb.shutdown().await;
}

#[tokio::test]
async fn transaction_rolls_back_and_aborts_the_rest() {
    let sb = start(SandboxConfig::default()).await;
    let c = Client::in_entity(&sb, "US");
    c.one(&customer("C-EXISTS", "Exists", "")).await;
    let before = sb.api_transactions();
    let a = c
        .call_with(
            Opts {
                transaction: true,
                unique_id: false,
            },
            &[
                ("f1", &customer("C-NEW", "New", "")),
                ("f2", &customer("C-EXISTS", "Again", "")),
                ("f3", &customer("C-LATER", "Later", "")),
            ],
        )
        .await;
    assert_eq!(a.status(0), "aborted");
    assert_eq!(a.errornos(0), vec!["XL03000009"]);
    assert_eq!(a.status(1), "failure");
    assert_eq!(
        a.errornos(1),
        vec!["BL34000061", "BL01001973", "XL03000009"]
    );
    assert_eq!(a.status(2), "aborted");
    assert_eq!(
        sb.count_where("CUSTOMER", "CUSTOMERID", "C-NEW"),
        0,
        "rolled back"
    );
    assert_eq!(
        sb.count_where("CUSTOMER", "CUSTOMERID", "C-LATER"),
        0,
        "never ran"
    );
    assert_eq!(
        sb.api_transactions(),
        before,
        "a rolled-back operation bills nothing"
    );

    // Without transaction the same request keeps what succeeded.
    let a = c
        .call(&[
            ("f1", &customer("C-NEW", "New", "")),
            ("f2", &customer("C-EXISTS", "Again", "")),
            ("f3", &customer("C-LATER", "Later", "")),
        ])
        .await;
    assert_eq!(
        (a.status(0), a.status(1), a.status(2)),
        ("success", "failure", "success")
    );
    assert_eq!(sb.count_where("CUSTOMER", "CUSTOMERID", "C-NEW"), 1);
    assert_eq!(sb.count_where("CUSTOMER", "CUSTOMERID", "C-LATER"), 1);

    // A transaction where everything succeeds commits.
    let a = c
        .call_with(
            Opts {
                transaction: true,
                unique_id: false,
            },
            &[
                ("f1", &customer("C-T1", "T1", "")),
                ("f2", &customer("C-T2", "T2", "")),
            ],
        )
        .await;
    assert_eq!((a.status(0), a.status(1)), ("success", "success"));
    assert_eq!(sb.count_where("CUSTOMER", "CUSTOMERID", "C-T2"), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn uniqueid_rejects_a_replayed_function_controlid() {
    let sb = start(SandboxConfig::default()).await;
    let c = Client::in_entity(&sb, "US");
    let unique = Opts {
        transaction: false,
        unique_id: true,
    };
    let a = c
        .call_with(unique, &[("create-C-U1", &customer("C-U1", "U1", ""))])
        .await;
    assert_eq!(a.status(0), "success");
    let billed = sb.api_transactions();
    let a = c
        .call_with(unique, &[("create-C-U1", &customer("C-U1", "U1", ""))])
        .await;
    assert_eq!(a.status(0), "failure");
    assert_eq!(a.errornos(0), vec![UNIQUEID_REPLAY_ERRORNO]);
    assert_eq!(sb.count_where("CUSTOMER", "CUSTOMERID", "C-U1"), 1);
    assert_eq!(sb.api_transactions(), billed);

    // uniqueid=false runs the same controlid again (here: a read).
    let read = "<readByName><object>CUSTOMER</object><keys>C-U1</keys></readByName>";
    assert_eq!(c.call(&[("r1", read)]).await.status(0), "success");
    assert_eq!(c.call(&[("r1", read)]).await.status(0), "success");

    // A failed function did not complete, so its controlid may be retried.
    let a = c
        .call_with(
            unique,
            &[(
                "fix-1",
                "<create><CUSTOMER><CUSTOMERID>C-U2</CUSTOMERID></CUSTOMER></create>",
            )],
        )
        .await;
    assert_eq!(a.status(0), "failure", "NAME is required");
    let a = c
        .call_with(unique, &[("fix-1", &customer("C-U2", "U2", ""))])
        .await;
    assert_eq!(a.status(0), "success");
    sb.shutdown().await;
}

#[tokio::test]
async fn sessions_entities_and_sliding_timeout() {
    let clock = Arc::new(ManualClock::new(t0()));
    let sb = start(SandboxConfig {
        seed: DataSet::Demo,
        session_timeout: Duration::from_secs(600),
        clock: clock.clone(),
        ..Default::default()
    })
    .await;
    let login = Client::new(&sb);
    let a = login
        .call(&[(
            "s",
            "<getAPISession><locationid>UK</locationid></getAPISession>",
        )])
        .await;
    let api = a.data(0).child("api").unwrap();
    assert_eq!(api.value("endpoint"), sb.endpoint_url());
    assert_eq!(api.value("locationid"), "UK");
    let uk = login.with_session(api.value("sessionid"));
    let a = uk
        .call(&[(
            "q",
            "<readByQuery><object>CUSTOMER</object><fields>CUSTOMERID</fields></readByQuery>",
        )])
        .await;
    assert_eq!(a.root.value("operation.authentication.locationid"), "UK");
    assert!(
        !a.root
            .value("operation.authentication.sessiontimeout")
            .is_empty()
    );
    let ids: Vec<&str> = a
        .data(0)
        .children
        .iter()
        .map(|c| c.value("CUSTOMERID"))
        .collect();
    assert_eq!(
        ids,
        vec!["C-0001", "C-2001", "C-2002"],
        "own entity plus top level"
    );

    // <locationid/> from an entity session gives a top-level session.
    let top = uk.with_session(&uk.session(Some("")).await);
    let a = top
        .call(&[(
            "q",
            "<readByQuery><object>CUSTOMER</object><fields>CUSTOMERID</fields></readByQuery>",
        )])
        .await;
    assert_eq!(
        a.data(0).attr("count"),
        Some("1"),
        "top level without showprivate sees only its own"
    );

    // Sliding timeout: each call moves it; idle past it, the session is gone.
    clock.advance(Duration::from_secs(500));
    assert_eq!(
        uk.call(&[("q", "<read><object>CUSTOMER</object><keys>1</keys></read>")])
            .await
            .auth_status(),
        "success"
    );
    clock.advance(Duration::from_secs(500));
    assert_eq!(
        uk.call(&[("q", "<read><object>CUSTOMER</object><keys>1</keys></read>")])
            .await
            .auth_status(),
        "success"
    );
    clock.advance(Duration::from_secs(601));
    let a = uk
        .call(&[("q", "<read><object>CUSTOMER</object><keys>1</keys></read>")])
        .await;
    assert_eq!(a.auth_status(), "failure");
    assert_eq!(a.auth_errorno(), "XL03000006");

    // expire_sessions ends them all.
    let s = login.with_session(&login.session(None).await);
    assert_eq!(
        s.call(&[("q", "<lookup><object>CUSTOMER</object></lookup>")])
            .await
            .status(0),
        "success"
    );
    sb.expire_sessions();
    assert_eq!(
        s.call(&[("q", "<lookup><object>CUSTOMER</object></lookup>")])
            .await
            .auth_errorno(),
        "XL03000006"
    );

    // getAPISession must be alone; unknown entities are refused.
    let a = login
        .call(&[
            ("a", "<getAPISession/>"),
            ("b", "<lookup><object>CUSTOMER</object></lookup>"),
        ])
        .await;
    assert_eq!(a.status(0), "failure");
    let a = login
        .call(&[(
            "a",
            "<getAPISession><locationid>MARS</locationid></getAPISession>",
        )])
        .await;
    assert_eq!(a.status(0), "failure");
    sb.shutdown().await;
}

#[tokio::test]
async fn generic_create_update_delete_read() {
    let clock = Arc::new(ManualClock::new(t0()));
    let sb = start(SandboxConfig {
        clock: clock.clone(),
        ..Default::default()
    })
    .await;
    let c = Client::in_entity(&sb, "US");
    let extra = "<CREDITLIMIT>1234.567</CREDITLIMIT><ONHOLD>False</ONHOLD><TERMNAME>Net 30</TERMNAME>\
                 <SFDC_ACCOUNT_ID>001LF0000000099AAA</SFDC_ACCOUNT_ID>";
    let body = customer("C-9", "Nine", extra).replace(
        "<PRINTAS>Nine</PRINTAS>",
        "<PRINTAS>Nine</PRINTAS><EMAIL1>nine@example.com</EMAIL1>",
    );
    let data = c.one(&body).await;
    let key = &data.children[0];
    assert_eq!(key.name, "customer");
    assert_eq!(key.value("CUSTOMERID"), "C-9");
    let recordno = key.value("RECORDNO").to_owned();

    let got = c
        .one(&format!(
            "<read><object>CUSTOMER</object><keys>{recordno}</keys><fields>*</fields></read>"
        ))
        .await;
    let cust = &got.children[0];
    assert_eq!(got.attr("listtype"), Some("CUSTOMER"));
    assert_eq!(cust.name, "CUSTOMER");
    assert_eq!(
        cust.value("CREDITLIMIT"),
        "1234.57",
        "amounts round to 2 places"
    );
    assert_eq!(cust.value("ONHOLD"), "false");
    assert_eq!(cust.value("MEGAENTITYID"), "US");
    assert_eq!(cust.value("WHENMODIFIED"), "03/14/2025 10:00:00");
    assert_eq!(cust.value("DISPLAYCONTACT.CONTACTNAME"), "Nine(C-9)");

    // Update by CUSTOMERID: only sent fields change, an empty element clears, blocks merge.
    clock.advance(Duration::from_secs(65));
    c.one("<update><CUSTOMER><CUSTOMERID>C-9</CUSTOMERID><ONHOLD>true</ONHOLD><CREDITLIMIT/><DISPLAYCONTACT><EMAIL1/></DISPLAYCONTACT></CUSTOMER></update>").await;
    let got = c
        .one("<readByName><object>CUSTOMER</object><keys>C-9</keys></readByName>")
        .await;
    let cust = &got.children[0];
    assert_eq!(cust.value("ONHOLD"), "true");
    assert_eq!(cust.value("CREDITLIMIT"), "");
    assert_eq!(cust.value("DISPLAYCONTACT.EMAIL1"), "");
    assert_eq!(cust.value("DISPLAYCONTACT.PRINTAS"), "Nine");
    assert_eq!(cust.value("NAME"), "Nine");
    assert_eq!(cust.value("WHENMODIFIED"), "03/14/2025 10:01:05");

    // Errors: unknown field, read-only field, bad type, missing record, duplicate GL account.
    for (body, needle) in [
        (
            "<update><CUSTOMER><CUSTOMERID>C-9</CUSTOMERID><NOPE>1</NOPE></CUSTOMER></update>",
            "Invalid field NOPE",
        ),
        (
            "<update><CUSTOMER><CUSTOMERID>C-9</CUSTOMERID><TOTALDUE>1</TOTALDUE></CUSTOMER></update>",
            "read-only",
        ),
        (
            "<update><CUSTOMER><CUSTOMERID>C-9</CUSTOMERID><CREDITLIMIT>lots</CREDITLIMIT></CUSTOMER></update>",
            "Invalid value 'lots'",
        ),
        (
            "<update><CUSTOMER><CUSTOMERID>C-404</CUSTOMERID><NAME>x</NAME></CUSTOMER></update>",
            "non-existing CUSTOMER",
        ),
        (
            "<create><CUSTOMER><CUSTOMERID>C-10</CUSTOMERID></CUSTOMER></create>",
            "Required field NAME",
        ),
        (
            "<create><GLACCOUNT><ACCOUNTNO>4000</ACCOUNTNO><TITLE>Dup</TITLE></GLACCOUNT></create>",
            "Duplicate account number",
        ),
        (
            "<create><ARINVOICE><CUSTOMERID>C-9</CUSTOMERID></ARINVOICE></create>",
            "create_invoice",
        ),
    ] {
        let a = c.call(&[("f", body)]).await;
        assert_eq!(a.status(0), "failure", "{body}");
        assert!(a.messages(0).contains(needle), "{needle} not in {}", a.body);
    }

    let lookup = c.one("<lookup><object>CUSTOMER</object></lookup>").await;
    let custom = lookup
        .path("Type.Fields")
        .unwrap()
        .children
        .iter()
        .find(|f| f.value("ID") == "SFDC_ACCOUNT_ID")
        .unwrap();
    assert_eq!(custom.value("ISCUSTOM"), "true");

    c.one(&format!(
        "<delete><object>CUSTOMER</object><keys>{recordno}</keys></delete>"
    ))
    .await;
    assert_eq!(sb.record_count("CUSTOMER"), 0);
    let a = c
        .call(&[(
            "d",
            &format!("<delete><object>CUSTOMER</object><keys>{recordno}</keys></delete>"),
        )])
        .await;
    assert_eq!(a.status(0), "failure");
    sb.shutdown().await;
}
