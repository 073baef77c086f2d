//! The versions list, the resources of a version, and `/limits`.

use serde_json::{Value, json};

use super::{ApiRequest, ApiResponse, Call, LATEST_VERSION, OLDEST_VERSION};

/// Release label of an API version: v62.0 is Winter '25, then Spring, Summer, Winter...
fn release_label(version: u32) -> String {
    let k = i64::from(version) - 62;
    let season = ["Winter", "Spring", "Summer"][k.rem_euclid(3) as usize];
    let year = 25 + k.div_euclid(3);
    format!("{season} '{year:02}")
}

/// `GET /services/data/`.
pub(crate) fn versions() -> ApiResponse {
    let list: Vec<Value> = (OLDEST_VERSION..=LATEST_VERSION)
        .map(|v| {
            json!({
                "label": release_label(v),
                "url": format!("/services/data/v{v}.0"),
                "version": format!("{v}.0"),
            })
        })
        .collect();
    ApiResponse::json(200, Value::Array(list))
}

/// `GET /services/data/vXX.X/`.
pub(crate) fn resources(req: &ApiRequest) -> ApiResponse {
    let v = req.version_str();
    let base = format!("/services/data/v{v}");
    ApiResponse::json(
        200,
        json!({
            "limits": format!("{base}/limits"),
            "sobjects": format!("{base}/sobjects"),
            "query": format!("{base}/query"),
            "queryAll": format!("{base}/queryAll"),
            "composite": format!("{base}/composite"),
            "jobs": format!("{base}/jobs"),
        }),
    )
}

/// `GET /limits`.
pub(crate) fn limits(call: &mut Call<'_>, req: &ApiRequest) -> ApiResponse {
    if req.method != axum::http::Method::GET {
        return ApiResponse::method_not_allowed(&req.method);
    }
    let u = call.world.usage;
    let jobs = call.world.jobs.counts();
    ApiResponse::json(
        200,
        json!({
            "DailyApiRequests": {"Max": u.max, "Remaining": u.max.saturating_sub(u.used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000u64.saturating_sub(jobs.batches)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000u64.saturating_sub(jobs.query_jobs)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976_562, "Remaining": 976_562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "SingleEmail": {"Max": 15, "Remaining": 15},
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_labels_follow_the_calendar() {
        assert_eq!(release_label(62), "Winter '25");
        assert_eq!(release_label(61), "Summer '24");
        assert_eq!(release_label(60), "Spring '24");
        assert_eq!(release_label(63), "Spring '25");
        assert_eq!(release_label(64), "Summer '25");
        assert_eq!(release_label(59), "Winter '24");
    }
}
