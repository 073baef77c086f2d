//! The customer of a Salesforce Account, found or made, once for a whole batch: the stored
//! link first, then Intacct records carrying the Account's id (`SFDC_ACCOUNT_ID`, in any
//! entity), then the matching rules over candidates sharing an exact key; only an Account
//! nothing matches gets a new CUSTOMER, and then a link. Both Salesforce→Intacct flows
//! (opportunity-won, account-onboarding) resolve customers here, so an Account never gets a
//! second customer whichever flow sees it first.

use futures::future::join_all;
use lf_domain::port::{
    FieldTree, IdempotentWrite, IntacctObject, IntacctPort, LinkKind, QueryFilter, RecordQuery,
    XrefLink, XrefStore,
};
use lf_domain::{
    Classify, Clock, ErrorClass, IdempotencyKey, IntacctKey, IntacctRef, SalesforceId,
};
use lf_mapping::{Entity, MapContext, Mapped, MappingPlan, MatchDecision, alphanumeric_upper};
use serde_json::Value;

use crate::records::{intacct_tree, text};

/// The namespace of the idempotency keys of customer creates (their Intacct `controlid`s):
/// one per Account, whichever flow creates it.
const CREATE_KEY_NAMESPACE: &str = "customer-for-account";

/// Fields read of every candidate customer, besides what the mapping's rules read.
const CANDIDATE_FIELDS: [&str; 5] = ["RECORDNO", "CUSTOMERID", "NAME", "SFDC_ACCOUNT_ID", "TAXID"];

/// The stored links of `accounts`' customers (local store reads, concurrent).
pub(crate) async fn stored_links<X: XrefStore>(
    xref: &X,
    accounts: &[SalesforceId],
) -> Vec<Result<Option<IntacctKey>, (ErrorClass, String)>> {
    join_all(accounts.iter().map(|id| async move {
        xref.find_by_salesforce(LinkKind::AccountCustomer, id)
            .await
            .map(|link| link.map(|l| l.intacct.key))
            .map_err(|e| (e.class(), format!("reading the link of Account {id}: {e}")))
    }))
    .await
}

/// The one query of candidate customers for `accounts` (Salesforce Account records): those
/// carrying one of the Accounts' ids, and those sharing a customer id, tax id or name, so the
/// matching rules see every customer an exact key could link. `None` when there is nothing to
/// ask for.
pub(crate) fn candidate_query(plan: &MappingPlan, accounts: &[&Value]) -> Option<RecordQuery> {
    if accounts.is_empty() {
        return None;
    }
    let collect = |f: &dyn Fn(&Value) -> Option<String>| {
        let mut out: Vec<String> = accounts.iter().filter_map(|a| f(a)).collect();
        out.sort();
        out.dedup();
        out
    };
    let ids = collect(&|a| text(a, "Id").map(str::to_owned));
    let customer_ids = collect(&|a| text(a, "Intacct_Customer_ID__c").map(str::to_owned));
    let tax_ids = collect(&|a| {
        text(a, "Tax_ID__c")
            .map(alphanumeric_upper)
            .filter(|t| !t.is_empty())
    });
    let names = collect(&|a| text(a, "Name").map(|n| n.trim().to_owned()));
    let mut any = Vec::new();
    for (field, values) in [
        ("SFDC_ACCOUNT_ID", ids),
        ("CUSTOMERID", customer_ids),
        ("TAXID", tax_ids),
        ("NAME", names),
    ] {
        if !values.is_empty() {
            any.push(QueryFilter::In(field.to_owned(), values));
        }
    }
    let mut fields: Vec<String> = CANDIDATE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    for path in plan.target_reads().paths() {
        if !fields.contains(&path) {
            fields.push(path);
        }
    }
    Some(
        RecordQuery::new(IntacctObject::Customer.name(), fields)
            .filter(QueryFilter::Or(any))
            .order_by("RECORDNO"),
    )
}

/// What to do for one Account's customer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolution {
    /// This customer is the Account's (linked, carrying its id, or matched by a key).
    Existing { customer_id: String, how: String },
    /// Nothing matched: create this CUSTOMER.
    Create { fields: FieldTree },
    /// A person must decide (several customers share a key, or only a similar name exists), or
    /// the Account cannot be mapped.
    Park(String),
}

/// Decides one Account's customer from the candidates the batch's query returned. Pure.
pub(crate) fn resolve(
    plan: &MappingPlan,
    account: &Value,
    entity: Option<&Entity>,
    candidates: &[Value],
) -> Resolution {
    let label = format!("Account {}", text(account, "Id").unwrap_or("(no id)"));
    let id_of = |c: &Value| text(c, "CUSTOMERID").map(str::to_owned);
    if let Some(rules) = plan.matching() {
        match rules.decide(account, candidates) {
            MatchDecision::Linked { candidate, key } => {
                if let Some(customer_id) = candidates.get(candidate).and_then(id_of) {
                    return Resolution::Existing {
                        customer_id,
                        how: format!("matched by {key}"),
                    };
                }
            }
            MatchDecision::Ambiguous {
                key,
                candidates: hits,
            } => {
                let ids: Vec<String> = hits
                    .iter()
                    .filter_map(|i| candidates.get(*i).and_then(id_of))
                    .collect();
                return Resolution::Park(format!(
                    "{label}: several Intacct customers share its {key} ({}); link one by \
                     setting Intacct_Customer_ID__c, then replay",
                    ids.join(", ")
                ));
            }
            MatchDecision::Review { candidate, score } => {
                let other = candidates.get(candidate);
                return Resolution::Park(format!(
                    "{label}: Intacct customer {} ({}) has a similar name (score {score:.2}) \
                     but no matching key; link it by setting Intacct_Customer_ID__c, or clear \
                     the doubt and replay",
                    other.and_then(id_of).unwrap_or_default(),
                    other.and_then(|c| text(c, "NAME")).unwrap_or_default(),
                ));
            }
            MatchDecision::NoMatch => {}
        }
    }
    match plan.map(
        account,
        &MapContext {
            entity,
            rates: None,
        },
    ) {
        Ok(Mapped::Record(record)) => Resolution::Create {
            fields: record.fields,
        },
        Ok(Mapped::Skipped) => Resolution::Park(format!(
            "{label}: the customer mapping `{}` skips this account",
            plan.name()
        )),
        Err(error) => Resolution::Park(error.to_string()),
    }
}

/// The candidate customers of one query answer as trees the matching rules read.
pub(crate) fn candidates(records: &[lf_domain::port::IntacctRecord]) -> Vec<Value> {
    records.iter().map(intacct_tree).collect()
}

/// A failed step of one record: its class (retry or park) and a readable reason.
pub(crate) type Failure = (ErrorClass, String);

/// Creates the customers of `creates` (Account id, CUSTOMER fields) at the top level in one
/// request, each keyed by its Account so a retried batch finds what an earlier attempt made.
/// One result per create: the new (or recovered) CUSTOMERID.
pub(crate) async fn create<I: IntacctPort>(
    intacct: &I,
    creates: &[(SalesforceId, FieldTree)],
) -> Vec<Result<String, Failure>> {
    if creates.is_empty() {
        return Vec::new();
    }
    let mut writes = Vec::with_capacity(creates.len());
    for (account, fields) in creates {
        match IdempotencyKey::derive(CREATE_KEY_NAMESPACE, &[account.as_str()]) {
            Ok(key) => writes.push(IdempotentWrite {
                key,
                object: IntacctObject::Customer,
                link: account.clone(),
                fields: fields.clone(),
            }),
            Err(e) => {
                return creates
                    .iter()
                    .map(|_| Err((ErrorClass::Permanent, format!("customer key: {e}"))))
                    .collect();
            }
        }
    }
    let entity = IntacctObject::Customer.default_entity(None);
    match intacct.create_missing(entity.as_ref(), &writes).await {
        Ok(results) => results
            .into_iter()
            .zip(creates)
            .map(|(r, (account, _))| match r {
                Ok(created) => created
                    .record
                    .id
                    .clone()
                    .or_else(|| created.record.field("CUSTOMERID").map(str::to_owned))
                    .ok_or_else(|| {
                        (
                            ErrorClass::Transient,
                            format!("the customer of Account {account} was created without a CUSTOMERID in the answer"),
                        )
                    }),
                Err(e) => Err((
                    e.class(),
                    format!("creating the customer of Account {account}: {e}"),
                )),
            })
            .collect(),
        Err(e) => {
            let reason = format!("creating {} customers: {e}", creates.len());
            creates.iter().map(|_| Err((e.class(), reason.clone()))).collect()
        }
    }
}

/// Stores the links of resolved customers (top-level records). A failure is logged: the
/// customer carries the Account's id, so the next run finds it by that.
pub(crate) async fn link<X: XrefStore>(
    xref: &X,
    clock: &dyn Clock,
    links: &[(SalesforceId, String)],
) {
    let now = clock.now();
    let writes = links.iter().map(|(account, customer)| async move {
        let key = match IntacctKey::parse(customer) {
            Ok(key) => key,
            Err(error) => {
                tracing::warn!(%account, customer, %error, "customer id is not a valid key; not linked");
                return;
            }
        };
        let link = XrefLink {
            kind: LinkKind::AccountCustomer,
            salesforce: account.clone(),
            intacct: IntacctRef { entity: None, key },
            linked_at: now,
        };
        if let Err(error) = xref.link(&link).await {
            tracing::warn!(%account, customer, %error, "customer link not stored");
        }
    });
    join_all(writes).await;
}

/// One Account whose customer a batch needs.
#[derive(Debug)]
pub(crate) struct AccountNeed<'a> {
    pub id: SalesforceId,
    /// The Account as read (the customer mapping's fields).
    pub record: &'a Value,
    /// The entity the customer's fields (currency, terms, AR account) come from.
    pub entity: Option<&'a Entity>,
}

/// An Account's customer, found or made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub customer_id: String,
    pub created: bool,
    /// How it was found (`linked`, `matched by tax_id`, `created`).
    pub how: String,
}

/// Why an Account has no customer now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Unresolved {
    /// Worth another delivery.
    Retry(ErrorClass, String),
    /// A person must act.
    Park(String),
}

impl From<Failure> for Unresolved {
    fn from((class, reason): Failure) -> Self {
        if class.is_retryable() {
            Unresolved::Retry(class, reason)
        } else {
            Unresolved::Park(reason)
        }
    }
}

/// What [`resolve_batch`] found: per Account its customer, and the answers to the caller's
/// own queries that went in the same request.
#[derive(Debug)]
pub(crate) struct BatchCustomers<E> {
    pub customers: Vec<Result<Resolved, Unresolved>>,
    pub extra: Vec<Result<Vec<lf_domain::port::IntacctRecord>, E>>,
}

/// Resolves the customers of `accounts` for one batch: stored links (local reads), then one
/// Intacct request with the candidate query for the unlinked Accounts and the caller's
/// `extra` queries (read at the top level, so records of every entity are seen), the
/// matching rules, one request creating every missing customer, and the links. The outer
/// `Err` is the read request failing as a whole.
pub(crate) async fn resolve_batch<I: IntacctPort, X: XrefStore>(
    intacct: &I,
    xref: &X,
    clock: &dyn Clock,
    plan: &MappingPlan,
    accounts: &[AccountNeed<'_>],
    extra: Vec<RecordQuery>,
) -> Result<BatchCustomers<I::Error>, Failure> {
    let stored = stored_links(
        xref,
        &accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
    )
    .await;
    let mut customers: Vec<Option<Result<Resolved, Unresolved>>> = stored
        .into_iter()
        .map(|s| match s {
            Ok(Some(key)) => Some(Ok(Resolved {
                customer_id: key.as_str().to_owned(),
                created: false,
                how: "linked".to_owned(),
            })),
            Ok(None) => None,
            Err(f) => Some(Err(f.into())),
        })
        .collect();
    let open: Vec<usize> = (0..accounts.len())
        .filter(|i| customers[*i].is_none())
        .collect();
    let open_records: Vec<&Value> = open.iter().map(|i| accounts[*i].record).collect();
    let candidate = candidate_query(plan, &open_records);
    let mut queries = extra;
    let extra_count = queries.len();
    if let Some(q) = candidate {
        queries.push(q);
    }
    let mut answers = if queries.is_empty() {
        Vec::new()
    } else {
        intacct.query_many(None, &queries).await.map_err(|e| {
            (
                e.class(),
                format!("reading Intacct customers and documents: {e}"),
            )
        })?
    };
    let candidate_answer = (answers.len() > extra_count).then(|| answers.remove(extra_count));
    let pool: Result<Vec<Value>, Failure> = match candidate_answer {
        Some(Ok(records)) => Ok(candidates(&records)),
        Some(Err(e)) => Err((e.class(), format!("reading candidate customers: {e}"))),
        None => Ok(Vec::new()),
    };

    let mut creates: Vec<(usize, (SalesforceId, FieldTree))> = Vec::new();
    for &i in &open {
        let account = &accounts[i];
        customers[i] = match &pool {
            Err(f) => Some(Err(f.clone().into())),
            Ok(pool) => match resolve(plan, account.record, account.entity, pool) {
                Resolution::Existing { customer_id, how } => Some(Ok(Resolved {
                    customer_id,
                    created: false,
                    how,
                })),
                Resolution::Park(reason) => Some(Err(Unresolved::Park(reason))),
                Resolution::Create { fields } => {
                    // Two Accounts of one batch never share a create: each is its own.
                    creates.push((i, (account.id.clone(), fields)));
                    None
                }
            },
        };
    }
    let made = create(
        intacct,
        &creates.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
    )
    .await;
    for ((i, _), result) in creates.iter().zip(made) {
        customers[*i] = Some(match result {
            Ok(customer_id) => Ok(Resolved {
                customer_id,
                created: true,
                how: "created".to_owned(),
            }),
            Err(f) => Err(f.into()),
        });
    }
    let customers: Vec<Result<Resolved, Unresolved>> = customers
        .into_iter()
        .map(|c| {
            c.unwrap_or_else(|| {
                Err(Unresolved::Retry(
                    ErrorClass::Transient,
                    "the customer was not decided".to_owned(),
                ))
            })
        })
        .collect();
    let to_link: Vec<(SalesforceId, String)> = customers
        .iter()
        .zip(accounts)
        .filter_map(|(c, a)| match c {
            Ok(r) if r.how != "linked" => Some((a.id.clone(), r.customer_id.clone())),
            _ => None,
        })
        .collect();
    link(xref, clock, &to_link).await;
    Ok(BatchCustomers {
        customers,
        extra: answers,
    })
}

/// What [`resolve_batch`] would do for one Account, decided without writing anything.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomerPreview {
    /// Linked already (the stored link): nothing to do.
    Linked { customer_id: String },
    /// An existing customer would be linked (`how`: the matching key).
    Link { customer_id: String, how: String },
    /// A customer would be created; its CUSTOMERID when the mapping sets one.
    Create { customer_id: Option<String> },
    /// Left for a person (or not to be onboarded), with the reason.
    Leave { reason: String },
}

/// The decisions of [`resolve_batch`] for `accounts`, from the same stored links, the same one
/// candidate query and the same matching rules, without creating or linking anything.
pub(crate) async fn preview_batch<I: IntacctPort, X: XrefStore>(
    intacct: &I,
    xref: &X,
    plan: &MappingPlan,
    accounts: &[AccountNeed<'_>],
) -> Result<Vec<CustomerPreview>, Failure> {
    let stored = stored_links(
        xref,
        &accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
    )
    .await;
    let mut out: Vec<Option<CustomerPreview>> = Vec::with_capacity(accounts.len());
    for s in stored {
        out.push(match s {
            Ok(Some(key)) => Some(CustomerPreview::Linked {
                customer_id: key.as_str().to_owned(),
            }),
            Ok(None) => None,
            Err((_, reason)) => Some(CustomerPreview::Leave { reason }),
        });
    }
    let open: Vec<usize> = (0..accounts.len()).filter(|i| out[*i].is_none()).collect();
    let open_records: Vec<&Value> = open.iter().map(|i| accounts[*i].record).collect();
    let pool = match candidate_query(plan, &open_records) {
        Some(q) => {
            let mut answers = intacct
                .query_many(None, std::slice::from_ref(&q))
                .await
                .map_err(|e| (e.class(), format!("reading Intacct customers: {e}")))?;
            match answers.pop() {
                Some(Ok(records)) => candidates(&records),
                Some(Err(e)) => {
                    return Err((e.class(), format!("reading candidate customers: {e}")));
                }
                None => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    for &i in &open {
        let account = &accounts[i];
        out[i] = Some(match resolve(plan, account.record, account.entity, &pool) {
            Resolution::Existing { customer_id, how } => CustomerPreview::Link { customer_id, how },
            Resolution::Create { fields } => CustomerPreview::Create {
                customer_id: fields
                    .get("CUSTOMERID")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            },
            Resolution::Park(reason) => CustomerPreview::Leave { reason },
        });
    }
    Ok(out
        .into_iter()
        .map(|p| {
            p.unwrap_or_else(|| CustomerPreview::Leave {
                reason: "not decided".to_owned(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use lf_domain::Flow;
    use lf_mapping::SpecBundle;
    use serde_json::json;

    use super::*;

    #[test]
    fn candidates_are_asked_for_by_every_exact_key_in_one_query() {
        let specs = SpecBundle::shipped().compile().unwrap();
        let plan = specs.mapping(Flow::AccountOnboarding, "customer").unwrap();
        let a = json!({"Id": "001000000000001AAA", "Name": " Acme ", "Tax_ID__c": "91-40"});
        let b =
            json!({"Id": "001000000000002AAA", "Name": "Globex", "Intacct_Customer_ID__c": "C-9"});
        let q = candidate_query(plan, &[&a, &b]).unwrap();
        assert_eq!(q.object, "CUSTOMER");
        let Some(QueryFilter::Or(any)) = &q.filter else {
            panic!("an OR of keys: {:?}", q.filter)
        };
        assert!(any.contains(&QueryFilter::In(
            "SFDC_ACCOUNT_ID".into(),
            vec!["001000000000001AAA".into(), "001000000000002AAA".into()]
        )));
        assert!(any.contains(&QueryFilter::In("CUSTOMERID".into(), vec!["C-9".into()])));
        assert!(any.contains(&QueryFilter::In("TAXID".into(), vec!["9140".into()])));
        assert!(any.contains(&QueryFilter::In(
            "NAME".into(),
            vec!["Acme".into(), "Globex".into()]
        )));
        assert!(candidate_query(plan, &[]).is_none());
    }

    #[test]
    fn matching_links_a_shared_key_and_parks_doubt() {
        let specs = SpecBundle::shipped().compile().unwrap();
        let plan = specs.mapping(Flow::AccountOnboarding, "customer").unwrap();
        let account = json!({"Id": "001000000000001AAA", "Name": "Acme Robotics", "Type": "Customer - Direct",
                             "Tax_ID__c": "91-4000001", "BillingCountry": "US"});
        let same_tax =
            json!({"CUSTOMERID": "C-1", "NAME": "ACME Robotics Inc", "TAXID": "914000001"});
        match resolve(plan, &account, None, std::slice::from_ref(&same_tax)) {
            Resolution::Existing { customer_id, how } => {
                assert_eq!(customer_id, "C-1");
                assert!(how.contains("tax_id"), "{how}");
            }
            other => panic!("linked by tax id, got {other:?}"),
        }
        let twice = json!({"CUSTOMERID": "C-2", "NAME": "Acme dup", "TAXID": "914000001"});
        assert!(matches!(
            resolve(plan, &account, None, &[same_tax, twice]),
            Resolution::Park(reason) if reason.contains("C-1") && reason.contains("C-2")
        ));
        let similar = json!({"CUSTOMERID": "C-3", "NAME": "Acme Robotics"});
        assert!(matches!(
            resolve(plan, &account, None, &[similar]),
            Resolution::Park(reason) if reason.contains("similar name")
        ));
        assert!(matches!(
            resolve(plan, &account, None, &[]),
            Resolution::Create { fields } if fields.get("NAME") == Some(&json!("Acme Robotics"))
        ));
    }
}
