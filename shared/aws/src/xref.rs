//! [`XrefStore`] on DynamoDB. Each link is two items, one per direction (keys in
//! [`crate::key`]), each holding the whole link and the key of the other item (`counterpart`).
//! Both are written, and removed, in one transaction. The Intacct item is named by the
//! company-unique key alone; the entity is an attribute (`intacct_entity`, absent at the top
//! level).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use lf_domain::port::{LinkKind, LinkOutcome, XrefLink, XrefPage, XrefStore};
use lf_domain::{EntityId, IntacctKey, IntacctRef, PortError, SalesforceId};

use crate::attribute::{self, Item, s, time};
use crate::error::{build_failed, from_sdk};
use crate::key;
use crate::retry::{Attempt, quickly};
use crate::schema::PARTITION_KEY;

const KIND: &str = "kind";
const SALESFORCE_ID: &str = "salesforce_id";
const INTACCT_ENTITY: &str = "intacct_entity";
const INTACCT_KEY: &str = "intacct_key";
const LINKED_AT: &str = "linked_at";
const COUNTERPART: &str = "counterpart";

/// Cross-references in one DynamoDB table (partition key `pk`).
#[derive(Debug, Clone)]
pub struct DynamoXrefStore {
    client: Client,
    table: String,
}

/// The two keys of one link.
struct Pair {
    salesforce: String,
    intacct: String,
}

impl Pair {
    fn of(kind: LinkKind, salesforce: &SalesforceId, intacct: &IntacctKey) -> Self {
        Self {
            salesforce: key::xref_salesforce(kind, salesforce),
            intacct: key::xref_intacct(kind, intacct),
        }
    }
}

/// What stopped a transaction.
enum Cancelled {
    /// A condition failed.
    Condition {
        /// Per request item, in order: the stored item when its condition failed and the store
        /// returned it (ALL_OLD); `None` where the condition held.
        returned: Vec<Option<Item>>,
        /// Whether every failed condition came with its item; if not, read them instead.
        complete: bool,
    },
    /// Another transaction was writing the same items.
    Contention,
}

impl DynamoXrefStore {
    /// The store over `table` (see [`crate::schema::Table::Xref`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: &str) -> Result<Option<XrefLink>, PortError> {
        let item = attribute::read(&self.client, &self.table, PARTITION_KEY, pk).await?;
        item.as_ref().map(link_of).transpose()
    }

    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, PortError> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Ok(Ok(())),
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                let reasons = c.cancellation_reasons();
                if reasons.iter().any(|r| code(r) == "ConditionalCheckFailed") {
                    let complete = reasons
                        .iter()
                        .all(|r| code(r) != "ConditionalCheckFailed" || r.item().is_some());
                    let returned = reasons
                        .iter()
                        .map(|r| {
                            (code(r) == "ConditionalCheckFailed")
                                .then(|| r.item().cloned())
                                .flatten()
                        })
                        .collect();
                    Ok(Err(Cancelled::Condition { returned, complete }))
                } else if reasons.iter().any(|r| code(r) == "TransactionConflict") {
                    Ok(Err(Cancelled::Contention))
                } else {
                    Err(from_sdk(&format!("TransactWriteItems {}", self.table), err))
                }
            }
            Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                Ok(Err(Cancelled::Contention))
            }
            _ => Err(from_sdk(&format!("TransactWriteItems {}", self.table), err)),
        }
    }

    fn put(&self, item: Item) -> Result<TransactWriteItem, PortError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| build_failed("a transactional put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete(&self, pk: &str, counterpart: &str) -> Result<TransactWriteItem, PortError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk))
            .condition_expression("#counterpart = :counterpart")
            .expression_attribute_names("#counterpart", COUNTERPART)
            .expression_attribute_values(":counterpart", s(counterpart))
            .build()
            .map_err(|e| build_failed("a transactional delete", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// After a failed link: the links now stored under both keys, from what the cancellation
    /// returned when it is complete, else by reading.
    async fn current(
        &self,
        pair: &Pair,
        returned: Vec<Option<Item>>,
        complete: bool,
    ) -> Result<(Option<XrefLink>, Option<XrefLink>), PortError> {
        if complete {
            let mut links = returned
                .iter()
                .map(|item| item.as_ref().map(link_of).transpose());
            let salesforce = links.next().transpose()?.flatten();
            let intacct = links.next().transpose()?.flatten();
            return Ok((salesforce, intacct));
        }
        Ok((
            self.get(&pair.salesforce).await?,
            self.get(&pair.intacct).await?,
        ))
    }

    /// The error of a link or unlink that stopped: its own, or (attempts used up) contention.
    fn stopped(&self, attempt: Attempt) -> PortError {
        match attempt {
            Attempt::Stop(e) => e,
            Attempt::Again => PortError::Unavailable {
                message: format!(
                    "TransactWriteItems {}: the items kept changing under concurrent writes",
                    self.table
                ),
                source: None,
            },
        }
    }
}

fn code(reason: &CancellationReason) -> &str {
    reason.code().unwrap_or("None")
}

fn item_of(link: &XrefLink, pk: &str, counterpart: &str) -> Item {
    let mut item: Item = [
        (PARTITION_KEY.to_owned(), s(pk)),
        (COUNTERPART.to_owned(), s(counterpart)),
        (KIND.to_owned(), s(link.kind.as_str())),
        (SALESFORCE_ID.to_owned(), s(link.salesforce.as_str())),
        (INTACCT_KEY.to_owned(), s(link.intacct.key.as_str())),
        (LINKED_AT.to_owned(), time(link.linked_at)),
    ]
    .into();
    if let Some(entity) = &link.intacct.entity {
        item.insert(INTACCT_ENTITY.to_owned(), s(entity.as_str()));
    }
    item
}

fn link_of(item: &Item) -> Result<XrefLink, PortError> {
    let bad =
        |what: &str, e: &dyn std::fmt::Display| attribute::corrupt(item, format!("{what}: {e}"));
    let kind_name = attribute::string(item, KIND)?;
    let kind = LinkKind::parse(kind_name).ok_or_else(|| bad("unknown link kind", &kind_name))?;
    let salesforce = SalesforceId::parse(attribute::string(item, SALESFORCE_ID)?)
        .map_err(|e| bad(SALESFORCE_ID, &e))?;
    let entity = attribute::optional_string(item, INTACCT_ENTITY)?
        .map(EntityId::parse)
        .transpose()
        .map_err(|e| bad(INTACCT_ENTITY, &e))?;
    let key = IntacctKey::parse(attribute::string(item, INTACCT_KEY)?)
        .map_err(|e| bad(INTACCT_KEY, &e))?;
    Ok(XrefLink {
        kind,
        salesforce,
        intacct: IntacctRef::new(entity, key),
        linked_at: attribute::timestamp(item, LINKED_AT)?,
    })
}

/// The same pair: the entity is where the Intacct record lives, not part of its identity.
fn same_pair(a: &XrefLink, b: &XrefLink) -> bool {
    a.kind == b.kind && a.salesforce == b.salesforce && a.intacct.key == b.intacct.key
}

/// What a refused link means, given what is stored under its two keys: already linked, a
/// conflict, or `None` when neither explains the refusal (the pair was unlinked in between),
/// so the caller writes again.
fn after_refusal(
    link: &XrefLink,
    salesforce: Option<XrefLink>,
    intacct: Option<XrefLink>,
) -> Option<Result<LinkOutcome, PortError>> {
    match (salesforce, intacct) {
        (Some(sf), Some(ia)) if same_pair(&sf, link) && same_pair(&ia, link) => {
            Some(if sf.intacct.entity == link.intacct.entity {
                Ok(LinkOutcome::AlreadyLinked)
            } else {
                Err(PortError::conflict(format!(
                    "Salesforce {} is already linked ({}) to Intacct {}, not {}: one record \
                     cannot live in two entities",
                    link.salesforce,
                    link.kind.as_str(),
                    sf.intacct,
                    link.intacct
                )))
            })
        }
        (Some(sf), _) if !same_pair(&sf, link) => Some(Err(PortError::conflict(format!(
            "Salesforce {} is already linked ({}) to Intacct {}",
            link.salesforce,
            link.kind.as_str(),
            sf.intacct
        )))),
        (_, Some(ia)) if !same_pair(&ia, link) => Some(Err(PortError::conflict(format!(
            "Intacct {} is already linked ({}) to Salesforce {}",
            link.intacct,
            link.kind.as_str(),
            ia.salesforce
        )))),
        _ => None,
    }
}

impl XrefStore for DynamoXrefStore {
    async fn link(&self, link: &XrefLink) -> Result<LinkOutcome, PortError> {
        let pair = Pair::of(link.kind, &link.salesforce, &link.intacct.key);
        let pair = &pair;
        let linked = quickly("xref link", |attempt| async move {
            // Both puts require their key to be free. An existing item is never overwritten,
            // so relinking the same pair keeps the first `linked_at`.
            let items = vec![
                self.put(item_of(link, &pair.salesforce, &pair.intacct))?,
                self.put(item_of(link, &pair.intacct, &pair.salesforce))?,
            ];
            match self.transact(items).await? {
                Ok(()) => Ok(LinkOutcome::Created),
                Err(Cancelled::Contention) => {
                    tracing::debug!(table = %self.table, attempt, "xref link contended; retrying");
                    Err(Attempt::Again)
                }
                Err(Cancelled::Condition { returned, complete }) => {
                    let (salesforce, intacct) = self.current(pair, returned, complete).await?;
                    // Nothing explains the refusal (the pair was unlinked in between): write
                    // again.
                    after_refusal(link, salesforce, intacct)
                        .ok_or(Attempt::Again)?
                        .map_err(Attempt::Stop)
                }
            }
        })
        .await;
        linked.map_err(|e| self.stopped(e))
    }

    async fn find_by_salesforce(
        &self,
        kind: LinkKind,
        id: &SalesforceId,
    ) -> Result<Option<XrefLink>, PortError> {
        self.get(&key::xref_salesforce(kind, id)).await
    }

    async fn find_by_intacct(
        &self,
        kind: LinkKind,
        key: &IntacctKey,
    ) -> Result<Option<XrefLink>, PortError> {
        self.get(&key::xref_intacct(kind, key)).await
    }

    async fn unlink(
        &self,
        kind: LinkKind,
        salesforce: &SalesforceId,
        intacct: &IntacctKey,
    ) -> Result<bool, PortError> {
        let pair = Pair::of(kind, salesforce, intacct);
        let pair = &pair;
        let unlinked = quickly("xref unlink", |_| async move {
            let items = vec![
                self.delete(&pair.salesforce, &pair.intacct)?,
                self.delete(&pair.intacct, &pair.salesforce)?,
            ];
            match self.transact(items).await? {
                Ok(()) => Ok(true),
                // Either side is missing or points elsewhere: this pair is not linked.
                Err(Cancelled::Condition { .. }) => Ok(false),
                Err(Cancelled::Contention) => Err(Attempt::Again),
            }
        })
        .await;
        unlinked.map_err(|e| self.stopped(e))
    }

    async fn list(
        &self,
        kind: LinkKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<XrefPage, PortError> {
        // A scan of the Salesforce-side items of the kind (each link once); the cursor is the
        // scan's last evaluated key. DynamoDB applies `Limit` before the filter, so a page may
        // come back short, even empty, with more to follow.
        let prefix = key::xref_salesforce_prefix(kind);
        let got = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(#pk, :prefix)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(after.map(|pk| [(PARTITION_KEY.to_owned(), s(pk))].into()))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("Scan {}", self.table), e))?;
        let links = got
            .items()
            .iter()
            .map(link_of)
            .collect::<Result<Vec<_>, _>>()?;
        let next = got
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get(PARTITION_KEY))
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok(XrefPage { links, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn items_round_trip_to_links() {
        let link = XrefLink {
            kind: LinkKind::OpportunityOrder,
            salesforce: SalesforceId::parse("006000000000001").unwrap(),
            intacct: IntacctRef::new(
                Some(EntityId::parse("UK").unwrap()),
                IntacctKey::parse("SO-0001").unwrap(),
            ),
            linked_at: DateTime::from_timestamp(1_772_355_600, 5).unwrap(),
        };
        let item = item_of(&link, "SF#x", "IA#y");
        assert_eq!(link_of(&item).unwrap(), link);

        let top = XrefLink {
            intacct: IntacctRef::top_level(IntacctKey::parse("C-1").unwrap()),
            ..link.clone()
        };
        let item = item_of(&top, "SF#x", "IA#y");
        assert!(!item.contains_key(INTACCT_ENTITY));
        assert_eq!(link_of(&item).unwrap(), top);
    }

    #[test]
    fn a_refused_link_is_explained_by_what_is_stored() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        let pair = |sf: &str, key: &str| XrefLink {
            kind: LinkKind::AccountCustomer,
            salesforce: SalesforceId::parse(sf).unwrap(),
            intacct: IntacctRef::top_level(IntacctKey::parse(key).unwrap()),
            linked_at: at,
        };
        let ours = pair("001000000000001", "C-1");
        let earlier = XrefLink {
            linked_at: DateTime::from_timestamp(99, 0).unwrap(),
            ..ours.clone()
        };
        assert!(matches!(
            after_refusal(&ours, Some(earlier.clone()), Some(earlier.clone())),
            Some(Ok(LinkOutcome::AlreadyLinked))
        ));
        let elsewhere = pair("001000000000001", "C-2");
        let err = after_refusal(&ours, Some(elsewhere), None)
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("Intacct C-2"), "{err}");
        let taken = pair("001000000000002", "C-1");
        let err = after_refusal(&ours, None, Some(taken))
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");
        // The same pair said to live in another entity: refused, naming both places.
        let moved = XrefLink {
            intacct: IntacctRef::new(
                Some(EntityId::parse("UK").unwrap()),
                IntacctKey::parse("C-1").unwrap(),
            ),
            ..ours.clone()
        };
        let err = after_refusal(&moved, Some(earlier.clone()), Some(earlier.clone()))
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("not UK/C-1"), "{err}");
        // Nothing (or half of our own pair, mid-unlink) explains it: write again.
        assert!(after_refusal(&ours, None, None).is_none());
        assert!(after_refusal(&ours, Some(earlier), None).is_none());
    }

    #[test]
    fn malformed_links_are_corrupt() {
        let link = XrefLink {
            kind: LinkKind::AccountCustomer,
            salesforce: SalesforceId::parse("001000000000001").unwrap(),
            intacct: IntacctRef::top_level(IntacctKey::parse("C-1").unwrap()),
            linked_at: DateTime::from_timestamp(0, 0).unwrap(),
        };
        let mut item = item_of(&link, "SF#x", "IA#y");
        item.insert(KIND.to_owned(), s("account-vendor"));
        assert!(matches!(link_of(&item), Err(PortError::Corrupt { .. })));
        let mut item = item_of(&link, "SF#x", "IA#y");
        item.insert(SALESFORCE_ID.to_owned(), s("not an id"));
        assert!(matches!(link_of(&item), Err(PortError::Corrupt { .. })));
    }
}
