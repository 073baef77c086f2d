//! The operator console: one server-rendered page over the same [`Overview`] as `status` — per
//! flow counts and last runs, parked records with their reasons and a replay button each, the
//! audit history of a record, drift found. No script: the replay buttons are plain HTML forms
//! posting to `/replay`, which answers with a redirect back to the page (so a reload does not
//! replay twice). Everything shown is HTML-escaped.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use lf_domain::{Flow, System};
use lf_flows::DriftReport;
use lf_flows::drift::Repair;
use lf_flows::overview::{Overview, RecordHistory, action_name};
use lf_flows::replay::ReplayFilter;
use lf_flows::report::esc;
use serde::Deserialize;

use super::{Store, replay_lines};
use crate::local::status::StatusSources;

/// The console's default port (`ledgerforce console` and `ledgerforce local --console-port`).
pub(crate) const DEFAULT_PORT: u16 = 8090;

/// What the console reads and acts on.
#[derive(Debug)]
pub(crate) struct ConsoleState {
    store: Store,
    /// In `ledgerforce local`: the running stack's status (its counters and API usage).
    local: Option<Arc<StatusSources>>,
    /// The lines of the last replay, shown once on the page it redirects to.
    last_replay: Mutex<Option<Vec<String>>>,
}

impl ConsoleState {
    pub(crate) fn new(store: Store, local: Option<Arc<StatusSources>>) -> Arc<ConsoleState> {
        Arc::new(ConsoleState {
            store,
            local,
            last_replay: Mutex::new(None),
        })
    }

    async fn overview(&self) -> Overview {
        match &self.local {
            Some(status) => status.overview().await,
            None => self.store.overview().await,
        }
    }
}

/// The console's routes: `GET /` (the page; `?record=ID` adds that record's history) and
/// `POST /replay`.
pub(crate) fn router(state: Arc<ConsoleState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/replay", post(replay))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    #[serde(default)]
    record: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReplayForm {
    #[serde(default)]
    flow: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    all: Option<String>,
}

async fn page(State(state): State<Arc<ConsoleState>>, Query(q): Query<PageQuery>) -> Response {
    let overview = state.overview().await;
    let record = q.record.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let history = match record {
        Some(id) => Some(state.store.history(id).await.map_err(|e| e.to_string())),
        None => None,
    };
    let notice = state
        .last_replay
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let drift = match &state.store.data_dir {
        Some(dir) => Drift::Embedded(crate::ops::drift::latest(dir)),
        None => Drift::Elsewhere,
    };
    let html = render(
        &overview,
        record,
        history.as_ref(),
        notice.as_deref(),
        &drift,
        Utc::now(),
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

async fn replay(State(state): State<Arc<ConsoleState>>, Form(form): Form<ReplayForm>) -> Response {
    let nonempty = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let flow = match nonempty(form.flow) {
        Some(name) => match Flow::parse(&name) {
            Some(flow) => Some(flow),
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    Html(format!("<p>No flow is called {}.</p>", esc(&name))),
                )
                    .into_response();
            }
        },
        None => None,
    };
    let id = nonempty(form.id);
    let all = nonempty(form.all).is_some();
    if !all && flow.is_none() && id.is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Html("<p>Say what to replay: a flow, a record id, or all.</p>".to_owned()),
        )
            .into_response();
    }
    let filter = if all {
        ReplayFilter::all()
    } else {
        ReplayFilter {
            flow,
            record_id: id,
        }
    };
    let lines = match state.store.replay(&filter).await {
        Ok(report) => {
            let mut lines = replay_lines(&report);
            lines.push(format!(
                "replayed {} of {} ({} left where they were)",
                report.requeued(),
                report.items.len(),
                report.left()
            ));
            lines
        }
        Err(e) => vec![format!("replay failed: {e}")],
    };
    *state
        .last_replay
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(lines);
    Redirect::to("/").into_response()
}

/// Where the drift findings shown are kept.
#[derive(Debug)]
enum Drift {
    /// The data folder's last drift check (`ledgerforce drift`, the demo), if any.
    Embedded(Option<(SystemTime, DriftReport)>),
    /// A deployment: its drift-check function writes its reports to S3, not read here.
    Elsewhere,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "?".to_owned(), |n| n.to_string())
}

/// A count this page does not hold (see the notes under the table), as a dash, not a zero.
fn shown(n: Option<u64>) -> String {
    n.map_or_else(|| "—".to_owned(), |n| n.to_string())
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
table{border-collapse:collapse;margin:.5rem 0 1.5rem}\
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.n{text-align:right}.notice{background:#eef7ee;border:1px solid #8c8;\
padding:.5rem}.error{color:#a00}form.inline{display:inline}";

/// The whole page.
fn render(
    o: &Overview,
    record: Option<&str>,
    history: Option<&Result<RecordHistory, String>>,
    notice: Option<&[String]>,
    drift: &Drift,
    now: DateTime<Utc>,
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>ledgerforce console</title><style>{STYLE}</style></head><body>\
         <h1>ledgerforce console</h1><p>State at {}.</p>",
        esc(&time(now))
    );
    if let Some(lines) = notice {
        s.push_str("<div class=\"notice\" id=\"replay-result\"><strong>Replay</strong><ul>");
        for line in lines {
            let _ = write!(s, "<li>{}</li>", esc(line));
        }
        s.push_str("</ul></div>");
    }
    for e in &o.errors {
        let _ = write!(s, "<p class=\"error\">{}</p>", esc(e));
    }
    flows_section(&mut s, o);
    if !o.notes.is_empty() {
        s.push_str("<ul id=\"not-shown\">");
        for n in &o.notes {
            let _ = write!(s, "<li>{}</li>", esc(n));
        }
        s.push_str("</ul>");
    }
    parked_section(&mut s, o);
    audit_section(&mut s, record, history);
    drift_section(&mut s, drift);
    watermarks_section(&mut s, o);
    s.push_str("</body></html>\n");
    s
}

/// The last drift check over this data folder (`ledgerforce drift`): its counts, and each
/// drifted pair's fields with their owner.
fn drift_section(s: &mut String, drift: &Drift) {
    s.push_str("<h2 id=\"drift\">Drift</h2>");
    let drift = match drift {
        Drift::Embedded(drift) => drift.as_ref(),
        Drift::Elsewhere => {
            s.push_str(
                "<p id=\"drift-elsewhere\">The deployment's drift-check function writes its \
                 findings to the report bucket in S3; they are not read here (run \
                 <code>ledgerforce drift</code> to check now).</p>",
            );
            return;
        }
    };
    let Some((at, report)) = drift else {
        s.push_str(
            "<p id=\"drift-none\">No drift is recorded: no drift check has written its findings \
             to this store (run <code>ledgerforce drift</code>).</p>",
        );
        return;
    };
    let _ = write!(
        s,
        "<p id=\"drift-summary\">Last check {}: {} linked pairs checked, {} agree, {} drifted \
         ({} repaired), {} dangling, {} not checked.</p>",
        esc(&time(DateTime::<Utc>::from(*at))),
        report.checked,
        report.agreeing,
        report.drifted.len(),
        report.repaired(),
        report.dangling.len(),
        report.unchecked.len()
    );
    if report.drifted.is_empty() {
        return;
    }
    s.push_str(
        "<table id=\"drifted\"><tr><th>pair</th><th>field</th><th>value</th><th>owner's value</th>\
         <th>owner</th><th>repair</th></tr>",
    );
    for d in &report.drifted {
        let repair = match &d.repair {
            Repair::NotAsked => "not asked".to_owned(),
            Repair::Repaired => "repaired".to_owned(),
            Repair::Failed(reason) => format!("failed: {reason}"),
        };
        for f in &d.fields {
            let _ = write!(
                s,
                "<tr><td>{} ⇄ {}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td></tr>",
                esc(&d.salesforce.to_string()),
                esc(&d.intacct.to_string()),
                esc(&f.field),
                esc(&f.current.to_string()),
                esc(&f.owner_value.to_string()),
                esc(match f.owner {
                    System::Salesforce => "Salesforce",
                    System::Intacct => "Intacct",
                }),
                esc(&f.why),
                esc(&repair)
            );
        }
    }
    s.push_str("</table>");
}

fn flows_section(s: &mut String, o: &Overview) {
    s.push_str(
        "<h2>Flows</h2><table id=\"flows\"><tr><th>flow</th><th>queued</th><th>in flight</th>\
         <th>dead letters</th><th>parked</th><th>processed</th><th>done</th><th>echoes</th>\
         <th>retried</th><th>last run</th><th>audit log</th></tr>",
    );
    for f in &o.flows {
        let audit: Vec<String> = f.audit.iter().map(|(a, n)| format!("{a} {n}")).collect();
        let last = f
            .counts
            .and_then(|c| c.last_batch)
            .map_or_else(|| "—".to_owned(), time);
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}",
            esc(f.flow.as_str()),
            count(f.queued),
            count(f.in_flight),
            count(f.dead_letters),
        );
        if f.dead_letters.unwrap_or(0) > 0 {
            let _ = write!(
                s,
                " <form class=\"inline\" method=\"post\" action=\"/replay\">\
                 <input type=\"hidden\" name=\"flow\" value=\"{}\">\
                 <button type=\"submit\">replay</button></form>",
                esc(f.flow.as_str())
            );
        }
        let _ = write!(
            s,
            "</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            f.parked,
            shown(f.counts.map(|c| c.processed)),
            shown(f.counts.map(|c| c.done)),
            shown(f.counts.map(|c| c.echoes)),
            shown(f.counts.map(|c| c.retried)),
            esc(&last),
            esc(&audit.join(", ")),
        );
    }
    s.push_str("</table>");
    if !o.usage.is_empty() {
        s.push_str("<h3>API usage</h3><table id=\"usage\"><tr><th>side</th><th>counter</th><th>value</th></tr>");
        for u in &o.usage {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&u.side),
                esc(&u.name),
                u.value
            );
        }
        s.push_str("</table>");
    }
}

fn parked_section(s: &mut String, o: &Overview) {
    let _ = write!(s, "<h2>Parked records ({})</h2>", o.parked_total());
    if o.parked.is_empty() {
        s.push_str("<p id=\"parked-none\">Nothing is parked.</p>");
        return;
    }
    s.push_str(
        "<form method=\"post\" action=\"/replay\"><input type=\"hidden\" name=\"all\" \
         value=\"1\"><button type=\"submit\" id=\"replay-all\">Replay all</button></form>\
         <table id=\"parked\"><tr><th>flow</th><th>record</th><th>reason</th><th>attempts</th>\
         <th>last parked</th><th></th></tr>",
    );
    for p in &o.parked {
        let record = p.record.to_string();
        let _ = write!(
            s,
            "<tr><td>{flow}</td><td><a href=\"/?record={link}\">{record}</a></td>\
             <td class=\"reason\">{reason}</td><td class=\"n\">{attempts}</td><td>{last}</td>\
             <td><form method=\"post\" action=\"/replay\">\
             <input type=\"hidden\" name=\"flow\" value=\"{flow}\">\
             <input type=\"hidden\" name=\"id\" value=\"{record}\">\
             <button type=\"submit\">Replay</button></form></td></tr>",
            flow = esc(p.flow.as_str()),
            link = esc(&query_value(&record)),
            record = esc(&record),
            reason = esc(&p.reason),
            attempts = p.attempts,
            last = esc(&time(p.last_seen)),
        );
    }
    s.push_str("</table>");
}

/// `text` as a URL query value (RFC 3986 unreserved characters kept, the rest %-encoded).
fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn audit_section(
    s: &mut String,
    record: Option<&str>,
    history: Option<&Result<RecordHistory, String>>,
) {
    let _ = write!(
        s,
        "<h2>Audit history</h2><form method=\"get\" action=\"/\"><label>Record \
         <input type=\"search\" name=\"record\" value=\"{}\" placeholder=\"001…, C-1001, \
         salesforce/Account/001…\"></label> <button type=\"submit\">Show history</button></form>",
        esc(record.unwrap_or_default())
    );
    let Some(history) = history else {
        return;
    };
    let h = match history {
        Ok(h) => h,
        Err(e) => {
            let _ = write!(s, "<p class=\"error\">{}</p>", esc(e));
            return;
        }
    };
    for l in &h.links {
        let _ = write!(
            s,
            "<p class=\"link\">Linked ({}): Salesforce {} ⇄ Intacct {} since {}</p>",
            esc(l.kind.as_str()),
            esc(l.salesforce.as_str()),
            esc(&l.intacct.to_string()),
            esc(&time(l.linked_at))
        );
    }
    if h.entries.is_empty() {
        let _ = write!(
            s,
            "<p id=\"history-none\">No audit entries for {}.</p>",
            esc(&h.query)
        );
        return;
    }
    s.push_str(
        "<table id=\"history\"><tr><th>time</th><th>flow</th><th>action</th><th>record</th>\
         <th>counterpart</th><th>detail</th></tr>",
    );
    for e in &h.entries {
        let counterpart = e
            .counterpart
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&time(e.at)),
            esc(e.flow.as_str()),
            esc(&action_name(e.action)),
            esc(&e.record.to_string()),
            esc(&counterpart),
            esc(&e.detail)
        );
    }
    s.push_str("</table>");
}

fn watermarks_section(s: &mut String, o: &Overview) {
    s.push_str(
        "<h2>Watermarks</h2><table id=\"watermarks\"><tr><th>stream</th><th>read up to</th></tr>",
    );
    for w in &o.watermarks {
        let at = w
            .modified_at
            .map_or_else(|| "not read yet".to_owned(), time);
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&w.stream),
            esc(&at)
        );
    }
    s.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use lf_domain::{RecordRef, System};
    use lf_flows::overview::{FlowOverview, ParkedEntry};

    use super::*;

    #[test]
    fn what_the_page_shows_is_escaped() {
        let at = Utc::now();
        let overview = Overview {
            flows: Vec::new(),
            parked: vec![ParkedEntry {
                flow: Flow::AccountSync,
                record: RecordRef {
                    system: System::Intacct,
                    object: "CUSTOMER".into(),
                    id: "C-<1>&\"x\"".into(),
                },
                reason: "<script>alert(1)</script> refused".into(),
                error_class: "parked".into(),
                first_seen: at,
                last_seen: at,
                attempts: 2,
            }],
            watermarks: Vec::new(),
            usage: Vec::new(),
            notes: vec!["<u>kept elsewhere</u>".into()],
            errors: vec!["<b>oops</b>".into()],
        };
        let html = render(
            &overview,
            Some("\"><img>"),
            None,
            Some(&["<i>".into()]),
            &Drift::Embedded(None),
            at,
        );
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; refused"));
        assert!(html.contains("C-&lt;1&gt;&amp;&quot;x&quot;"));
        assert!(html.contains("/?record=intacct%2FCUSTOMER%2FC-%3C1%3E%26%22x%22"));
        assert!(!html.contains("<b>oops") && !html.contains("\"><img>") && !html.contains("<i>"));
        assert!(html.contains("&lt;u&gt;kept elsewhere&lt;/u&gt;"), "{html}");
        assert!(html.contains("id=\"drift-none\""));
    }

    #[test]
    fn counts_this_page_does_not_hold_are_dashes_not_zeros() {
        let flow = |flow, counts| FlowOverview {
            flow,
            queued: Some(0),
            in_flight: Some(0),
            dead_letters: Some(0),
            parked: 0,
            counts,
            audit: std::collections::BTreeMap::new(),
        };
        let overview = Overview {
            flows: vec![
                flow(Flow::AccountSync, None),
                flow(
                    Flow::OpportunityWon,
                    Some(lf_flows::FlowCounts {
                        processed: 7,
                        done: 6,
                        echoes: 2,
                        retried: 1,
                        parked: 0,
                        last_batch: None,
                    }),
                ),
            ],
            parked: Vec::new(),
            watermarks: Vec::new(),
            usage: Vec::new(),
            notes: vec!["counted elsewhere".into()],
            errors: Vec::new(),
        };
        let html = render(&overview, None, None, None, &Drift::Elsewhere, Utc::now());
        let row = |name: &str| {
            let at = html.find(&format!("<tr><td>{name}</td>")).unwrap();
            html[at..at + html[at..].find("</tr>").unwrap()].to_owned()
        };
        let unknown = row("account-sync");
        assert_eq!(
            unknown.matches("<td class=\"n\">—</td>").count(),
            4,
            "{unknown}"
        );
        let counted = row("opportunity-won");
        assert!(
            counted.contains("<td class=\"n\">7</td><td class=\"n\">6</td><td class=\"n\">2</td><td class=\"n\">1</td>"),
            "{counted}"
        );
        assert!(html.contains("<li>counted elsewhere</li>"), "{html}");
        assert!(html.contains("id=\"drift-elsewhere\""), "{html}");
    }

    #[test]
    fn the_last_drift_check_shows_each_drifted_field_with_its_owner() {
        let report = DriftReport {
            checked: 3,
            agreeing: 2,
            drifted: vec![lf_flows::drift::DriftedPair {
                salesforce: RecordRef {
                    system: System::Salesforce,
                    object: "Account".into(),
                    id: "001000000000001AAA".into(),
                },
                intacct: RecordRef {
                    system: System::Intacct,
                    object: "CUSTOMER".into(),
                    id: "C-1".into(),
                },
                fields: vec![lf_flows::drift::DriftField {
                    target: System::Intacct,
                    field: "NAME".into(),
                    current: serde_json::json!("Acme <by hand>"),
                    owner_value: serde_json::json!("Acme"),
                    owner: System::Salesforce,
                    why: "ownership: Salesforce is its system of record".into(),
                }],
                repair: Repair::Repaired,
            }],
            dangling: Vec::new(),
            unchecked: Vec::new(),
        };
        let overview = Overview {
            flows: Vec::new(),
            parked: Vec::new(),
            watermarks: Vec::new(),
            usage: Vec::new(),
            notes: Vec::new(),
            errors: Vec::new(),
        };
        let html = render(
            &overview,
            None,
            None,
            None,
            &Drift::Embedded(Some((SystemTime::now(), report))),
            Utc::now(),
        );
        assert!(!html.contains("drift-none"), "{html}");
        assert!(
            html.contains("3 linked pairs checked, 2 agree, 1 drifted (1 repaired)"),
            "{html}"
        );
        assert!(
            html.contains("<td>NAME</td><td>&quot;Acme &lt;by hand&gt;&quot;</td>"),
            "{html}"
        );
        assert!(html.contains("Salesforce (ownership: Salesforce is its system of record)"));
        assert!(html.contains("<td>repaired</td>"));
    }
}
