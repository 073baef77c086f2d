//! Where a deployed function gets its mapping specs: an S3 prefix, an SSM Parameter Store path,
//! or the default compiled into the binary. The specs are fetched and compiled once, at cold
//! start; a set that cannot be fetched or does not compile stops the function before it takes
//! any work, with every problem logged.
//!
//! The functions read the source from the environment variable [`MAPPING_SOURCE_VAR`]
//! (`LEDGERFORCE_MAPPING_SOURCE`) in their `main.rs` and pass it to [`SpecSource::parse`]:
//!
//! | value | specs |
//! |-------|-------|
//! | unset, empty or `shipped` | the shipped default ([`SpecBundle::shipped`]) |
//! | `s3://BUCKET/PREFIX/` | every `*.yaml` / `*.yml` object under the prefix, named by its key below it (`library/entities.yaml`) |
//! | `ssm:/PATH/` | every parameter under the path (recursive, SecureStrings decrypted) whose name ends in `.yaml` / `.yml`, named by its name below the path |
//!
//! SSM parameter values are capped at 4 KB (standard tier) and 8 KB (advanced tier). Several
//! shipped specs are larger (`opportunity-won.yaml` is about 18 KB, `account-sync.yaml` and
//! `account-onboarding.yaml` about 9 KB): keep big spec sets in S3.
//!
//! Permissions the function's role needs: `s3:ListBucket` on the bucket and `s3:GetObject` on
//! the prefix; or `ssm:GetParametersByPath` on the path, plus `kms:Decrypt` on the key of any
//! SecureString parameter encrypted with a customer-managed key.

use std::fmt;
use std::str::FromStr;

use aws_config::SdkConfig;
use futures::{StreamExt, TryStreamExt};
use lf_domain::{Classify, ErrorClass, PortError};
use lf_mapping::{Diagnostics, MappingError, SpecBundle, SpecSet};

use crate::error::from_sdk;

/// The environment variable the functions read their [`SpecSource`] from.
pub const MAPPING_SOURCE_VAR: &str = "LEDGERFORCE_MAPPING_SOURCE";

/// The largest spec file fetched. The shipped files are under 20 KB; this bound keeps a stray
/// upload (an export, an archive) from exhausting the function's memory at cold start.
pub const MAX_SPEC_FILE_BYTES: u64 = 1024 * 1024;

/// GetObject calls in flight at once, so a cold start waits for about one round trip, not one
/// per file.
const CONCURRENT_GETS: usize = 8;

/// The most parameters GetParametersByPath returns per page (an SSM limit).
const SSM_PAGE_SIZE: i32 = 10;

/// Where the mapping specs come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SpecSource {
    /// The specs compiled into the binary from `infra/mappings`.
    #[default]
    Shipped,
    /// The objects under `prefix` in `bucket`. An empty prefix is the whole bucket; any other
    /// is a folder (`prod/mappings/`): [`SpecSource::parse`] adds the trailing `/`, so
    /// `prod/mappings` does not also pick up `prod/mappings-old/`.
    S3 { bucket: String, prefix: String },
    /// The parameters under `path` (e.g. `/ledgerforce/prod/mappings`).
    Ssm { path: String },
}

impl SpecSource {
    /// Reads a source from its configuration value: `None`, empty or `shipped` is
    /// [`SpecSource::Shipped`]; otherwise `s3://BUCKET[/PREFIX]` or `ssm:/PATH`.
    pub fn parse(value: Option<&str>) -> Result<Self, InvalidSpecSource> {
        let Some(raw) = value else {
            return Ok(SpecSource::Shipped);
        };
        let value = raw.trim();
        let invalid = |reason: &str| InvalidSpecSource {
            value: raw.to_owned(),
            reason: reason.to_owned(),
        };
        if value.is_empty() || value == "shipped" {
            return Ok(SpecSource::Shipped);
        }
        if let Some(rest) = value.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket).map_err(invalid)?;
            if prefix.starts_with('/') {
                return Err(invalid("the prefix must not start with `/`"));
            }
            return Ok(SpecSource::S3 {
                bucket: bucket.to_owned(),
                prefix: folder(prefix),
            });
        }
        if let Some(path) = value.strip_prefix("ssm:") {
            check_ssm_path(path).map_err(invalid)?;
            return Ok(SpecSource::Ssm {
                path: path.trim_end_matches('/').to_owned(),
            });
        }
        Err(invalid("unknown kind of source"))
    }
}

impl FromStr for SpecSource {
    type Err = InvalidSpecSource;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        SpecSource::parse(Some(value))
    }
}

impl fmt::Display for SpecSource {
    /// The configuration value, which [`SpecSource::parse`] reads back; also the prefix of a
    /// file's full location in messages (`s3://b/prod/` + `library/entities.yaml`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecSource::Shipped => f.write_str("shipped"),
            SpecSource::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{}", folder(prefix)),
            SpecSource::Ssm { path } => write!(f, "ssm:{}/", path.trim_end_matches('/')),
        }
    }
}

/// `prefix` as a folder: empty, or ending in `/`.
fn folder(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    }
}

/// The S3 bucket naming rules that a typo breaks (the service checks the rest).
fn check_bucket(bucket: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&bucket.len()) {
        return Err("a bucket name has 3 to 63 characters");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("a bucket name has only lower-case letters, digits, `.` and `-`");
    }
    let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge(bucket.bytes().next()) || !edge(bucket.bytes().last()) {
        return Err("a bucket name starts and ends with a letter or digit");
    }
    Ok(())
}

/// The parameter-hierarchy rules of SSM: absolute, and only the characters names may have.
fn check_ssm_path(path: &str) -> Result<(), &'static str> {
    if path.starts_with("//") {
        return Err("an SSM path has one `/` after `ssm:` (`ssm:/ledgerforce/prod/mappings/`)");
    }
    if !path.starts_with('/') {
        return Err("an SSM path starts with `/`");
    }
    if path.trim_matches('/').is_empty() {
        return Err("the SSM path names no hierarchy (it would read every parameter)");
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-'))
    {
        return Err("an SSM path has only letters, digits, `/`, `_`, `.` and `-`");
    }
    Ok(())
}

/// A configuration value that names no spec source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a mapping spec source: {reason} (use `shipped`, \
     `s3://BUCKET/PREFIX/` or `ssm:/PATH/`)"
)]
pub struct InvalidSpecSource {
    value: String,
    reason: String,
}

impl Classify for InvalidSpecSource {
    /// Configuration: only a redeploy fixes it.
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// The clients the S3 and SSM sources read with.
#[derive(Debug, Clone)]
pub struct SpecClients {
    s3: aws_sdk_s3::Client,
    ssm: aws_sdk_ssm::Client,
}

impl SpecClients {
    /// Clients from the shared SDK configuration ([`crate::load_sdk_config`]). Building them
    /// makes no call. With an endpoint override (a local emulator such as moto) S3 is addressed
    /// path-style, because `BUCKET.127.0.0.1` does not resolve.
    pub fn new(config: &SdkConfig) -> Self {
        let mut s3 = aws_sdk_s3::config::Builder::from(config);
        if config.endpoint_url().is_some() {
            s3 = s3.force_path_style(true);
        }
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            ssm: aws_sdk_ssm::Client::new(config),
        }
    }

    /// The S3 client.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// The SSM client.
    pub fn ssm(&self) -> &aws_sdk_ssm::Client {
        &self.ssm
    }
}

/// Loading the mapping specs failed. Every variant keeps the source it read from.
#[derive(Debug, thiserror::Error)]
pub enum SpecLoadError {
    /// S3 or SSM could not be read (unreachable, throttled, denied, no such bucket).
    #[error("cannot fetch the mapping specs from {location}: {error}")]
    Fetch {
        location: SpecSource,
        #[source]
        error: PortError,
    },
    /// The source holds no spec file.
    #[error("no .yaml or .yml files under {location}")]
    Empty { location: SpecSource },
    /// A file is not something a spec can be: not UTF-8 text, or too large.
    #[error("{location}{file}: {problem}")]
    BadFile {
        location: SpecSource,
        /// The file's name below the source, as uploaded.
        file: String,
        problem: String,
    },
    /// The specs do not compile; [`SpecLoadError::diagnostics`] lists every problem, each
    /// named by file (as uploaded), line, column and field.
    #[error("{location}: {error}")]
    Compile {
        location: SpecSource,
        #[source]
        error: MappingError,
    },
}

impl SpecLoadError {
    /// Where the specs were read from.
    pub fn location(&self) -> &SpecSource {
        match self {
            SpecLoadError::Fetch { location, .. }
            | SpecLoadError::Empty { location }
            | SpecLoadError::BadFile { location, .. }
            | SpecLoadError::Compile { location, .. } => location,
        }
    }

    /// Every compile problem, when the specs were fetched but do not compile.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            SpecLoadError::Compile {
                error: MappingError::Invalid(diagnostics),
                ..
            } => Some(diagnostics),
            _ => None,
        }
    }
}

impl Classify for SpecLoadError {
    /// A failed fetch is retried: the function fails its cold start and Lambda starts it again.
    /// Even a refused read (a missing bucket, denied access) is a deployment step not yet done,
    /// like a missing table (see `error.rs`), and the same start succeeds once it is. What was
    /// fetched and found wrong stays wrong until someone uploads a fix.
    fn class(&self) -> ErrorClass {
        match self {
            SpecLoadError::Fetch { .. } => ErrorClass::Transient,
            SpecLoadError::Empty { .. }
            | SpecLoadError::BadFile { .. }
            | SpecLoadError::Compile { .. } => ErrorClass::Permanent,
        }
    }
}

/// Fetches the spec files of `source` without compiling them (e.g. to check or test a deployed
/// set). An empty source is an error.
pub async fn fetch_specs(
    source: &SpecSource,
    clients: &SpecClients,
) -> Result<SpecBundle, SpecLoadError> {
    let bundle = match source {
        SpecSource::Shipped => SpecBundle::shipped(),
        SpecSource::S3 { bucket, prefix } => {
            fetch_s3(source, &clients.s3, bucket, &folder(prefix)).await?
        }
        SpecSource::Ssm { path } => {
            fetch_ssm(source, &clients.ssm, path.trim_end_matches('/')).await?
        }
    };
    if bundle.is_empty() {
        return Err(SpecLoadError::Empty {
            location: source.clone(),
        });
    }
    Ok(bundle)
}

/// Fetches and compiles the specs of `source`.
pub async fn load_specs(
    source: &SpecSource,
    clients: &SpecClients,
) -> Result<SpecSet, SpecLoadError> {
    let bundle = fetch_specs(source, clients).await?;
    bundle.compile().map_err(|error| SpecLoadError::Compile {
        location: source.clone(),
        error,
    })
}

/// [`load_specs`] for a function's cold start: logs what was loaded, or each problem as its own
/// `error` event (spec text is never logged), and returns the error so `main` exits non-zero
/// before taking any work.
pub async fn load_specs_or_log(
    source: &SpecSource,
    clients: &SpecClients,
) -> Result<SpecSet, SpecLoadError> {
    match load_specs(source, clients).await {
        Ok(specs) => {
            let flows: Vec<String> = specs.flows().map(|(flow, _)| flow.to_string()).collect();
            tracing::info!(source = %source, flows = %flows.join(","), "mapping specs loaded");
            Ok(specs)
        }
        Err(err) => {
            log_failure(&err);
            Err(err)
        }
    }
}

fn log_failure(err: &SpecLoadError) {
    let source = err.location();
    let class = err.class().name();
    match err.diagnostics() {
        Some(diagnostics) => {
            for d in diagnostics.iter() {
                tracing::error!(
                    source = %source,
                    file = %d.file,
                    line = d.line,
                    column = d.column,
                    field = %d.field,
                    "{d}"
                );
            }
            tracing::error!(
                source = %source,
                errors = diagnostics.len(),
                class,
                "the mapping specs do not compile; the function cannot start"
            );
        }
        None => tracing::error!(
            source = %source,
            class,
            error = %err,
            "the mapping specs could not be loaded; the function cannot start"
        ),
    }
}

/// Whether a file name is a spec file: the `.yaml` / `.yml` rule of [`SpecBundle::from_dir`].
fn is_spec_file(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

fn fetch_failed(source: &SpecSource, error: PortError) -> SpecLoadError {
    SpecLoadError::Fetch {
        location: source.clone(),
        error,
    }
}

fn bad_file(source: &SpecSource, file: &str, problem: String) -> SpecLoadError {
    SpecLoadError::BadFile {
        location: source.clone(),
        file: file.to_owned(),
        problem,
    }
}

/// Spec text from fetched bytes.
fn spec_text(source: &SpecSource, file: &str, bytes: Vec<u8>) -> Result<String, SpecLoadError> {
    let len = bytes.len() as u64;
    if len > MAX_SPEC_FILE_BYTES {
        return Err(bad_file(source, file, too_large(len)));
    }
    String::from_utf8(bytes).map_err(|e| {
        bad_file(
            source,
            file,
            format!(
                "is not UTF-8 text (bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

fn too_large(len: u64) -> String {
    format!("is {len} bytes, above the {MAX_SPEC_FILE_BYTES}-byte limit for a spec file")
}

async fn fetch_s3(
    source: &SpecSource,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<SpecBundle, SpecLoadError> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            fetch_failed(
                source,
                from_sdk(&format!("ListObjectsV2 s3://{bucket}/{prefix}"), e),
            )
        })?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let Some(name) = key.strip_prefix(prefix) else {
                continue;
            };
            if !is_spec_file(name) {
                continue;
            }
            // Checked before the download, so an oversized object is never read.
            let size = u64::try_from(object.size().unwrap_or(0)).unwrap_or(0);
            if size > MAX_SPEC_FILE_BYTES {
                return Err(bad_file(source, name, too_large(size)));
            }
            found.push((key.to_owned(), name.to_owned()));
        }
    }
    let files: Vec<(String, String)> = futures::stream::iter(found)
        .map(|(key, name)| async move {
            let object = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| {
                    fetch_failed(
                        source,
                        from_sdk(&format!("GetObject s3://{bucket}/{key}"), e),
                    )
                })?;
            let bytes = object.body.collect().await.map_err(|e| {
                fetch_failed(
                    source,
                    PortError::unavailable(format!("reading s3://{bucket}/{key}"), e),
                )
            })?;
            let text = spec_text(source, &name, bytes.into_bytes().to_vec())?;
            Ok::<_, SpecLoadError>((name, text))
        })
        .buffer_unordered(CONCURRENT_GETS)
        .try_collect()
        .await?;
    Ok(SpecBundle::from_files(files))
}

async fn fetch_ssm(
    source: &SpecSource,
    ssm: &aws_sdk_ssm::Client,
    path: &str,
) -> Result<SpecBundle, SpecLoadError> {
    let below = format!("{path}/");
    let mut bundle = SpecBundle::new();
    let mut pages = ssm
        .get_parameters_by_path()
        .path(path)
        .recursive(true)
        .with_decryption(true)
        .max_results(SSM_PAGE_SIZE)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            fetch_failed(source, from_sdk(&format!("GetParametersByPath {path}"), e))
        })?;
        for parameter in page.parameters() {
            let (Some(name), Some(value)) = (parameter.name(), parameter.value()) else {
                continue;
            };
            let Some(file) = name.strip_prefix(&below) else {
                continue;
            };
            if is_spec_file(file) {
                let text = spec_text(source, file, value.as_bytes().to_vec())?;
                bundle.insert(file, text);
            }
        }
    }
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use aws_config::{BehaviorVersion, Region};
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn configuration_values_parse_into_sources() {
        let s3 = |bucket: &str, prefix: &str| SpecSource::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
        };
        let ssm = |path: &str| SpecSource::Ssm { path: path.into() };
        let cases = [
            (None, SpecSource::Shipped),
            (Some(""), SpecSource::Shipped),
            (Some("  "), SpecSource::Shipped),
            (Some("shipped"), SpecSource::Shipped),
            (Some("s3://acme-specs"), s3("acme-specs", "")),
            (Some("s3://acme-specs/"), s3("acme-specs", "")),
            (
                Some("s3://acme-specs/prod/mappings"),
                s3("acme-specs", "prod/mappings/"),
            ),
            (Some(" s3://acme.specs/prod/ "), s3("acme.specs", "prod/")),
            (
                Some("ssm:/ledgerforce/prod/mappings/"),
                ssm("/ledgerforce/prod/mappings"),
            ),
            (
                Some("ssm:/ledgerforce/prod/mappings"),
                ssm("/ledgerforce/prod/mappings"),
            ),
            (
                Some("ssm:/Ledger_Force.v2/x-y"),
                ssm("/Ledger_Force.v2/x-y"),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(SpecSource::parse(value).unwrap(), expected, "{value:?}");
        }
        assert_eq!(
            "shipped".parse::<SpecSource>().unwrap(),
            SpecSource::Shipped
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let cases = [
            ("Shipped", "unknown kind of source"),
            ("/ledgerforce/prod/mappings", "unknown kind of source"),
            (
                "https://acme-specs.s3.amazonaws.com/prod/",
                "unknown kind of source",
            ),
            ("s3://", "3 to 63 characters"),
            ("s3://ab/prod/", "3 to 63 characters"),
            ("s3://Acme-Specs/prod/", "lower-case letters"),
            ("s3://acme_specs/prod/", "lower-case letters"),
            ("s3://-acme/prod/", "starts and ends"),
            ("s3://acme-specs//prod/", "must not start with `/`"),
            ("ssm://ledgerforce/prod/", "one `/` after `ssm:`"),
            ("ssm:ledgerforce/prod/", "starts with `/`"),
            ("ssm:/", "names no hierarchy"),
            ("ssm:/ledgerforce/prod mappings/", "only letters, digits"),
        ];
        for (value, reason) in cases {
            let err = SpecSource::parse(Some(value)).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(reason), "{value}: {message}");
            assert!(message.contains(&format!("`{value}`")), "{message}");
            assert!(message.contains("s3://BUCKET/PREFIX/"), "{message}");
            assert_eq!(err.class(), ErrorClass::Permanent);
        }
    }

    #[test]
    fn display_is_the_configuration_value() {
        assert_eq!(SpecSource::Shipped.to_string(), "shipped");
        let s3 = SpecSource::parse(Some("s3://acme-specs/prod/mappings")).unwrap();
        assert_eq!(s3.to_string(), "s3://acme-specs/prod/mappings/");
        let ssm = SpecSource::parse(Some("ssm:/ledgerforce/prod/mappings")).unwrap();
        assert_eq!(ssm.to_string(), "ssm:/ledgerforce/prod/mappings/");
        // Built directly, without the folder slash: displayed (and fetched) as a folder.
        let direct = SpecSource::S3 {
            bucket: "acme-specs".into(),
            prefix: "prod".into(),
        };
        assert_eq!(direct.to_string(), "s3://acme-specs/prod/");
    }

    proptest! {
        #[test]
        fn parsed_sources_display_back_to_themselves(
            bucket in "[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]",
            prefix in "([a-zA-Z0-9_-]{1,8}/){0,3}",
            path in "(/[a-zA-Z0-9_.-]{1,8}){1,4}",
        ) {
            for value in [format!("s3://{bucket}/{prefix}"), format!("ssm:{path}/")] {
                let source = SpecSource::parse(Some(&value)).unwrap();
                prop_assert_eq!(source.to_string(), value.clone());
                prop_assert_eq!(SpecSource::parse(Some(&source.to_string())).unwrap(), source);
            }
        }
    }

    #[test]
    fn only_yaml_files_are_specs() {
        assert!(is_spec_file("library/entities.yaml"));
        assert!(is_spec_file("credit-alerts.yml"));
        assert!(!is_spec_file("mapping-spec.schema.json"));
        assert!(!is_spec_file("library/"));
        assert!(!is_spec_file("notes.yaml.bak"));
    }

    #[test]
    fn spec_text_refuses_binary_and_oversized_files_by_name() {
        let source = SpecSource::Ssm {
            path: "/lf/specs".into(),
        };
        let err = spec_text(&source, "a.yaml", vec![b'f', b'l', 0xff, b'w']).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ssm:/lf/specs/a.yaml: is not UTF-8 text (bad byte at offset 2)"
        );
        assert_eq!(err.class(), ErrorClass::Permanent);
        let big = vec![b'#'; MAX_SPEC_FILE_BYTES as usize + 1];
        let err = spec_text(&source, "big.yaml", big).unwrap_err();
        assert!(
            err.to_string().contains("big.yaml: is 1048577 bytes"),
            "{err}"
        );
        assert_eq!(
            spec_text(&source, "ok.yaml", b"flow: x".to_vec()).unwrap(),
            "flow: x"
        );
    }

    /// Clients that make no call: the shipped source needs none.
    fn offline_clients() -> SpecClients {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        SpecClients::new(&config)
    }

    #[tokio::test]
    async fn the_shipped_source_is_the_shipped_bundle() {
        let loaded = load_specs(&SpecSource::Shipped, &offline_clients())
            .await
            .unwrap();
        let shipped = SpecBundle::shipped().compile().unwrap();
        let flows = |s: &SpecSet| -> Vec<(lf_domain::Flow, String)> {
            s.flows().map(|(f, n)| (f, n.to_owned())).collect()
        };
        assert!(!flows(&loaded).is_empty());
        assert_eq!(flows(&loaded), flows(&shipped));
        assert_eq!(loaded.test_count(), shipped.test_count());
    }

    /// A `MakeWriter` that keeps what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn captured_events(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn a_spec_set_that_does_not_compile_is_logged_one_error_per_event_without_its_text() {
        let mut bundle = SpecBundle::shipped();
        bundle.insert(
            "library/broken.yaml",
            "library: broken\ndescription: SPEC-BODY-MARKER\nno_such_key: 1\n",
        );
        bundle.insert("flow-typo.yaml", "flow: opportunity-lost\nmappings: {}\n");
        let source = SpecSource::parse(Some("s3://acme-specs/prod/")).unwrap();
        let err = SpecLoadError::Compile {
            location: source.clone(),
            error: bundle.compile().unwrap_err(),
        };
        let diagnostics = err.diagnostics().unwrap().clone();
        assert!(diagnostics.len() >= 2, "{diagnostics}");

        let events = captured_events(|| log_failure(&err));
        assert_eq!(events.len(), diagnostics.len() + 1);
        for (event, d) in events.iter().zip(diagnostics.iter()) {
            assert_eq!(event["level"], "ERROR");
            let fields = &event["fields"];
            assert_eq!(fields["message"], d.to_string());
            assert_eq!(fields["file"], d.file.as_str());
            assert_eq!(fields["line"], d.line);
            assert_eq!(fields["column"], d.column);
            assert_eq!(fields["source"], "s3://acme-specs/prod/");
        }
        let files: Vec<&str> = diagnostics.iter().map(|d| d.file.as_str()).collect();
        assert!(files.contains(&"library/broken.yaml"), "{files:?}");
        assert!(files.contains(&"flow-typo.yaml"), "{files:?}");
        let summary = &events[diagnostics.len()]["fields"];
        assert_eq!(summary["errors"], diagnostics.len());
        assert_eq!(summary["class"], "permanent");
        let all = serde_json::to_string(&events).unwrap();
        assert!(
            !all.contains("SPEC-BODY-MARKER"),
            "spec text was logged: {all}"
        );
    }

    #[test]
    fn a_failed_fetch_is_logged_once_with_its_source_and_class() {
        let err = fetch_failed(
            &SpecSource::Ssm {
                path: "/lf/prod".into(),
            },
            // As `from_sdk` builds it: the detail in the message, the SDK error behind it.
            PortError::unavailable(
                "GetParametersByPath /lf/prod: dispatch failure: connection refused",
                std::io::Error::other("connection refused"),
            ),
        );
        let events = captured_events(|| log_failure(&err));
        assert_eq!(events.len(), 1);
        let fields = &events[0]["fields"];
        assert_eq!(events[0]["level"], "ERROR");
        assert_eq!(fields["source"], "ssm:/lf/prod/");
        assert_eq!(fields["class"], "transient");
        assert!(
            fields["error"]
                .as_str()
                .unwrap()
                .contains("connection refused"),
            "{fields}"
        );
    }
}
