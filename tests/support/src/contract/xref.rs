//! [`XrefStore`] contract.

use futures::future::join_all;
use lf_domain::port::{LinkKind, LinkOutcome, XrefLink, XrefStore};
use lf_domain::{EntityId, IntacctKey, IntacctRef, PortError, SalesforceId};

use crate::{Harness, epoch};

fn sf(n: u32) -> SalesforceId {
    SalesforceId::parse(&format!("001Aa{n:010}")).unwrap()
}

fn ia(entity: Option<&str>, key: &str) -> IntacctRef {
    IntacctRef::new(
        entity.map(|e| EntityId::parse(e).unwrap()),
        IntacctKey::parse(key).unwrap(),
    )
}

fn link(kind: LinkKind, s: &SalesforceId, i: &IntacctRef) -> XrefLink {
    XrefLink {
        kind,
        salesforce: s.clone(),
        intacct: i.clone(),
        linked_at: epoch(),
    }
}

pub async fn link_is_readable_from_both_sides<H: Harness>(h: &H) {
    let store = h.xref().await;
    let l = link(LinkKind::AccountCustomer, &sf(1), &ia(Some("US"), "C-1"));
    assert_eq!(store.link(&l).await.unwrap(), LinkOutcome::Created);
    assert_eq!(
        store
            .find_by_salesforce(LinkKind::AccountCustomer, &sf(1))
            .await
            .unwrap(),
        Some(l.clone())
    );
    assert_eq!(
        store
            .find_by_intacct(LinkKind::AccountCustomer, &ia(Some("US"), "C-1"))
            .await
            .unwrap(),
        Some(l.clone())
    );
    // The 15-character form of the id names the same record.
    let short = SalesforceId::parse(sf(1).to_15()).unwrap();
    assert_eq!(
        store
            .find_by_salesforce(LinkKind::AccountCustomer, &short)
            .await
            .unwrap(),
        Some(l)
    );
    assert_eq!(
        store
            .find_by_salesforce(LinkKind::AccountCustomer, &sf(2))
            .await
            .unwrap(),
        None
    );
}

pub async fn relinking_the_same_pair_is_idempotent<H: Harness>(h: &H) {
    let store = h.xref().await;
    let first = link(LinkKind::AccountCustomer, &sf(1), &ia(None, "C-1"));
    assert_eq!(store.link(&first).await.unwrap(), LinkOutcome::Created);
    let mut again = first.clone();
    again.linked_at = epoch() + chrono::Duration::hours(1);
    assert_eq!(
        store.link(&again).await.unwrap(),
        LinkOutcome::AlreadyLinked
    );
    let stored = store
        .find_by_salesforce(LinkKind::AccountCustomer, &sf(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.linked_at, epoch(), "the first link's time is kept");
}

pub async fn conflicting_links_change_nothing<H: Harness>(h: &H) {
    let store = h.xref().await;
    let k = LinkKind::AccountCustomer;
    store
        .link(&link(k, &sf(1), &ia(None, "C-1")))
        .await
        .unwrap();

    // Same Salesforce record, other customer.
    let err = store
        .link(&link(k, &sf(1), &ia(None, "C-2")))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");
    assert_eq!(
        store.find_by_intacct(k, &ia(None, "C-2")).await.unwrap(),
        None
    );

    // Other Salesforce record, same customer.
    let err = store
        .link(&link(k, &sf(2), &ia(None, "C-1")))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");
    assert_eq!(store.find_by_salesforce(k, &sf(2)).await.unwrap(), None);

    // The original pair is intact in both directions.
    assert_eq!(
        store
            .find_by_salesforce(k, &sf(1))
            .await
            .unwrap()
            .unwrap()
            .intacct,
        ia(None, "C-1")
    );
    assert_eq!(
        store
            .find_by_intacct(k, &ia(None, "C-1"))
            .await
            .unwrap()
            .unwrap()
            .salesforce,
        sf(1)
    );
}

pub async fn kinds_and_entities_are_separate_namespaces<H: Harness>(h: &H) {
    let store = h.xref().await;
    store
        .link(&link(
            LinkKind::AccountCustomer,
            &sf(1),
            &ia(Some("US"), "K-1"),
        ))
        .await
        .unwrap();
    // The same key in another entity is another record.
    assert_eq!(
        store
            .link(&link(
                LinkKind::AccountCustomer,
                &sf(2),
                &ia(Some("UK"), "K-1")
            ))
            .await
            .unwrap(),
        LinkOutcome::Created
    );
    // The same key at top level is another record too.
    assert_eq!(
        store
            .find_by_intacct(LinkKind::AccountCustomer, &ia(None, "K-1"))
            .await
            .unwrap(),
        None
    );
    // The same Salesforce id may have one link per kind.
    assert_eq!(
        store
            .link(&link(
                LinkKind::OpportunityInvoice,
                &sf(1),
                &ia(Some("US"), "INV-1")
            ))
            .await
            .unwrap(),
        LinkOutcome::Created
    );
    assert_eq!(
        store
            .find_by_salesforce(LinkKind::OpportunityOrder, &sf(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_by_salesforce(LinkKind::AccountCustomer, &sf(1))
            .await
            .unwrap()
            .unwrap()
            .intacct,
        ia(Some("US"), "K-1")
    );
}

pub async fn unlink_removes_both_directions<H: Harness>(h: &H) {
    let store = h.xref().await;
    let k = LinkKind::ContactContact;
    store
        .link(&link(k, &sf(1), &ia(None, "CT-1")))
        .await
        .unwrap();
    // A pair that is not linked: nothing happens.
    assert!(!store.unlink(k, &sf(1), &ia(None, "CT-9")).await.unwrap());
    assert!(store.find_by_salesforce(k, &sf(1)).await.unwrap().is_some());

    assert!(store.unlink(k, &sf(1), &ia(None, "CT-1")).await.unwrap());
    assert_eq!(store.find_by_salesforce(k, &sf(1)).await.unwrap(), None);
    assert_eq!(
        store.find_by_intacct(k, &ia(None, "CT-1")).await.unwrap(),
        None
    );
    // Both sides are free to be linked again.
    assert_eq!(
        store
            .link(&link(k, &sf(1), &ia(None, "CT-2")))
            .await
            .unwrap(),
        LinkOutcome::Created
    );
}

pub async fn concurrent_links_have_one_winner<H: Harness>(h: &H) {
    let store = h.xref().await;
    let k = LinkKind::AccountCustomer;
    let candidates: Vec<XrefLink> = (0..8)
        .map(|i| link(k, &sf(7), &ia(None, &format!("C-{i}"))))
        .collect();
    let outcomes = join_all(candidates.iter().map(|l| store.link(l))).await;
    let winners: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Ok(LinkOutcome::Created)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one link wins: {outcomes:?}");
    for (i, o) in outcomes.iter().enumerate() {
        if i != winners[0] {
            assert!(matches!(o, Err(PortError::Conflict { .. })), "{o:?}");
        }
    }
    let stored = store.find_by_salesforce(k, &sf(7)).await.unwrap().unwrap();
    assert_eq!(stored.intacct, candidates[winners[0]].intacct);
    for (i, c) in candidates.iter().enumerate() {
        let back = store.find_by_intacct(k, &c.intacct).await.unwrap();
        assert_eq!(
            back.is_some(),
            i == winners[0],
            "loser {i} must leave no half link"
        );
    }
}
