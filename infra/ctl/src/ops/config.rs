//! The operator configuration: a TOML file (`--config ledgerforce.toml`) with `LEDGERFORCE_*`
//! environment overrides, checked key by key. Every error names the key (and the variable it
//! came from) and what is wrong; nothing here ever holds or prints a secret's value — secrets
//! are references (`env:VAR`, `file:/path`, a Secrets Manager ARN), resolved only when a
//! client is built (see [`super::systems`]).
//!
//! The deployment's own vocabulary is reused: `salesforce.auth` takes the values of
//! `LEDGERFORCE_SALESFORCE_AUTH`, `intacct.concurrency` is `LEDGERFORCE_INTACCT_CONCURRENCY`,
//! and the `aws` store and the `reconciliation` keys are handed to
//! [`lf_runtime::RuntimeConfig::from_lookup`], the parser the functions use.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use lf_domain::Flow;
use lf_runtime::{RuntimeConfig, SalesforceAuth, config as runtime};
use lf_salesforce::ApiVersion;
use url::Url;

/// The prefix of every override variable: `salesforce.login_url` is
/// `LEDGERFORCE_SALESFORCE_LOGIN_URL`.
pub(crate) const ENV_PREFIX: &str = "LEDGERFORCE_";

/// The file read when `--config` is not given, if it exists.
pub(crate) const DEFAULT_FILE: &str = "ledgerforce.toml";

/// What a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Plain text, or a reference (`env:`, `file:`, ARN) to where it is kept.
    Text,
    /// A secret: only a reference is accepted.
    Secret,
    /// An http(s) URL.
    Url,
    /// A whole number.
    Int,
    /// A list of strings (a comma-separated variable).
    List,
    /// A table of flow name → queue URL.
    Queues,
}

/// Every key the file may hold, by section.
const KEYS: &[(&str, &[(&str, Kind)])] = &[
    (
        "salesforce",
        &[
            ("login_url", Kind::Url),
            ("instance_url", Kind::Url),
            ("api_version", Kind::Text),
            ("auth", Kind::Text),
            ("consumer_key", Kind::Text),
            ("username", Kind::Text),
            ("private_key", Kind::Secret),
            ("consumer_secret", Kind::Secret),
        ],
    ),
    (
        "intacct",
        &[
            ("endpoint_url", Kind::Url),
            ("sender_id", Kind::Text),
            ("sender_password", Kind::Secret),
            ("company_id", Kind::Text),
            ("user_id", Kind::Text),
            ("user_password", Kind::Secret),
            ("entities", Kind::List),
            ("concurrency", Kind::Int),
        ],
    ),
    (
        "store",
        &[
            ("kind", Kind::Text),
            ("data_dir", Kind::Text),
            ("region", Kind::Text),
            ("endpoint_url", Kind::Url),
            ("table_prefix", Kind::Text),
            ("queue_urls", Kind::Queues),
        ],
    ),
    ("mappings", &[("dir", Kind::Text)]),
    (
        "webhooks",
        &[("salesforce_url", Kind::Url), ("intacct_url", Kind::Url)],
    ),
    (
        "reconciliation",
        &[
            ("reporting_currency", Kind::Text),
            ("corporate_currency", Kind::Text),
            ("revenue_basis", Kind::Text),
        ],
    ),
];

/// The override variable of a key: `LEDGERFORCE_INTACCT_USER_PASSWORD`.
pub(crate) fn env_var(section: &str, key: &str) -> String {
    format!("{ENV_PREFIX}{section}_{key}").to_ascii_uppercase()
}

/// The override variable of a flow's queue URL: `LEDGERFORCE_STORE_QUEUE_URLS_OPPORTUNITY_WON`.
fn queue_env_var(flow: Flow) -> String {
    env_var(
        "store",
        &format!("queue_urls_{}", flow.as_str().replace('-', "_")),
    )
}

/// Where a secret (or any text) is kept. Printing one shows the reference, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretRef {
    /// `env:VAR`: the variable's value.
    Env(String),
    /// `file:/path`: the file's text, without the final line break.
    File(PathBuf),
    /// `arn:aws:secretsmanager:…`, optionally `#jsonKey` for a field of a JSON secret.
    SecretsManager { arn: String, key: Option<String> },
}

impl SecretRef {
    /// Reads a reference; `None` when `text` is not one (an inline value).
    fn parse(text: &str) -> Result<Option<SecretRef>, String> {
        let text = text.trim();
        if let Some(var) = text.strip_prefix("env:") {
            let var = var.trim();
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`env:` must name an environment variable (letters, digits, _), got `env:{var}`"
                ));
            }
            return Ok(Some(SecretRef::Env(var.to_owned())));
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.trim().is_empty() {
                return Err("`file:` must be followed by a path".into());
            }
            return Ok(Some(SecretRef::File(PathBuf::from(path.trim()))));
        }
        if text.starts_with("arn:") {
            let (arn, key) = match text.split_once('#') {
                Some((arn, key)) if !key.is_empty() => (arn, Some(key.to_owned())),
                Some(_) => return Err("`#` must be followed by the JSON key to read".into()),
                None => (text, None),
            };
            let parts: Vec<&str> = arn.splitn(7, ':').collect();
            let valid = parts.len() == 7
                && parts[2] == "secretsmanager"
                && !parts[3].is_empty()
                && parts[5] == "secret"
                && !parts[6].is_empty();
            if !valid {
                return Err(
                    "an ARN must be a Secrets Manager secret's: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[#jsonKey]"
                        .into(),
                );
            }
            return Ok(Some(SecretRef::SecretsManager {
                arn: arn.to_owned(),
                key,
            }));
        }
        Ok(None)
    }

    /// The region of a Secrets Manager ARN.
    pub(crate) fn region(&self) -> Option<&str> {
        match self {
            SecretRef::SecretsManager { arn, .. } => arn.split(':').nth(3),
            _ => None,
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(var) => write!(f, "env:{var}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::SecretsManager { arn, key: None } => f.write_str(arn),
            SecretRef::SecretsManager { arn, key: Some(k) } => write!(f, "{arn}#{k}"),
        }
    }
}

/// A text setting: written in the file, or kept elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Text {
    Plain(String),
    Ref(SecretRef),
}

/// Which store the operator commands read and write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StoreConfig {
    /// The embedded store of `ledgerforce local` in `data_dir`.
    Embedded { data_dir: PathBuf },
    /// The deployment's DynamoDB tables and SQS queues: the functions' configuration, read by
    /// their parser.
    Aws(Box<RuntimeConfig>),
}

#[derive(Debug, Clone)]
pub(crate) struct SalesforceSettings {
    pub(crate) login_url: Url,
    pub(crate) instance_url: Option<Url>,
    pub(crate) api_version: ApiVersion,
    pub(crate) auth: SalesforceAuth,
    pub(crate) consumer_key: Text,
    /// JWT bearer only.
    pub(crate) username: Option<Text>,
    pub(crate) private_key: Option<SecretRef>,
    /// Client credentials only.
    pub(crate) consumer_secret: Option<SecretRef>,
}

#[derive(Debug, Clone)]
pub(crate) struct IntacctSettings {
    pub(crate) endpoint_url: Url,
    pub(crate) sender_id: Text,
    pub(crate) sender_password: SecretRef,
    pub(crate) company_id: Text,
    pub(crate) user_id: Text,
    pub(crate) user_password: SecretRef,
    /// The entities (LOCATIONIDs) to check and reconcile; empty = those the specs define.
    pub(crate) entities: Vec<String>,
    pub(crate) concurrency: u32,
}

/// The whole configuration, checked.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Where it was read from (`None`: the environment only).
    pub(crate) file: Option<PathBuf>,
    pub(crate) salesforce: SalesforceSettings,
    pub(crate) intacct: IntacctSettings,
    pub(crate) store: StoreConfig,
    /// A folder of mapping specs; `None` = the shipped ones.
    pub(crate) mappings: Option<PathBuf>,
    /// Where the deployed webhooks listen (what Outbound Messages and Smart Events must
    /// point at).
    pub(crate) salesforce_webhook: Option<Url>,
    pub(crate) intacct_webhook: Option<Url>,
    /// The reconciliation's currencies and revenue basis.
    pub(crate) reconciliation: lf_flows::RevenueReconciliationOptions,
}

/// One problem with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// `salesforce.login_url`.
    pub(crate) key: String,
    /// Where the value came from: the file, or the variable that overrode it.
    pub(crate) origin: Option<String>,
    pub(crate) message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "{} (from {origin}): {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Every problem found, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    pub(crate) source: String,
    pub(crate) problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the configuration ({}) is invalid:", self.source)?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A value, with where it came from.
#[derive(Debug, Clone)]
struct Entry {
    value: toml::Value,
    /// The variable that set it; `None` for the file.
    var: Option<String>,
}

/// Reads the configuration: `file` (or `ledgerforce.toml` if present), then the `LEDGERFORCE_*`
/// variables of `env` over it.
pub(crate) fn load(
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let (path, text) = read_file(file)?;
    let mut config = sourced(parse(&text, env), path.as_deref())?;
    config.file = path;
    Ok(config)
}

/// Reads only what the commands over the sync's state need (`status`, `audit`, `replay`,
/// `console`): the `[store]` section, from the same file and variables as [`load`]. The
/// systems' sections need not be there; a key the file has is still checked to be known.
pub(crate) fn load_store(
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StoreConfig, ConfigError> {
    let (path, text) = read_file(file)?;
    sourced(parse_store(&text, env), path.as_deref())
}

/// A parse's error, said to come from `path` and the variables.
fn sourced<T>(parsed: Result<T, ConfigError>, path: Option<&Path>) -> Result<T, ConfigError> {
    parsed.map_err(|mut e| {
        e.source = describe_source(path);
        e
    })
}

/// The configuration file's path and text: `file`, or `ledgerforce.toml` when it exists, or
/// none (the variables alone).
fn read_file(file: Option<&Path>) -> Result<(Option<PathBuf>, String), ConfigError> {
    Ok(match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                source: path.display().to_string(),
                problems: vec![Problem {
                    key: "--config".into(),
                    origin: None,
                    message: format!("cannot read {}: {e}", path.display()),
                }],
            })?;
            (Some(path.to_path_buf()), text)
        }
        None if Path::new(DEFAULT_FILE).is_file() => {
            let path = PathBuf::from(DEFAULT_FILE);
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                source: DEFAULT_FILE.into(),
                problems: vec![Problem {
                    key: "--config".into(),
                    origin: None,
                    message: format!("cannot read {DEFAULT_FILE}: {e}"),
                }],
            })?;
            (Some(path), text)
        }
        None => (None, String::new()),
    })
}

fn describe_source(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("{} and LEDGERFORCE_* variables", p.display()),
        None => "LEDGERFORCE_* variables; no config file".into(),
    }
}

/// Checks the text of a config file with the overrides of `env`.
pub(crate) fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let (mut r, queues) = read(text, env)?;
    let config = r.build(queues);
    r.finish(config)
}

/// The `[store]` section of a configuration (see [`load_store`]).
pub(crate) fn parse_store(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StoreConfig, ConfigError> {
    let (mut r, queues) = read(text, env)?;
    let (store, _) = r.store_and_reconciliation(queues);
    r.finish(store)
}

fn fail(problems: Vec<Problem>) -> ConfigError {
    ConfigError {
        source: "the config file and LEDGERFORCE_* variables".into(),
        problems,
    }
}

/// Every value of the file and the variables, by key, with the problems found in reading them
/// (unknown keys, values of the wrong kind); the flows' queue URLs apart.
fn read(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Reader, BTreeMap<Flow, Entry>), ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let message = e.message().to_owned();
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        fail(vec![Problem {
            key: "(file)".into(),
            origin: None,
            message: format!("not valid TOML{at}: {message}"),
        }])
    })?;
    let mut problems = Vec::new();
    let mut values: BTreeMap<(String, String), Entry> = BTreeMap::new();
    let mut queues: BTreeMap<Flow, Entry> = BTreeMap::new();

    // The file: every key known, every value of its kind.
    for (section, body) in &table {
        let Some((_, keys)) = KEYS.iter().find(|(s, _)| s == section) else {
            problems.push(unknown(section, KEYS.iter().map(|(s, _)| *s)));
            continue;
        };
        let Some(body) = body.as_table() else {
            problems.push(Problem {
                key: section.clone(),
                origin: None,
                message: format!("must be a table ([{section}]), found {}", body.type_str()),
            });
            continue;
        };
        for (key, value) in body {
            let path = format!("{section}.{key}");
            let Some((_, kind)) = keys.iter().find(|(k, _)| k == key) else {
                problems.push(unknown(&path, keys.iter().map(|(k, _)| *k)));
                continue;
            };
            if *kind == Kind::Queues {
                read_queues(&path, value, &mut queues, &mut problems);
                continue;
            }
            values.insert(
                (section.clone(), key.clone()),
                Entry {
                    value: value.clone(),
                    var: None,
                },
            );
        }
    }

    // The environment over it.
    for (section, keys) in KEYS {
        for (key, kind) in *keys {
            if *kind == Kind::Queues {
                for flow in Flow::ALL {
                    let var = queue_env_var(flow);
                    if let Some(v) = env(&var).filter(|v| !v.trim().is_empty()) {
                        queues.insert(
                            flow,
                            Entry {
                                value: toml::Value::String(v.trim().to_owned()),
                                var: Some(var),
                            },
                        );
                    }
                }
                continue;
            }
            let var = env_var(section, key);
            let Some(raw) = env(&var).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let value = match kind {
                Kind::Int => match raw.trim().parse::<i64>() {
                    Ok(n) => toml::Value::Integer(n),
                    Err(_) => {
                        problems.push(Problem {
                            key: format!("{section}.{key}"),
                            origin: Some(var),
                            message: format!("must be a whole number, got `{}`", raw.trim()),
                        });
                        continue;
                    }
                },
                Kind::List => toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_owned()))
                        .collect(),
                ),
                _ => toml::Value::String(raw.trim().to_owned()),
            };
            values.insert(
                ((*section).to_owned(), (*key).to_owned()),
                Entry {
                    value,
                    var: Some(var),
                },
            );
        }
    }

    Ok((Reader { values, problems }, queues))
}

fn unknown<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> Problem {
    let known: Vec<&str> = known.collect();
    let (parent, leaf) = key.rsplit_once('.').unwrap_or(("", key));
    let close = known
        .iter()
        .copied()
        .filter(|k| strsim_like(k, leaf))
        .map(|k| {
            if parent.is_empty() {
                k.to_owned()
            } else {
                format!("{parent}.{k}")
            }
        })
        .next();
    let mut message = format!("unknown key; known here: {}", known.join(", "));
    if let Some(c) = close {
        message = format!(
            "unknown key; did you mean `{c}`? (known here: {})",
            known.join(", ")
        );
    }
    Problem {
        key: key.to_owned(),
        origin: None,
        message,
    }
}

/// Whether two key names are a typo apart: one contains the other once `_` is ignored, or
/// they differ in at most two characters.
fn strsim_like(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.replace(['_', '-'], "").to_ascii_lowercase();
    let (a, b) = (norm(a), norm(b));
    if a == b || (a.len() > 3 && b.contains(&a)) || (b.len() > 3 && a.contains(&b)) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Levenshtein, small inputs.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()] <= 2
}

fn read_queues(
    path: &str,
    value: &toml::Value,
    queues: &mut BTreeMap<Flow, Entry>,
    problems: &mut Vec<Problem>,
) {
    let Some(table) = value.as_table() else {
        problems.push(Problem {
            key: path.to_owned(),
            origin: None,
            message: format!(
                "must be a table of flow name = queue URL, found {}",
                value.type_str()
            ),
        });
        return;
    };
    for (name, url) in table {
        match Flow::ALL.into_iter().find(|f| f.as_str() == name) {
            Some(flow) => {
                queues.insert(
                    flow,
                    Entry {
                        value: url.clone(),
                        var: None,
                    },
                );
            }
            None => problems.push(unknown(
                &format!("{path}.{name}"),
                Flow::ALL.iter().map(|f| f.as_str()),
            )),
        }
    }
}

/// Takes the values out by key, recording every problem.
struct Reader {
    values: BTreeMap<(String, String), Entry>,
    problems: Vec<Problem>,
}

impl Reader {
    /// What was built, if nothing was wrong on the way.
    fn finish<T>(self, built: Option<T>) -> Result<T, ConfigError> {
        if self.problems.is_empty() {
            built.ok_or_else(|| fail(Vec::new()))
        } else {
            Err(fail(self.problems))
        }
    }

    fn problem(&mut self, section: &str, key: &str, entry: Option<&Entry>, message: String) {
        self.problems.push(Problem {
            key: format!("{section}.{key}"),
            origin: entry.and_then(|e| e.var.clone()),
            message,
        });
    }

    fn entry(&self, section: &str, key: &str) -> Option<Entry> {
        self.values
            .get(&(section.to_owned(), key.to_owned()))
            .cloned()
    }

    /// A string value (any text kind), `None` when absent or of the wrong type.
    fn string(&mut self, section: &str, key: &str) -> Option<(String, Entry)> {
        let entry = self.entry(section, key)?;
        match &entry.value {
            toml::Value::String(s) if !s.trim().is_empty() => Some((s.trim().to_owned(), entry)),
            toml::Value::String(_) => {
                self.problem(section, key, Some(&entry), "is empty".into());
                None
            }
            other => {
                let found = other.type_str();
                self.problem(
                    section,
                    key,
                    Some(&entry),
                    format!("must be a string, found {found}"),
                );
                None
            }
        }
    }

    fn missing(&mut self, section: &str, key: &str, why: &str) {
        let var = env_var(section, key);
        self.problem(
            section,
            key,
            None,
            format!("is required{why}; set it in [{section}] or in {var}"),
        );
    }

    fn text(&mut self, section: &str, key: &str) -> Option<Text> {
        let (s, entry) = self.string(section, key)?;
        match SecretRef::parse(&s) {
            Ok(Some(r)) => Some(Text::Ref(r)),
            Ok(None) => Some(Text::Plain(s)),
            Err(m) => {
                self.problem(section, key, Some(&entry), m);
                None
            }
        }
    }

    fn secret(&mut self, section: &str, key: &str) -> Option<SecretRef> {
        let (s, entry) = self.string(section, key)?;
        match SecretRef::parse(&s) {
            Ok(Some(r)) => Some(r),
            // Never echo the value: it may be the secret itself.
            Ok(None) => {
                self.problem(
                    section,
                    key,
                    Some(&entry),
                    "is a secret and is only accepted as a reference: `env:VAR`, `file:/path` \
                     or a Secrets Manager ARN (`arn:aws:secretsmanager:…[#jsonKey]`); the inline \
                     value was refused and is not shown"
                        .into(),
                );
                None
            }
            Err(m) => {
                self.problem(section, key, Some(&entry), m);
                None
            }
        }
    }

    fn url(&mut self, section: &str, key: &str) -> Option<Url> {
        let (s, entry) = self.string(section, key)?;
        match Url::parse(&s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(u) => {
                let scheme = u.scheme().to_owned();
                self.problem(
                    section,
                    key,
                    Some(&entry),
                    format!("`{s}` is not an http(s) URL with a host (scheme `{scheme}`)"),
                );
                None
            }
            Err(e) => {
                self.problem(
                    section,
                    key,
                    Some(&entry),
                    format!("`{s}` is not a URL: {e}"),
                );
                None
            }
        }
    }

    fn int(&mut self, section: &str, key: &str) -> Option<i64> {
        let entry = self.entry(section, key)?;
        match entry.value {
            toml::Value::Integer(n) => Some(n),
            ref other => {
                let found = other.type_str();
                self.problem(
                    section,
                    key,
                    Some(&entry),
                    format!("must be a whole number, found {found}"),
                );
                None
            }
        }
    }

    fn list(&mut self, section: &str, key: &str) -> Vec<String> {
        let Some(entry) = self.entry(section, key) else {
            return Vec::new();
        };
        let strings = entry.value.as_array().and_then(|items| {
            items
                .iter()
                .map(|v| v.as_str().map(|s| s.trim().to_owned()))
                .collect::<Option<Vec<_>>>()
        });
        match strings {
            Some(list) => list.into_iter().filter(|s| !s.is_empty()).collect(),
            None => {
                let found = entry.value.type_str();
                self.problem(
                    section,
                    key,
                    Some(&entry),
                    format!("must be a list of strings, found {found}"),
                );
                Vec::new()
            }
        }
    }

    fn build(&mut self, queues: BTreeMap<Flow, Entry>) -> Option<Config> {
        let salesforce = self.salesforce();
        let intacct = self.intacct();
        let (store, reconciliation) = self.store_and_reconciliation(queues);
        let mappings = self
            .string("mappings", "dir")
            .map(|(s, _)| PathBuf::from(s));
        let salesforce_webhook = self.url("webhooks", "salesforce_url");
        let intacct_webhook = self.url("webhooks", "intacct_url");
        Some(Config {
            file: None,
            salesforce: salesforce?,
            intacct: intacct?,
            store: store?,
            mappings,
            salesforce_webhook,
            intacct_webhook,
            reconciliation: reconciliation?,
        })
    }

    fn salesforce(&mut self) -> Option<SalesforceSettings> {
        const S: &str = "salesforce";
        let login_url = self.url(S, "login_url");
        if login_url.is_none() && self.entry(S, "login_url").is_none() {
            self.missing(
                S,
                "login_url",
                " (https://login.salesforce.com, https://test.salesforce.com or the My Domain)",
            );
        }
        let instance_url = self.url(S, "instance_url");
        let api_version = match self.string(S, "api_version") {
            None => Some(ApiVersion::DEFAULT),
            Some((s, entry)) => match s.parse::<ApiVersion>() {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problem(S, "api_version", Some(&entry), e.to_string());
                    None
                }
            },
        };
        let auth = match self.string(S, "auth") {
            None => Some(SalesforceAuth::JwtBearer),
            Some((s, _)) if s == "jwt" => Some(SalesforceAuth::JwtBearer),
            Some((s, _)) if s == "client_credentials" => Some(SalesforceAuth::ClientCredentials),
            Some((s, entry)) => {
                self.problem(
                    S,
                    "auth",
                    Some(&entry),
                    format!("`{s}` is neither `jwt` nor `client_credentials`"),
                );
                None
            }
        };
        let consumer_key = self.text(S, "consumer_key");
        if consumer_key.is_none() && self.entry(S, "consumer_key").is_none() {
            self.missing(S, "consumer_key", " (the connected app's consumer key)");
        }
        let username = self.text(S, "username");
        let private_key = self.secret(S, "private_key");
        let consumer_secret = self.secret(S, "consumer_secret");
        match auth {
            Some(SalesforceAuth::JwtBearer) => {
                if username.is_none() && self.entry(S, "username").is_none() {
                    self.missing(S, "username", " for auth = \"jwt\" (the integration user)");
                }
                if private_key.is_none() && self.entry(S, "private_key").is_none() {
                    self.missing(
                        S,
                        "private_key",
                        " for auth = \"jwt\" (the PEM key whose certificate the connected app holds)",
                    );
                }
            }
            Some(SalesforceAuth::ClientCredentials)
                if consumer_secret.is_none() && self.entry(S, "consumer_secret").is_none() =>
            {
                self.missing(S, "consumer_secret", " for auth = \"client_credentials\"");
            }
            _ => {}
        }
        Some(SalesforceSettings {
            login_url: login_url?,
            instance_url,
            api_version: api_version?,
            auth: auth?,
            consumer_key: consumer_key?,
            username,
            private_key,
            consumer_secret,
        })
    }

    fn intacct(&mut self) -> Option<IntacctSettings> {
        const I: &str = "intacct";
        let endpoint_url = match self.entry(I, "endpoint_url") {
            None => Url::parse(lf_intacct::DEFAULT_ENDPOINT_URL).ok(),
            Some(_) => self.url(I, "endpoint_url"),
        };
        let required_text = |r: &mut Self, key: &str, what: &str| {
            let v = r.text(I, key);
            if v.is_none() && r.entry(I, key).is_none() {
                r.missing(I, key, what);
            }
            v
        };
        let sender_id = required_text(self, "sender_id", " (the Web Services sender id)");
        let company_id = required_text(self, "company_id", "");
        let user_id = required_text(self, "user_id", " (the Web Services user)");
        let required_secret = |r: &mut Self, key: &str| {
            let v = r.secret(I, key);
            if v.is_none() && r.entry(I, key).is_none() {
                r.missing(
                    I,
                    key,
                    " (a reference: env:VAR, file:/path or a Secrets Manager ARN)",
                );
            }
            v
        };
        let sender_password = required_secret(self, "sender_password");
        let user_password = required_secret(self, "user_password");
        let entities = self.list(I, "entities");
        let concurrency = match self.int(I, "concurrency") {
            None => Some(2),
            Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => u32::try_from(n).ok(),
            Some(n) => {
                let entry = self.entry(I, "concurrency");
                self.problem(
                    I,
                    "concurrency",
                    entry.as_ref(),
                    format!("must be at least 1, got {n}"),
                );
                None
            }
        };
        Some(IntacctSettings {
            endpoint_url: endpoint_url?,
            sender_id: sender_id?,
            sender_password: sender_password?,
            company_id: company_id?,
            user_id: user_id?,
            user_password: user_password?,
            entities,
            concurrency: concurrency?,
        })
    }

    /// The store, and the reconciliation options, both read by the functions' parser.
    fn store_and_reconciliation(
        &mut self,
        queues: BTreeMap<Flow, Entry>,
    ) -> (
        Option<StoreConfig>,
        Option<lf_flows::RevenueReconciliationOptions>,
    ) {
        const ST: &str = "store";
        let kind = self
            .string(ST, "kind")
            .map(|(s, e)| (s, Some(e)))
            .unwrap_or_else(|| ("embedded".to_owned(), None));
        let data_dir = self.string(ST, "data_dir").map(|(s, _)| PathBuf::from(s));
        let region = self.string(ST, "region");
        let endpoint = self.url(ST, "endpoint_url");
        let prefix = self.string(ST, "table_prefix");
        let mut queue_urls = BTreeMap::new();
        for (flow, entry) in &queues {
            let key = format!("queue_urls.{}", flow.as_str());
            match entry.value.as_str() {
                Some(s) if Url::parse(s).is_ok() => {
                    queue_urls.insert(*flow, s.to_owned());
                }
                _ => self.problem(
                    ST,
                    &key,
                    Some(entry),
                    "must be an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
                        .into(),
                ),
            }
        }

        // The runtime variables these keys stand for, read by the functions' parser.
        let mut vars: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut put = |var: &str, key: &str, value: String| {
            vars.insert(var.to_owned(), (key.to_owned(), value));
        };
        for (flow, url) in &queue_urls {
            put(
                &runtime::queue_url_var(*flow),
                &format!("store.queue_urls.{}", flow.as_str()),
                url.clone(),
            );
        }
        for (key, var) in [
            ("reporting_currency", runtime::REPORTING_CURRENCY_VAR),
            ("corporate_currency", runtime::CORPORATE_CURRENCY_VAR),
            ("revenue_basis", runtime::REVENUE_BASIS_VAR),
        ] {
            if let Some((v, _)) = self.string("reconciliation", key) {
                put(var, &format!("reconciliation.{key}"), v);
            }
        }
        let aws = kind.0 == "aws";
        let table_prefix = match (&prefix, aws) {
            (Some((p, _)), _) => p.clone(),
            (None, true) => {
                self.missing(
                    ST,
                    "table_prefix",
                    " for kind = \"aws\" (ledgerforce-<stage>)",
                );
                // Reported once above; the parser still reads the rest.
                "unset".to_owned()
            }
            // The embedded store has no tables; the parser wants a prefix all the same.
            (None, false) => "embedded".to_owned(),
        };
        put(
            runtime::TABLE_PREFIX_VAR,
            "store.table_prefix",
            table_prefix,
        );
        let runtime = RuntimeConfig::from_lookup(|var| vars.get(var).map(|(_, v)| v.clone()));
        let runtime = match runtime {
            Ok(r) => Some(r),
            Err(e) => {
                let var = match &e {
                    lf_runtime::ConfigError::Missing { var }
                    | lf_runtime::ConfigError::Invalid { var, .. } => var.clone(),
                };
                let key = vars
                    .get(&var)
                    .map(|(k, _)| k.clone())
                    .unwrap_or_else(|| var.clone());
                let message = match e {
                    lf_runtime::ConfigError::Invalid { reason, .. } => reason,
                    lf_runtime::ConfigError::Missing { .. } => "is required".into(),
                };
                let (section, leaf) = key.split_once('.').unwrap_or(("", key.as_str()));
                let entry = self.entry(section, leaf);
                self.problem(section, leaf, entry.as_ref(), message);
                None
            }
        };
        let reconciliation = runtime.as_ref().map(|r| r.reconciliation.clone());
        let store = match kind.0.as_str() {
            "embedded" => {
                for (key, set) in [
                    ("table_prefix", prefix.is_some()),
                    ("region", region.is_some()),
                    ("queue_urls", !queues.is_empty()),
                ] {
                    if set {
                        self.problem(
                            ST,
                            key,
                            None,
                            "only applies to kind = \"aws\"; the embedded store has none".into(),
                        );
                    }
                }
                Some(StoreConfig::Embedded {
                    data_dir: data_dir.unwrap_or_else(|| PathBuf::from(".ledgerforce")),
                })
            }
            "aws" => {
                if data_dir.is_some() {
                    self.problem(
                        ST,
                        "data_dir",
                        None,
                        "only applies to kind = \"embedded\"".into(),
                    );
                }
                runtime.map(|mut r| {
                    r.aws = lf_aws::AwsSettings {
                        region: region.map(|(r, _)| r),
                        endpoint_url: endpoint.map(|u| u.as_str().trim_end_matches('/').to_owned()),
                        // A local endpoint (moto) takes any key; the real one the chain's.
                        local_credentials: false,
                    };
                    r.aws.local_credentials = r.aws.endpoint_url.as_deref().is_some_and(|u| {
                        u.starts_with("http://127.0.0.1") || u.starts_with("http://localhost")
                    });
                    StoreConfig::Aws(Box::new(r))
                })
            }
            other => {
                let entry = kind.1.clone();
                self.problem(
                    ST,
                    "kind",
                    entry.as_ref(),
                    format!("`{other}` is neither `embedded` nor `aws`"),
                );
                None
            }
        };
        (store, reconciliation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[salesforce]
login_url = "http://127.0.0.1:8081"
consumer_key = "KEY"
username = "integration@example.com"
private_key = "file:/tmp/key.pem"

[intacct]
endpoint_url = "http://127.0.0.1:8082/ia/xml/xmlgw.phtml"
sender_id = "sender"
sender_password = "env:INTACCT_SENDER_PASSWORD"
company_id = "CO"
user_id = "api"
user_password = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:intacct-AbCdEf#user_password"
entities = ["US", "UK"]

[store]
kind = "embedded"
data_dir = "/tmp/lf"
"#;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn problems(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<Problem> {
        parse(text, env)
            .expect_err("the config is refused")
            .problems
    }

    /// The one problem of `text`, as printed.
    fn only_problem(text: &str) -> String {
        let p = problems(text, &no_env);
        assert_eq!(p.len(), 1, "{p:?}");
        p[0].to_string()
    }

    #[test]
    fn a_good_file_reads_every_key() {
        let c = parse(GOOD, &no_env).unwrap();
        assert_eq!(c.salesforce.login_url.as_str(), "http://127.0.0.1:8081/");
        assert_eq!(c.salesforce.api_version, ApiVersion::DEFAULT);
        assert_eq!(c.salesforce.auth, SalesforceAuth::JwtBearer);
        assert_eq!(
            c.salesforce.private_key,
            Some(SecretRef::File("/tmp/key.pem".into()))
        );
        assert_eq!(
            c.intacct.sender_password,
            SecretRef::Env("INTACCT_SENDER_PASSWORD".into())
        );
        let arn = &c.intacct.user_password;
        assert_eq!(arn.region(), Some("eu-west-1"));
        assert_eq!(
            arn,
            &SecretRef::SecretsManager {
                arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:intacct-AbCdEf".into(),
                key: Some("user_password".into())
            }
        );
        assert_eq!(c.intacct.entities, ["US", "UK"]);
        assert_eq!(c.intacct.concurrency, 2);
        assert_eq!(
            c.store,
            StoreConfig::Embedded {
                data_dir: "/tmp/lf".into()
            }
        );
        assert_eq!(c.mappings, None);
        assert_eq!(c.reconciliation.reporting_currency.as_str(), "USD");
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let env = |var: &str| match var {
            "LEDGERFORCE_SALESFORCE_LOGIN_URL" => Some("https://test.salesforce.com".into()),
            "LEDGERFORCE_INTACCT_ENTITIES" => Some("DE, FR".into()),
            "LEDGERFORCE_INTACCT_CONCURRENCY" => Some("4".into()),
            "LEDGERFORCE_RECONCILIATION_REPORTING_CURRENCY" => Some("eur".into()),
            _ => None,
        };
        let c = parse(GOOD, &env).unwrap();
        assert_eq!(
            c.salesforce.login_url.as_str(),
            "https://test.salesforce.com/"
        );
        assert_eq!(c.intacct.entities, ["DE", "FR"]);
        assert_eq!(c.intacct.concurrency, 4);
        assert_eq!(c.reconciliation.reporting_currency.as_str(), "EUR");
        // The error names the variable it came from.
        let bad = |var: &str| (var == "LEDGERFORCE_INTACCT_CONCURRENCY").then(|| "two".to_owned());
        let p = problems(GOOD, &bad);
        assert_eq!(
            p[0].to_string(),
            "intacct.concurrency (from LEDGERFORCE_INTACCT_CONCURRENCY): must be a whole number, got `two`"
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_a_suggestion() {
        let text = GOOD.replace("login_url", "loginurl");
        let p = problems(&text, &no_env);
        assert!(
            p.iter().any(|p| p.key == "salesforce.loginurl"
                && p.message.contains("did you mean `salesforce.login_url`")),
            "{p:?}"
        );
        // …and the key it replaced is then missing.
        assert!(
            p.iter().any(|p| p.key == "salesforce.login_url"
                && p.message.contains("is required")
                && p.message.contains("LEDGERFORCE_SALESFORCE_LOGIN_URL")),
            "{p:?}"
        );
        let s = only_problem(&format!("{GOOD}\n[sales]\nx = 1\n"));
        assert!(s.starts_with("sales: unknown key"), "{s}");
    }

    #[test]
    fn a_wrong_type_is_named() {
        let s = only_problem(&GOOD.replace(r#"entities = ["US", "UK"]"#, "entities = 3"));
        assert_eq!(
            s,
            "intacct.entities: must be a list of strings, found integer"
        );
        let s = only_problem(&GOOD.replace(
            r#"entities = ["US", "UK"]"#,
            "entities = [\"US\"]\nconcurrency = \"2\"",
        ));
        assert_eq!(
            s,
            "intacct.concurrency: must be a whole number, found string"
        );
        let s = only_problem(&GOOD.replace(r#"consumer_key = "KEY""#, "consumer_key = true"));
        assert_eq!(
            s,
            "salesforce.consumer_key: must be a string, found boolean"
        );
    }

    #[test]
    fn a_bad_url_is_named() {
        let s = only_problem(&GOOD.replace("http://127.0.0.1:8081", "127.0.0.1:8081"));
        assert!(
            s.starts_with("salesforce.login_url: `127.0.0.1:8081` is not"),
            "{s}"
        );
        let s = only_problem(&GOOD.replace("http://127.0.0.1:8082/ia", "ftp://x/ia"));
        assert!(
            s.contains("intacct.endpoint_url: `ftp://x/ia/xml/xmlgw.phtml` is not an http(s) URL"),
            "{s}"
        );
    }

    #[test]
    fn a_missing_required_key_is_named() {
        let s = only_problem(&GOOD.replace("company_id = \"CO\"\n", ""));
        assert_eq!(
            s,
            "intacct.company_id: is required; set it in [intacct] or in LEDGERFORCE_INTACCT_COMPANY_ID"
        );
        let s = only_problem(&GOOD.replace("private_key = \"file:/tmp/key.pem\"\n", ""));
        assert!(
            s.starts_with("salesforce.private_key: is required for auth = \"jwt\""),
            "{s}"
        );
        // Client credentials need the secret instead.
        let s =
            only_problem(&GOOD.replace("login_url", "auth = \"client_credentials\"\nlogin_url"));
        assert!(
            s.starts_with("salesforce.consumer_secret: is required"),
            "{s}"
        );
        let s = only_problem(&GOOD.replace(
            "kind = \"embedded\"\ndata_dir = \"/tmp/lf\"",
            "kind = \"aws\"",
        ));
        assert!(
            s.starts_with("store.table_prefix: is required for kind = \"aws\""),
            "{s}"
        );
    }

    #[test]
    fn an_inline_secret_is_refused_without_showing_it() {
        let text = GOOD.replace("env:INTACCT_SENDER_PASSWORD", "hunter2-very-secret");
        let s = only_problem(&text);
        assert!(s.starts_with("intacct.sender_password: is a secret"), "{s}");
        assert!(!s.contains("hunter2"), "{s}");
        let err = parse(&text, &no_env).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(!format!("{err:?}").contains("hunter2"));
        // From the environment too, named by its variable.
        let env = |var: &str| {
            (var == "LEDGERFORCE_SALESFORCE_PRIVATE_KEY")
                .then(|| "-----BEGIN PRIVATE KEY-----".to_owned())
        };
        let p = problems(GOOD, &env);
        assert_eq!(p[0].key, "salesforce.private_key");
        assert_eq!(
            p[0].origin.as_deref(),
            Some("LEDGERFORCE_SALESFORCE_PRIVATE_KEY")
        );
        assert!(!p[0].to_string().contains("BEGIN"));
    }

    #[test]
    fn bad_references_are_named() {
        let s = only_problem(&GOOD.replace("env:INTACCT_SENDER_PASSWORD", "env:"));
        assert!(
            s.starts_with("intacct.sender_password: `env:` must name"),
            "{s}"
        );
        let s = only_problem(&GOOD.replace(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:intacct-AbCdEf#user_password",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/x",
        ));
        assert!(
            s.starts_with("intacct.user_password: an ARN must be a Secrets Manager"),
            "{s}"
        );
    }

    #[test]
    fn the_aws_store_is_read_by_the_functions_parser() {
        let text = GOOD.replace(
            "kind = \"embedded\"\ndata_dir = \"/tmp/lf\"",
            "kind = \"aws\"\nregion = \"eu-west-1\"\ntable_prefix = \"ledgerforce-prod\"\n\
             [store.queue_urls]\nopportunity-won = \"https://sqs.eu-west-1.amazonaws.com/1/ow\"",
        );
        let c = parse(&text, &no_env).unwrap();
        let StoreConfig::Aws(r) = &c.store else {
            panic!("an aws store: {:?}", c.store)
        };
        assert_eq!(r.tables.xref, "ledgerforce-prod-xref");
        assert_eq!(
            r.queue_url(Flow::OpportunityWon).unwrap(),
            "https://sqs.eu-west-1.amazonaws.com/1/ow"
        );
        assert_eq!(r.aws.region.as_deref(), Some("eu-west-1"));
        let s = only_problem(&text.replace("opportunity-won", "opportunity-lost"));
        assert!(
            s.starts_with("store.queue_urls.opportunity-lost: unknown key"),
            "{s}"
        );
        let s = only_problem(&GOOD.replace("kind = \"embedded\"", "kind = \"dynamo\""));
        assert_eq!(s, "store.kind: `dynamo` is neither `embedded` nor `aws`");
        // The reconciliation's keys go through the same parser; its reason, our key.
        let s = only_problem(&format!(
            "{GOOD}\n[reconciliation]\nrevenue_basis = \"ledger\"\n"
        ));
        assert_eq!(
            s,
            "reconciliation.revenue_basis: `ledger` is neither `schedule` nor `gl:ACCOUNT,...`"
        );
    }

    #[test]
    fn the_state_commands_need_only_the_store() {
        let text = "[store]\nkind = \"aws\"\nregion = \"eu-west-1\"\n\
                    table_prefix = \"ledgerforce-prod\"\n\
                    [store.queue_urls]\naccount-sync = \"https://sqs.eu-west-1.amazonaws.com/1/as\"\n";
        let StoreConfig::Aws(r) = parse_store(text, &no_env).unwrap() else {
            panic!("an aws store")
        };
        assert_eq!(r.tables.parked, "ledgerforce-prod-parked");
        assert_eq!(
            r.queue_url(Flow::AccountSync).unwrap(),
            "https://sqs.eu-west-1.amazonaws.com/1/as"
        );
        // The same file is not enough for the commands that talk to the systems.
        let all = problems(text, &no_env);
        assert!(
            all.iter().any(|p| p.key == "salesforce.login_url"),
            "{all:?}"
        );
        assert!(all.iter().all(|p| !p.key.starts_with("store.")), "{all:?}");
        // Nothing at all: the embedded store of the default data folder.
        assert_eq!(
            parse_store("", &no_env).unwrap(),
            StoreConfig::Embedded {
                data_dir: PathBuf::from(".ledgerforce")
            }
        );
        // What the file does say is still checked, in every section.
        let err =
            parse_store(&format!("{text}[salesforce]\nlogin_ulr = \"x\"\n"), &no_env).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(
            err.problems[0]
                .to_string()
                .contains("did you mean `salesforce.login_url`"),
            "{err}"
        );
        let err = parse_store("[store]\nkind = \"aws\"\n", &no_env).unwrap_err();
        assert_eq!(err.problems[0].key, "store.table_prefix", "{err}");
        assert!(
            parse_store("", &|v: &str| (v == "LEDGERFORCE_STORE_KIND")
                .then(|| "aws".into()))
            .is_err(),
            "the variables count as they do for every command"
        );
    }

    #[test]
    fn a_syntax_error_gives_the_line() {
        let s = only_problem("[salesforce]\nlogin_url = \n");
        assert!(s.starts_with("(file): not valid TOML (line 2)"), "{s}");
    }

    #[test]
    fn debug_of_a_loaded_config_shows_references_only() {
        let c = parse(GOOD, &no_env).unwrap();
        let debug = format!("{c:?}");
        assert!(debug.contains("INTACCT_SENDER_PASSWORD"), "{debug}");
    }
}
