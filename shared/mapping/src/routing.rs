//! Entity routing: ordered rules pick the Intacct entity for a record, and the entity brings
//! its defaults (base currency, exchange rate type, tax, AR account, terms, dimensions).

use std::collections::BTreeMap;
use std::sync::Arc;

use lf_domain::{CurrencyCode, EntityId};
use serde_json::{Map, Value};

use crate::expr::{Bindings, EntityView, Expr};
use crate::path::Reads;

/// An Intacct entity and its defaults, as declared in the spec.
#[derive(Debug)]
pub struct Entity {
    pub id: EntityId,
    pub name: Option<String>,
    pub base_currency: CurrencyCode,
    /// The Intacct exchange rate type (`EXCHRATETYPE`) the entity's documents carry, so that
    /// Intacct converts them at the document date. Specs hold no rates.
    pub exchange_rate_type: String,
    pub tax_solution: Option<String>,
    pub tax_code: Option<String>,
    pub ar_account: Option<String>,
    pub terms: Option<String>,
    pub dimensions: BTreeMap<String, String>,
    /// The entity as expressions see it, built once.
    pub(crate) view: EntityView,
}

impl Entity {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: EntityId,
        name: Option<String>,
        base_currency: CurrencyCode,
        exchange_rate_type: String,
        tax_solution: Option<String>,
        tax_code: Option<String>,
        ar_account: Option<String>,
        terms: Option<String>,
        dimensions: BTreeMap<String, String>,
    ) -> Entity {
        let mut m = Map::new();
        let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        m.insert("id".into(), Value::String(id.to_string()));
        m.insert("name".into(), opt(&name));
        m.insert(
            "base_currency".into(),
            Value::String(base_currency.to_string()),
        );
        m.insert(
            "exchange_rate_type".into(),
            Value::String(exchange_rate_type.clone()),
        );
        m.insert("tax_solution".into(), opt(&tax_solution));
        m.insert("tax_code".into(), opt(&tax_code));
        m.insert("ar_account".into(), opt(&ar_account));
        m.insert("terms".into(), opt(&terms));
        m.insert(
            "dimensions".into(),
            Value::Object(
                dimensions
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        let view = EntityView::new(&Value::Object(m));
        Entity {
            id,
            name,
            base_currency,
            exchange_rate_type,
            tax_solution,
            tax_code,
            ar_account,
            terms,
            dimensions,
            view,
        }
    }
}

/// One compiled routing rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub name: String,
    pub when: Expr,
    pub entity: Arc<Entity>,
}

/// Compiled routing. A mapping holds its own copy (rules are expressions, cheap to clone), so
/// that the record fields the rules read come from the mapping's `Reads`.
#[derive(Debug, Clone)]
pub(crate) struct RoutingPlan {
    pub name: String,
    pub rules: Vec<Rule>,
    pub fallback: Option<Arc<Entity>>,
}

/// Why routing failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteFailure {
    /// No rule matched and there is no fallback.
    NoMatch { tried: Vec<String> },
    /// A rule could not be evaluated on this record.
    Rule { rule: String, message: String },
}

impl RoutingPlan {
    /// Reads the record fields of the rules through slots of `reads`.
    pub(crate) fn intern_reads(&mut self, reads: &mut Reads) {
        for rule in &mut self.rules {
            rule.when.intern_reads(reads);
        }
    }

    /// The first rule whose condition holds, with its name; else the fallback. `slots` are
    /// the record's values for the mapping's `Reads` (or empty: the rules read the record).
    pub(crate) fn route<'a>(
        &'a self,
        record: &'a Value,
        slots: &'a [Option<&'a Value>],
    ) -> Result<(Arc<Entity>, Option<&'a str>), RouteFailure> {
        let b = Bindings {
            record,
            line: None,
            entity: None,
            slots,
        };
        for rule in &self.rules {
            match rule.when.test(&b) {
                Ok(true) => return Ok((rule.entity.clone(), Some(&rule.name))),
                Ok(false) => {}
                Err(message) => {
                    return Err(RouteFailure::Rule {
                        rule: rule.name.clone(),
                        message,
                    });
                }
            }
        }
        match &self.fallback {
            Some(e) => Ok((e.clone(), None)),
            None => Err(RouteFailure::NoMatch {
                tried: self.rules.iter().map(|r| r.name.clone()).collect(),
            }),
        }
    }
}
