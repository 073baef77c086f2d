//! Many functions in one request, each result handed back to the function that asked for it.

use std::collections::HashMap;

use lf_domain::EntityId;

use crate::client::{IntacctClient, SendOptions};
use crate::error::IntacctError;
use crate::function::Function;
use crate::response::ResultData;

/// Functions to send together. Without a transaction each function succeeds or fails on its
/// own; with one, a single failure rolls back all of them (the others come back `aborted`).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    functions: Vec<Function>,
    transaction: bool,
}

impl Batch {
    /// Independent functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// All-or-nothing: `<operation transaction="true">`.
    pub fn all_or_nothing() -> Self {
        Self {
            functions: Vec::new(),
            transaction: true,
        }
    }

    /// Adds a function and returns its controlid, the key of its outcome.
    pub fn push(&mut self, function: Function) -> String {
        let id = function.control_id().to_owned();
        self.functions.push(function);
        id
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether no function was added.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// The functions, in push order.
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// Whether the batch runs as one all-or-nothing transaction.
    pub fn is_transaction(&self) -> bool {
        self.transaction
    }
}

/// The outcome of every function of a batch, in the order they were pushed.
#[derive(Debug)]
pub struct BatchOutcome {
    outcomes: Vec<(String, Result<ResultData, IntacctError>)>,
}

impl BatchOutcome {
    /// `(controlid, outcome)` in push order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Result<ResultData, IntacctError>)> {
        self.outcomes.iter().map(|(id, r)| (id.as_str(), r))
    }

    /// The outcome of the function with this controlid.
    pub fn get(&self, control_id: &str) -> Option<&Result<ResultData, IntacctError>> {
        self.outcomes
            .iter()
            .find(|(id, _)| id == control_id)
            .map(|(_, r)| r)
    }

    /// The outcomes in push order.
    pub fn into_results(self) -> Vec<Result<ResultData, IntacctError>> {
        self.outcomes.into_iter().map(|(_, r)| r).collect()
    }

    /// How many functions succeeded.
    pub fn succeeded(&self) -> usize {
        self.outcomes.iter().filter(|(_, r)| r.is_ok()).count()
    }

    /// How many functions failed or were aborted.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.succeeded()
    }

    /// Number of outcomes (one per function).
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether the batch was empty.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }
}

impl IntacctClient {
    /// Sends the batch in one request (in the entity's session) and maps each result back to
    /// its function by controlid. The `Err` of the whole call means no function result came
    /// back (control or authentication refusal, transport failure); per-function failures are
    /// in the outcome.
    pub async fn execute(
        &self,
        entity: Option<&EntityId>,
        batch: &Batch,
    ) -> Result<BatchOutcome, IntacctError> {
        if batch.is_empty() {
            return Ok(BatchOutcome {
                outcomes: Vec::new(),
            });
        }
        let results = self
            .send(
                entity,
                batch.functions(),
                SendOptions {
                    transaction: batch.transaction,
                },
            )
            .await?;
        let mut by_id: HashMap<String, crate::response::FunctionResult> = results
            .into_iter()
            .map(|r| (r.control_id.clone(), r))
            .collect();
        let outcomes = batch
            .functions()
            .iter()
            .map(|f| {
                let id = f.control_id().to_owned();
                let outcome = match by_id.remove(&id) {
                    Some(r) => r.into_data(),
                    None => Err(IntacctError::protocol(format!(
                        "the response has no result for {} (controlid {id})",
                        f.name()
                    ))),
                };
                (id, outcome)
            })
            .collect();
        Ok(BatchOutcome { outcomes })
    }
}
