//! Reports to S3 as emulated by moto: a put lands under the prefix with its content type, and
//! a second put of the same name replaces it (one report per period).

use crate::moto;

use lf_aws::S3ReportStore;

#[tokio::test]
async fn reports_land_under_the_prefix_and_a_rerun_replaces_them() {
    let config = moto::sdk_config().await;
    let bucket = format!(
        "lf-reports-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let store = S3ReportStore::new(&config, &bucket, "/reports");
    let name = "revenue-reconciliation/2026-10/report.html";
    assert_eq!(store.key(name), format!("reports/{name}"));
    let at = store
        .put(name, "<p>first</p>", "text/html; charset=utf-8")
        .await
        .unwrap();
    assert_eq!(at, format!("s3://{bucket}/reports/{name}"));
    store
        .put(name, "<p>second</p>", "text/html; charset=utf-8")
        .await
        .unwrap();
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.contents().len(), 1, "one object per name");
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(format!("reports/{name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/html; charset=utf-8"));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"<p>second</p>");

    let missing = S3ReportStore::new(&config, format!("{bucket}-absent"), "");
    let err = missing.put("x.csv", "a,b\n", "text/csv").await.unwrap_err();
    assert!(err.to_string().contains("x.csv"), "{err}");
}
