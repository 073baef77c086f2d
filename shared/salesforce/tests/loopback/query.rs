//! SOQL: paging through `nextRecordsUrl`, `queryAll`, batched reads by id, escaping.

use lf_domain::SalesforceId;
use lf_salesforce::{Condition, LikePattern, Order, QueryScope, Select};
use lf_sandbox_salesforce::SandboxConfig;
use serde_json::json;

use crate::support::{client, client_with, fields, org, org_with};

#[tokio::test]
async fn paging_follows_next_records_url_past_two_thousand() {
    let org = org_with(SandboxConfig {
        extra_accounts: 4_500,
        ..SandboxConfig::default()
    })
    .await;
    let sf = client(&org);
    let q = Select::new(&["Id", "Name"], "Account")
        .filter(Condition::like(
            "Name",
            LikePattern::starts_with("Volume Account"),
        ))
        .order_by("Name", Order::Asc)
        .build()
        .unwrap();

    let first = sf.query_page(&q, QueryScope::Live).await.unwrap();
    assert_eq!(first.total_size, 4_500);
    assert!(!first.done);
    assert!(first.records.len() <= 2_000);
    assert!(first.next_records_url.is_some());

    let calls = org.api_calls();
    let all = sf.query(&q).await.unwrap();
    assert_eq!(all.len(), 4_500);
    // Three pages of at most 2,000: the first request and two nextRecordsUrl follow-ups.
    assert_eq!(org.api_calls() - calls, 3);
    let mut ids: Vec<SalesforceId> = all.iter().filter_map(|r| r.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4_500, "no record twice, none missing");
    assert_eq!(all[0].text("Name").as_deref(), Some("Volume Account 00001"));
}

#[tokio::test]
async fn batch_size_header_changes_the_page_size() {
    let org = org_with(SandboxConfig {
        extra_accounts: 450,
        ..SandboxConfig::default()
    })
    .await;
    let sf = client_with(&org, |c| c.query_batch_size = Some(200));
    let q = Select::new(&["Id"], "Account").build().unwrap();
    let first = sf.query_page(&q, QueryScope::Live).await.unwrap();
    assert_eq!(first.records.len(), 200);
    assert_eq!(sf.query(&q).await.unwrap().len(), 450);
}

#[tokio::test]
async fn query_all_includes_deleted_rows() {
    let org = org().await;
    let sf = client(&org);
    let keep = sf
        .create("Account", &fields(json!({"Name": "Keep"})))
        .await
        .unwrap();
    let gone = sf
        .create("Account", &fields(json!({"Name": "Gone"})))
        .await
        .unwrap();
    sf.delete("Account", &gone).await.unwrap();
    let q = Select::new(&["Id", "IsDeleted"], "Account")
        .build()
        .unwrap();
    let live: Vec<_> = sf
        .query(&q)
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.id())
        .collect();
    assert_eq!(live, vec![keep.clone()]);
    let all = sf.query_all(&q).await.unwrap();
    assert_eq!(all.len(), 2);
    let deleted = all.iter().find(|r| r.id() == Some(gone.clone())).unwrap();
    assert_eq!(deleted.get("IsDeleted"), Some(&json!(true)));
}

#[tokio::test]
async fn read_by_ids_splits_in_batches_under_the_uri_limit() {
    let org = org_with(SandboxConfig {
        extra_accounts: 1_200,
        ..SandboxConfig::default()
    })
    .await;
    // A small URI budget forces several batches; each must still be accepted.
    let sf = client_with(&org, |c| c.max_uri_bytes = 4_000);
    let all = sf
        .query(&Select::new(&["Id"], "Account").build().unwrap())
        .await
        .unwrap();
    let mut ids: Vec<SalesforceId> = all.iter().filter_map(|r| r.id()).collect();
    assert_eq!(ids.len(), 1_200);
    ids.push(ids[0].clone()); // a duplicate is read once

    let expected_batches = lf_salesforce::query::ids_in_batches(
        sf.api_version(),
        "Account",
        &["Id", "Name"],
        &ids,
        4_000,
    )
    .unwrap()
    .len();
    assert!(expected_batches > 5, "{expected_batches}");

    let calls = org.api_calls();
    let read = sf
        .read_by_ids("Account", &["Id", "Name"], &ids)
        .await
        .unwrap();
    assert_eq!(read.len(), 1_200);
    assert_eq!(org.api_calls() - calls, expected_batches as u64);
}

#[tokio::test]
async fn literals_round_trip_through_escaping() {
    let org = org().await;
    let sf = client(&org);
    let tricky = "O'Brien \\ \"Quotes\" 100%_done\nline two";
    let id = sf
        .create("Account", &fields(json!({"Name": tricky})))
        .await
        .unwrap();
    sf.create("Account", &fields(json!({"Name": "O"})))
        .await
        .unwrap();

    let exact = Select::new(&["Id", "Name"], "Account")
        .filter(Condition::eq("Name", tricky))
        .build()
        .unwrap();
    let found = sf.query(&exact).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id(), Some(id.clone()));
    assert_eq!(found[0].text("Name").as_deref(), Some(tricky));

    // `%` and `_` in the literal part match only themselves.
    let like = Select::new(&["Id"], "Account")
        .filter(Condition::like("Name", LikePattern::contains("100%_done")))
        .build()
        .unwrap();
    assert_eq!(sf.query(&like).await.unwrap().len(), 1);
    let none = Select::new(&["Id"], "Account")
        .filter(Condition::like("Name", LikePattern::contains("100%Xdone")))
        .build()
        .unwrap();
    assert!(sf.query(&none).await.unwrap().is_empty());

    // An injection attempt is just a name that matches nothing.
    let attack = Select::new(&["Id"], "Account")
        .filter(Condition::eq("Name", "x' OR Name != '"))
        .build()
        .unwrap();
    assert!(sf.query(&attack).await.unwrap().is_empty());
}
