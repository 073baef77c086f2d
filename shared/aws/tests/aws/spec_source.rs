//! Loading mapping specs from S3 and SSM Parameter Store as emulated by a local moto server:
//! the shipped specs round-trip through both, a broken upload reports every error under the
//! names it was uploaded with, and empty or unreachable sources fail the way a cold start needs.

use crate::moto;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use lf_aws::spec_source::{MAX_SPEC_FILE_BYTES, fetch_specs};
use lf_aws::{
    AwsSettings, SpecClients, SpecLoadError, SpecSource, load_sdk_config, load_specs,
    load_specs_or_log,
};
use lf_domain::{Classify, ErrorClass, Flow};
use lf_mapping::{SpecBundle, SpecSet};

/// The most an SSM standard-tier parameter holds; larger values need the advanced tier.
const SSM_STANDARD_BYTES: usize = 4096;
/// The most an SSM advanced-tier parameter holds. moto does not enforce it; real SSM does.
const SSM_ADVANCED_BYTES: usize = 8192;

struct Moto {
    clients: SpecClients,
    /// Unique per test, so tests running in parallel never share a bucket or a path.
    unique: String,
}

impl Moto {
    async fn new() -> Self {
        let config = moto::sdk_config().await;
        let unique = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Self {
            clients: SpecClients::new(&config),
            unique,
        }
    }

    /// A new, empty bucket.
    async fn bucket(&self) -> String {
        let bucket = format!("lf-specs-{}", self.unique);
        self.clients
            .s3()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("creating bucket {bucket} in moto failed: {e:?}"));
        bucket
    }

    async fn put_object(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        self.clients
            .s3()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("putting s3://{bucket}/{key} in moto failed: {e:?}"));
    }

    /// Uploads every file of `bundle` below `prefix` (a folder: empty or ending in `/`).
    async fn upload_to_s3(&self, bucket: &str, prefix: &str, bundle: &SpecBundle) {
        for (name, text) in bundle.files() {
            self.put_object(bucket, &format!("{prefix}{name}"), text)
                .await;
        }
    }

    /// Stores every file of `bundle` as a parameter below `path`, as an admin would: the
    /// advanced tier where the standard one is too small, one file as a SecureString.
    async fn upload_to_ssm(&self, path: &str, bundle: &SpecBundle) {
        for (i, (name, text)) in bundle.files().enumerate() {
            let parameter = format!("{path}/{name}");
            assert!(
                text.len() <= SSM_ADVANCED_BYTES,
                "{name} has {} bytes: real SSM cannot store it (8 KB at most)",
                text.len()
            );
            let tier = if text.len() > SSM_STANDARD_BYTES {
                ParameterTier::Advanced
            } else {
                ParameterTier::Standard
            };
            let kind = if i == 0 {
                ParameterType::SecureString
            } else {
                ParameterType::String
            };
            self.clients
                .ssm()
                .put_parameter()
                .name(&parameter)
                .value(text)
                .r#type(kind)
                .tier(tier)
                .send()
                .await
                .unwrap_or_else(|e| panic!("putting parameter {parameter} in moto failed: {e:?}"));
        }
    }
}

fn flows(specs: &SpecSet) -> Vec<(Flow, String)> {
    specs.flows().map(|(f, n)| (f, n.to_owned())).collect()
}

fn mapping_names(specs: &SpecSet) -> Vec<(Flow, Vec<String>)> {
    specs
        .flows()
        .map(|(f, _)| (f, specs.mappings(f).map(|(n, _)| n.to_owned()).collect()))
        .collect()
}

/// The loaded set is the shipped one: same flows from the same file names, same mappings,
/// same test cases.
fn assert_same_as_shipped(loaded: &SpecSet) {
    let shipped = SpecBundle::shipped()
        .compile()
        .unwrap_or_else(|e| panic!("the shipped specs do not compile: {e}"));
    assert!(!flows(&shipped).is_empty());
    assert_eq!(flows(loaded), flows(&shipped));
    assert_eq!(mapping_names(loaded), mapping_names(&shipped));
    assert_eq!(loaded.test_count(), shipped.test_count());
    // The spec's own test cases give the same outcome (whether they pass is lf-mapping's test).
    let (ours, theirs) = (loaded.run_tests(), shipped.run_tests());
    assert_eq!(
        (ours.passed(), ours.failed()),
        (theirs.passed(), theirs.failed())
    );
}

/// `base` with two files broken: a library and a flow, so the errors span files.
fn broken_bundle(base: SpecBundle) -> SpecBundle {
    let mut bundle = base;
    let entities = bundle
        .files()
        .find(|(n, _)| *n == "library/entities.yaml")
        .map(|(_, t)| t.to_owned())
        .unwrap_or_else(|| panic!("the bundle has no library/entities.yaml"));
    bundle.insert(
        "library/entities.yaml",
        format!("{entities}\nroutnig: {{}}\n"),
    );
    bundle.insert(
        "opportunity-won.yaml",
        "flow: opportunity-won\nmappings:\n  customer:\n    source: Account\n    target: CUSTOMER\n    fields:\n      - target: NAME\n        transform: no_such_transform\n",
    );
    bundle
}

#[tokio::test]
async fn shipped_specs_uploaded_to_s3_load_as_shipped() {
    let moto = Moto::new().await;
    let bucket = moto.bucket().await;
    moto.upload_to_s3(&bucket, "prod/mappings/", &SpecBundle::shipped())
        .await;
    // Beside the specs: a file that is not a spec, and a sibling folder whose broken spec must
    // not be read although its name starts with the configured prefix.
    moto.put_object(&bucket, "prod/mappings/README.md", "not a spec")
        .await;
    moto.put_object(&bucket, "prod/mappings-old/opportunity-won.yaml", "flow: [")
        .await;

    // Configured without the trailing slash: still the folder.
    let source = SpecSource::parse(Some(&format!("s3://{bucket}/prod/mappings"))).unwrap();
    let fetched = fetch_specs(&source, &moto.clients).await.unwrap();
    assert_eq!(fetched, SpecBundle::shipped());
    let loaded = load_specs_or_log(&source, &moto.clients).await.unwrap();
    assert_same_as_shipped(&loaded);
}

/// What an admin can keep in SSM: the shipped files that fit in a parameter (SSM holds 8 KB at
/// most, so the large flow files belong in S3), plus small lookup libraries so that loading
/// takes more than one GetParametersByPath page (10).
fn ssm_sized_bundle() -> SpecBundle {
    let mut files: Vec<(String, String)> = SpecBundle::shipped()
        .files()
        .filter(|(_, text)| text.len() <= SSM_ADVANCED_BYTES)
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
        .collect();
    for i in 0..4 {
        files.push((
            format!("library/regional-{i}.yaml"),
            format!(
                "library: regional_{i}\nlookups:\n  region_{i}:\n    values:\n      North: N{i}\n      South: S{i}\n"
            ),
        ));
    }
    SpecBundle::from_files(files)
}

#[tokio::test]
async fn specs_stored_in_ssm_load_like_the_same_files_from_disk() {
    let moto = Moto::new().await;
    let path = format!("/lf-test/{}/mappings", moto.unique);
    let bundle = ssm_sized_bundle();
    assert!(bundle.len() > 10, "{} files", bundle.len());
    moto.upload_to_ssm(&path, &bundle).await;
    moto.upload_to_ssm(
        &format!("/lf-test/{}/mappings-old", moto.unique),
        &SpecBundle::from_files([("opportunity-won.yaml", "flow: [")]),
    )
    .await;

    let source = SpecSource::parse(Some(&format!("ssm:{path}/"))).unwrap();
    let fetched = fetch_specs(&source, &moto.clients).await.unwrap();
    assert_eq!(fetched, bundle);
    let loaded = load_specs(&source, &moto.clients).await.unwrap();
    let local = bundle
        .compile()
        .unwrap_or_else(|e| panic!("the SSM-sized bundle does not compile: {e}"));
    assert!(!flows(&local).is_empty());
    assert_eq!(flows(&loaded), flows(&local));
    assert_eq!(mapping_names(&loaded), mapping_names(&local));
    assert_eq!(loaded.test_count(), local.test_count());
}

#[tokio::test]
async fn a_broken_upload_reports_every_error_by_uploaded_file_name() {
    let moto = Moto::new().await;
    let bucket = moto.bucket().await;
    let broken = broken_bundle(SpecBundle::shipped());
    moto.upload_to_s3(&bucket, "staging/", &broken).await;
    let expected = broken.compile().unwrap_err().to_string();

    let source = SpecSource::parse(Some(&format!("s3://{bucket}/staging/"))).unwrap();
    let err = load_specs_or_log(&source, &moto.clients).await.unwrap_err();
    assert!(matches!(err, SpecLoadError::Compile { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(err.location(), &source);
    let diagnostics = err.diagnostics().unwrap();
    // Exactly what compiling the same files locally reports: every error, none lost or renamed.
    assert_eq!(
        err.to_string(),
        format!("s3://{bucket}/staging/: {expected}")
    );
    let files: Vec<&str> = diagnostics.iter().map(|d| d.file.as_str()).collect();
    assert!(files.contains(&"library/entities.yaml"), "{files:?}");
    assert!(files.contains(&"opportunity-won.yaml"), "{files:?}");
    for d in diagnostics.iter() {
        assert!(d.line > 0 && d.column > 0, "{d}");
        assert!(
            d.to_string()
                .starts_with(&format!("{}:{}:{}: ", d.file, d.line, d.column)),
            "{d}"
        );
    }
}

#[tokio::test]
async fn a_broken_ssm_upload_reports_every_error_by_parameter_name() {
    let moto = Moto::new().await;
    let path = format!("/lf-test/{}/mappings", moto.unique);
    let broken = broken_bundle(ssm_sized_bundle());
    moto.upload_to_ssm(&path, &broken).await;
    let expected = broken.compile().unwrap_err();

    let source = SpecSource::Ssm { path: path.clone() };
    let err = load_specs(&source, &moto.clients).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    let expected = match expected {
        lf_mapping::MappingError::Invalid(d) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(err.diagnostics(), Some(&expected));
}

#[tokio::test]
async fn a_source_without_spec_files_is_a_permanent_empty_source() {
    let moto = Moto::new().await;
    let bucket = moto.bucket().await;
    moto.put_object(
        &bucket,
        "prod/opportunity-won.yaml",
        "flow: opportunity-won",
    )
    .await;
    moto.put_object(&bucket, "staging/notes.txt", "nothing here yet")
        .await;

    let source = SpecSource::parse(Some(&format!("s3://{bucket}/staging/"))).unwrap();
    let err = load_specs(&source, &moto.clients).await.unwrap_err();
    assert!(matches!(err, SpecLoadError::Empty { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(
        err.to_string(),
        format!("no .yaml or .yml files under s3://{bucket}/staging/")
    );

    let source =
        SpecSource::parse(Some(&format!("ssm:/lf-test/{}/nothing/", moto.unique))).unwrap();
    let err = load_specs(&source, &moto.clients).await.unwrap_err();
    assert!(matches!(err, SpecLoadError::Empty { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "no .yaml or .yml files under ssm:/lf-test/{}/nothing/",
            moto.unique
        )
    );
}

#[tokio::test]
async fn files_that_cannot_be_specs_are_refused_by_name() {
    let moto = Moto::new().await;
    let bucket = moto.bucket().await;
    moto.upload_to_s3(&bucket, "binary/", &SpecBundle::shipped())
        .await;
    moto.put_object(
        &bucket,
        "binary/library/export.yaml",
        vec![0x66, 0x6c, 0xff, 0xfe],
    )
    .await;
    let source = SpecSource::parse(Some(&format!("s3://{bucket}/binary/"))).unwrap();
    let err = load_specs(&source, &moto.clients).await.unwrap_err();
    assert!(matches!(err, SpecLoadError::BadFile { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(
        err.to_string(),
        format!(
            "s3://{bucket}/binary/library/export.yaml: is not UTF-8 text (bad byte at offset 2)"
        )
    );

    let too_big = vec![b'#'; MAX_SPEC_FILE_BYTES as usize + 1];
    moto.put_object(&bucket, "big/opportunity-won.yaml", too_big)
        .await;
    let source = SpecSource::parse(Some(&format!("s3://{bucket}/big/"))).unwrap();
    let err = load_specs(&source, &moto.clients).await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "s3://{bucket}/big/opportunity-won.yaml: is 1048577 bytes"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_bucket_fails_the_start_to_be_retried() {
    let moto = Moto::new().await;
    let source =
        SpecSource::parse(Some(&format!("s3://lf-no-such-{}/prod/", moto.unique))).unwrap();
    let err = load_specs(&source, &moto.clients).await.unwrap_err();
    assert!(matches!(err, SpecLoadError::Fetch { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Transient);
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
    assert_eq!(err.location(), &source);
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("binding a loopback port failed: {e}"))
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transient_fetch_error_naming_the_source() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let config = load_sdk_config(&AwsSettings::local(endpoint)).await;
    let clients = SpecClients::new(&config);
    for value in ["s3://acme-specs/prod/", "ssm:/ledgerforce/prod/mappings/"] {
        let source = SpecSource::parse(Some(value)).unwrap();
        let err = load_specs_or_log(&source, &clients).await.unwrap_err();
        assert!(matches!(err, SpecLoadError::Fetch { .. }), "{err:?}");
        assert_eq!(err.class(), ErrorClass::Transient);
        assert_eq!(err.location(), &source);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("cannot fetch the mapping specs from {value}: ")),
            "{message}"
        );
        // The port error, with the SDK's error (connection refused) kept behind it.
        let cause = std::error::Error::source(&err).unwrap();
        let port = cause.downcast_ref::<lf_domain::PortError>().unwrap();
        assert_eq!(port.class(), ErrorClass::Transient);
        assert!(std::error::Error::source(port).is_some(), "{port:?}");
    }
}
