//! The org's state and the operations the HTTP layer and the test API share.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use lf_domain::Clock;
use lf_sandbox_core::FaultPlan;
use serde_json::{Map, Value};

use crate::auth::{self, Credentials, Sessions};
use crate::bulk::Jobs;
use crate::fault::SalesforceFault;
use crate::outbound::{OrgInfo, Outbound};
use crate::schema::Schema;
use crate::store::{Store, Writer, make_id};
use crate::{SandboxConfig, SandboxError, seed};

/// Saved query results, for `nextRecordsUrl`.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    saved: HashMap<String, Vec<Value>>,
    order: VecDeque<String>,
}

/// Open cursors kept; older ones expire (Salesforce expires idle cursors too).
const MAX_CURSORS: usize = 200;

impl Cursors {
    pub fn save(&mut self, locator: String, records: Vec<Value>) {
        if self.order.len() >= MAX_CURSORS
            && let Some(old) = self.order.pop_front()
        {
            self.saved.remove(&old);
        }
        self.order.push_back(locator.clone());
        self.saved.insert(locator, records);
    }

    pub fn get(&self, locator: &str) -> Option<&Vec<Value>> {
        self.saved.get(locator)
    }
}

/// Daily API usage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub used: u64,
    pub max: u64,
}

/// Everything behind the org's lock.
#[derive(Debug)]
pub(crate) struct World {
    pub store: Store,
    pub sessions: Sessions,
    pub usage: Usage,
    pub cursors: Cursors,
    pub jobs: Jobs,
}

/// One emulated org.
#[derive(Debug)]
pub(crate) struct Org {
    pub credentials: Credentials,
    base_url: OnceLock<String>,
    world: Mutex<World>,
    pub faults: FaultPlan<SalesforceFault>,
    pub outbound: Outbound,
    pub clock: Arc<dyn Clock>,
    pub latency: Duration,
    pub slow_response: Duration,
}

impl Org {
    pub fn new(config: &SandboxConfig) -> Result<Self, SandboxError> {
        let keys = auth::key_material()?;
        let mut store = Store::new(Arc::clone(&config.clock));
        seed::load(&mut store, config.seed).map_err(SandboxError::Seed)?;
        seed::volume_accounts(&mut store, config.extra_accounts).map_err(SandboxError::Seed)?;
        // Seeding is not a change anyone is told about.
        store.take_changes();
        let credentials = Credentials {
            consumer_key: auth::DEMO_CONSUMER_KEY.to_owned(),
            consumer_secret: auth::DEMO_CONSUMER_SECRET.to_owned(),
            username: auth::DEMO_USERNAME.to_owned(),
            password: auth::DEMO_PASSWORD.to_owned(),
            org_id: make_id("00D", 1),
            user_id: store.user_id.clone(),
            private_key_pem: keys.private_pem.clone(),
            public_key_pem: keys.public_pem.clone(),
        };
        let faults = FaultPlan::new(config.fault_seed);
        for (fault, rate) in &config.fault_rates {
            faults.set_rate(*fault, *rate);
        }
        let outbound_config = config.outbound.clone().map(|mut c| {
            c.seed = config.fault_seed;
            c
        });
        Ok(Self {
            credentials,
            base_url: OnceLock::new(),
            world: Mutex::new(World {
                store,
                sessions: Sessions::default(),
                usage: Usage {
                    used: 0,
                    max: config.daily_limit,
                },
                cursors: Cursors::default(),
                jobs: Jobs::default(),
            }),
            faults,
            outbound: Outbound::new(config.outbound_rules.clone(), outbound_config),
            clock: Arc::clone(&config.clock),
            latency: config.latency,
            slow_response: config.slow_response,
        })
    }

    pub fn set_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }

    pub fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map_or("http://127.0.0.1", String::as_str)
    }

    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn issue_token(&self) -> String {
        self.lock().sessions.issue(&self.credentials.org_id)
    }

    pub fn expire_sessions(&self) {
        self.lock().sessions.expire_all();
    }

    pub fn tokens_issued(&self) -> u64 {
        self.lock().sessions.issued()
    }

    pub fn unchanged_updates(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.lock().store.unchanged_updates.clone()
    }

    pub fn api_usage(&self) -> (u64, u64) {
        let w = self.lock();
        (w.usage.used, w.usage.max)
    }

    pub fn set_limit(&self, used: Option<u64>, max: Option<u64>) {
        let mut w = self.lock();
        if let Some(u) = used {
            w.usage.used = u;
        }
        if let Some(m) = max {
            w.usage.max = m;
        }
    }

    /// Sends Outbound Messages for everything committed since the last call. Called after
    /// every request that may have written, still under the lock, so messages carry the
    /// values of that moment.
    pub fn commit(&self, world: &mut World) {
        let changes = world.store.take_changes();
        if changes.is_empty() {
            return;
        }
        let info = OrgInfo {
            org_id: &self.credentials.org_id,
            base_url: self.base_url(),
        };
        let World {
            store, sessions, ..
        } = world;
        let org_id = self.credentials.org_id.clone();
        let mut session = || sessions.issue(&org_id);
        self.outbound.dispatch(&info, store, &changes, &mut session);
    }

    pub fn record(&self, id: &str) -> Option<Map<String, Value>> {
        let w = self.lock();
        w.store
            .find(id)
            .filter(|(_, r)| !crate::store::is_deleted(r))
            .map(|(_, r)| r.clone())
    }

    pub fn records(&self, object: &str) -> Vec<Map<String, Value>> {
        let Some(def) = Schema::get().object(object) else {
            return Vec::new();
        };
        let w = self.lock();
        w.store
            .rows(def.name)
            .filter(|r| !crate::store::is_deleted(r))
            .cloned()
            .collect()
    }

    pub fn insert(&self, object: &str, fields: Value) -> Result<String, SandboxError> {
        let def = Schema::get()
            .object(object)
            .ok_or_else(|| SandboxError::UnknownObject(object.to_owned()))?;
        let map = fields.as_object().cloned().unwrap_or_default();
        let mut w = self.lock();
        let id = w.store.create(def, &map, Writer::Api).map_err(rejected)?;
        self.commit(&mut w);
        Ok(id)
    }

    pub fn update(&self, id: &str, fields: Value) -> Result<(), SandboxError> {
        let map = fields.as_object().cloned().unwrap_or_default();
        let mut w = self.lock();
        let def = w
            .store
            .find(id)
            .map(|(o, _)| o)
            .ok_or_else(|| SandboxError::Rejected {
                code: "NOT_FOUND".into(),
                message: format!("no record {id}"),
            })?;
        w.store
            .update(def, id, &map, Writer::Api)
            .map_err(rejected)?;
        self.commit(&mut w);
        Ok(())
    }

    /// Deletes a record as the API would (soft: it goes to the recycle bin).
    pub fn delete(&self, id: &str) -> Result<(), SandboxError> {
        let mut w = self.lock();
        w.store.delete(id).map_err(|e| rejected(vec![e]))?;
        self.commit(&mut w);
        Ok(())
    }
}

fn rejected(errors: Vec<crate::value::FieldError>) -> SandboxError {
    let first = errors.into_iter().next();
    SandboxError::Rejected {
        code: first.as_ref().map_or("UNKNOWN", |e| e.code).to_owned(),
        message: first.map(|e| e.message).unwrap_or_default(),
    }
}
