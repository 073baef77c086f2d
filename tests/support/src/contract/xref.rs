//! [`XrefStore`] contract.

use futures::future::join_all;
use lf_domain::port::{LinkKind, LinkOutcome, XrefLink, XrefPage, XrefStore};
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

fn key(k: &str) -> IntacctKey {
    IntacctKey::parse(k).unwrap()
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
            .find_by_intacct(LinkKind::AccountCustomer, &key("C-1"))
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
    assert_eq!(store.find_by_intacct(k, &key("C-2")).await.unwrap(), None);

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
            .find_by_intacct(k, &key("C-1"))
            .await
            .unwrap()
            .unwrap()
            .salesforce,
        sf(1)
    );
}

pub async fn kinds_are_separate_namespaces_and_keys_are_company_wide<H: Harness>(h: &H) {
    let store = h.xref().await;
    store
        .link(&link(
            LinkKind::AccountCustomer,
            &sf(1),
            &ia(Some("US"), "K-1"),
        ))
        .await
        .unwrap();
    // The same key in another entity is the same (company-unique) record: taken.
    let err = store
        .link(&link(
            LinkKind::AccountCustomer,
            &sf(2),
            &ia(Some("UK"), "K-1"),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");
    assert_eq!(
        store
            .find_by_salesforce(LinkKind::AccountCustomer, &sf(2))
            .await
            .unwrap(),
        None
    );
    // The same key under another kind is another record.
    assert_eq!(
        store
            .link(&link(
                LinkKind::ContactContact,
                &sf(3),
                &ia(Some("UK"), "K-1")
            ))
            .await
            .unwrap(),
        LinkOutcome::Created
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

pub async fn cross_entity_xref_lookup<H: Harness>(h: &H) {
    // A document made in entity US, and a customer made at the top level (the default):
    // events seen from any entity context carry only the company-unique key, and the link
    // says where the record lives.
    let store = h.xref().await;
    let invoice = link(
        LinkKind::OpportunityInvoice,
        &sf(1),
        &ia(Some("US"), "4711"),
    );
    let customer = link(LinkKind::AccountCustomer, &sf(2), &ia(None, "C-100"));
    store.link(&invoice).await.unwrap();
    store.link(&customer).await.unwrap();
    let found = store
        .find_by_intacct(LinkKind::OpportunityInvoice, &key("4711"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, invoice);
    assert_eq!(found.intacct.entity, Some(EntityId::parse("US").unwrap()));
    let found = store
        .find_by_intacct(LinkKind::AccountCustomer, &key("C-100"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.intacct.entity, None, "a top-level customer");
    assert_eq!(found.salesforce, sf(2));
    // Relinking the pair as if it lived elsewhere is refused; the stored entity stays.
    let moved = link(
        LinkKind::OpportunityInvoice,
        &sf(1),
        &ia(Some("UK"), "4711"),
    );
    let err = store.link(&moved).await.unwrap_err();
    assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");
    assert_eq!(
        store
            .find_by_salesforce(LinkKind::OpportunityInvoice, &sf(1))
            .await
            .unwrap(),
        Some(invoice.clone())
    );
    // The same pair with the same entity is still idempotent, and unlink needs only the key.
    assert_eq!(
        store.link(&invoice).await.unwrap(),
        LinkOutcome::AlreadyLinked
    );
    assert!(
        store
            .unlink(LinkKind::OpportunityInvoice, &sf(1), &key("4711"))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .find_by_intacct(LinkKind::OpportunityInvoice, &key("4711"))
            .await
            .unwrap(),
        None
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
    assert!(!store.unlink(k, &sf(1), &key("CT-9")).await.unwrap());
    assert!(store.find_by_salesforce(k, &sf(1)).await.unwrap().is_some());

    assert!(store.unlink(k, &sf(1), &key("CT-1")).await.unwrap());
    assert_eq!(store.find_by_salesforce(k, &sf(1)).await.unwrap(), None);
    assert_eq!(store.find_by_intacct(k, &key("CT-1")).await.unwrap(), None);
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
        let back = store.find_by_intacct(k, &c.intacct.key).await.unwrap();
        assert_eq!(
            back.is_some(),
            i == winners[0],
            "loser {i} must leave no half link"
        );
    }
}

pub async fn listing_pages_through_every_link_of_a_kind_once<H: Harness>(h: &H) {
    let store = h.xref().await;
    assert_eq!(
        store
            .list(LinkKind::AccountCustomer, None, 10)
            .await
            .unwrap(),
        XrefPage::default(),
        "an empty store lists nothing and has no next page"
    );
    let mut made = Vec::new();
    for n in 0..23u32 {
        let l = link(
            LinkKind::AccountCustomer,
            &sf(n),
            &ia(
                if n % 2 == 0 { None } else { Some("UK") },
                &format!("C-{n}"),
            ),
        );
        store.link(&l).await.unwrap();
        made.push(l);
    }
    // Links of another kind are not listed with these.
    store
        .link(&link(LinkKind::ContactContact, &sf(100), &ia(None, "K-1")))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .list(LinkKind::AccountCustomer, after.as_deref(), 5)
            .await
            .unwrap();
        assert!(page.links.len() <= 5, "{page:?}");
        seen.extend(page.links);
        pages += 1;
        assert!(pages < 100, "the listing does not end");
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    seen.sort_by(|a, b| a.salesforce.as_str().cmp(b.salesforce.as_str()));
    made.sort_by(|a, b| a.salesforce.as_str().cmp(b.salesforce.as_str()));
    assert_eq!(seen, made, "every link once, with its entity");
    let contacts = store
        .list(LinkKind::ContactContact, None, 50)
        .await
        .unwrap();
    assert_eq!(contacts.links.len(), 1, "{contacts:?}");
}
