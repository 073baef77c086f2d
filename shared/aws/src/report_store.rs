//! Reports written to S3: the revenue reconciliation's HTML page and CSV, one object each,
//! under a prefix of a bucket the deployment names. A put replaces the object of the same key,
//! so rerunning a period leaves one report per period (the bucket's versioning, when on, keeps
//! the earlier ones).
//!
//! Permission the function's role needs: `s3:PutObject` on `arn:aws:s3:::BUCKET/PREFIX*`.

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use lf_domain::{Classify, ErrorClass};

/// A report object could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing s3://{bucket}/{key} failed: {reason}")]
pub struct ReportStoreError {
    pub bucket: String,
    pub key: String,
    pub reason: String,
}

impl Classify for ReportStoreError {
    // A failed put is worth the schedule's retry: the run is rerun whole, which is idempotent.
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

/// Where reports go: a bucket and a key prefix (empty, or ending in `/`).
#[derive(Debug, Clone)]
pub struct S3ReportStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3ReportStore {
    /// A store over the shared SDK configuration; path-style addressing with an endpoint
    /// override (moto), as [`crate::SpecClients`] does. Building it makes no call.
    pub fn new(config: &SdkConfig, bucket: impl Into<String>, prefix: &str) -> Self {
        let mut s3 = aws_sdk_s3::config::Builder::from(config);
        if config.endpoint_url().is_some() {
            s3 = s3.force_path_style(true);
        }
        let prefix = prefix.trim().trim_start_matches('/');
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            bucket: bucket.into(),
            prefix: if prefix.is_empty() || prefix.ends_with('/') {
                prefix.to_owned()
            } else {
                format!("{prefix}/")
            },
        }
    }

    /// The full key of `name` (`reports/revenue-reconciliation/2026-10/report.html`).
    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name.trim_start_matches('/'))
    }

    /// `s3://BUCKET/KEY` of `name`, for logs and answers.
    pub fn location(&self, name: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(name))
    }

    /// Writes `body` as `name` with `content_type`; returns its location.
    pub async fn put(
        &self,
        name: &str,
        body: impl Into<Vec<u8>>,
        content_type: &str,
    ) -> Result<String, ReportStoreError> {
        let key = self.key(name);
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(content_type)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .map_err(|e| ReportStoreError {
                bucket: self.bucket.clone(),
                key: key.clone(),
                reason: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
            })?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}
