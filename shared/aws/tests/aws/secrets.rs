//! Loading secrets from Secrets Manager, as emulated by moto.

use aws_sdk_secretsmanager::primitives::Blob;
use lf_aws::{SecretError, Secrets};
use lf_domain::{Classify, ErrorClass};
use secrecy::ExposeSecret;

use crate::moto;

struct Fixture {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
}

impl Fixture {
    async fn new() -> Self {
        let config = moto::sdk_config().await;
        let unique = uuid::Uuid::new_v4().simple().to_string();
        Self {
            client: aws_sdk_secretsmanager::Client::new(&config),
            prefix: format!("ledgerforce-test-{}", &unique[..12]),
        }
    }

    /// Creates a text secret and returns its ARN.
    async fn text(&self, name: &str, value: &str) -> String {
        let created = self
            .client
            .create_secret()
            .name(format!("{}/{name}", self.prefix))
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("creating secret {name} in moto failed: {e:?}"));
        created.arn().unwrap_or_default().to_owned()
    }

    fn secrets(&self) -> Secrets {
        Secrets::new(self.client.clone())
    }
}

#[tokio::test]
async fn json_fields_and_plain_text_load_into_secret_strings() {
    let f = Fixture::new().await;
    let arn = f
        .text(
            "intacct",
            r#"{"sender_id": "lf-sender", "sender_password": "s3cr3t-pw", "port": 443}"#,
        )
        .await;
    let secrets = f.secrets();
    let got = secrets
        .fields(&arn, &["sender_password", "sender_id"])
        .await
        .unwrap();
    assert_eq!(got[0].expose_secret(), "s3cr3t-pw");
    assert_eq!(got[1].expose_secret(), "lf-sender");
    let one = secrets.field(&arn, "sender_id").await.unwrap();
    assert_eq!(one.expose_secret(), "lf-sender");
    // SecretString never prints its value.
    assert!(!format!("{got:?}").contains("s3cr3t-pw"));

    let token_arn = f.text("webhook-token", "tok-abc123").await;
    assert_eq!(
        secrets.text(&token_arn).await.unwrap().expose_secret(),
        "tok-abc123"
    );
    // By name as well as by ARN.
    let by_name = format!("{}/webhook-token", f.prefix);
    assert_eq!(
        secrets.text(&by_name).await.unwrap().expose_secret(),
        "tok-abc123"
    );
}

#[tokio::test]
async fn errors_name_the_secret_and_field_but_never_the_value() {
    let f = Fixture::new().await;
    let secrets = f.secrets();
    let arn = f
        .text(
            "salesforce",
            r#"{"client_id": "cid-value-9", "private_key": 42}"#,
        )
        .await;

    let err = secrets.field(&arn, "username").await.unwrap_err();
    assert!(matches!(err, SecretError::MissingField { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&arn) && text.contains("username"), "{text}");
    assert!(!text.contains("cid-value-9"), "{text}");
    assert_eq!(err.class(), ErrorClass::Permanent);

    let err = secrets.field(&arn, "private_key").await.unwrap_err();
    assert!(matches!(err, SecretError::NotAString { .. }), "{err:?}");
    // The ARN's random parts may contain the digits; the value must not appear beside it.
    assert!(!err.to_string().replace(&arn, "").contains("42"), "{err}");

    let plain = f.text("not-json", "hunter2-plain").await;
    let err = secrets.field(&plain, "password").await.unwrap_err();
    assert!(matches!(err, SecretError::NotJson { .. }), "{err:?}");
    let chain = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(!chain.contains("hunter2"), "{chain}");

    let blank = f.text("blank", "   ").await;
    assert!(matches!(
        secrets.text(&blank).await.unwrap_err(),
        SecretError::Empty { .. }
    ));

    let missing = format!("{}/does-not-exist", f.prefix);
    let err = secrets.text(&missing).await.unwrap_err();
    assert!(matches!(err, SecretError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");
    let source = std::error::Error::source(&err).map(|s| s.to_string());
    assert!(
        source
            .as_deref()
            .is_some_and(|s| s.contains("ResourceNotFoundException")),
        "{source:?}"
    );
}

#[tokio::test]
async fn a_binary_secret_is_refused_as_not_text() {
    let f = Fixture::new().await;
    let created = f
        .client
        .create_secret()
        .name(format!("{}/binary", f.prefix))
        .secret_binary(Blob::new(vec![0u8, 159, 146, 150]))
        .send()
        .await
        .unwrap();
    let err = f.secrets().text(created.arn().unwrap()).await.unwrap_err();
    assert!(matches!(err, SecretError::NotText { .. }), "{err:?}");
}
