//! The reconciliation as people read it: one self-contained HTML page (inline CSS, an inline
//! SVG bar chart of booked vs recognized per account, no scripts, no external assets) and a CSV
//! of the per-account rows. Every text that comes from the systems is escaped.

use std::fmt::Write as _;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::revenue_reconciliation::{AccountRow, Reconciliation};

/// The colour of the booked bars (and their legend).
pub const BOOKED_COLOUR: &str = "#1f77b4";
/// The colour of the recognized bars (and their legend).
pub const RECOGNIZED_COLOUR: &str = "#ff7f0e";

const CSV_HEADER: [&str; 12] = [
    "period",
    "account_id",
    "account_name",
    "intacct_customers",
    "currency",
    "booked",
    "recognized",
    "variance",
    "reporting_currency",
    "booked_reporting",
    "recognized_reporting",
    "deals",
];

/// Where the report of `period` goes, relative to a bucket prefix or a data folder:
/// `revenue-reconciliation/2026-10/report.html` and `revenue-reconciliation/2026-10/accounts.csv`.
pub fn report_names(period: lf_domain::port::Month) -> (String, String) {
    let folder = format!("revenue-reconciliation/{period}");
    (
        format!("{folder}/report.html"),
        format!("{folder}/accounts.csv"),
    )
}

impl Reconciliation {
    /// What a run did, in a few numbers, with where its report went (`html`, `csv`): the
    /// function's answer and the local on-demand run's.
    pub fn summary(&self, html: &str, csv: &str) -> serde_json::Value {
        serde_json::json!({
            "period": self.period.to_string(),
            "reporting_currency": self.reporting_currency.as_str(),
            "accounts": self.rows.len(),
            "booked": self.totals.booked.to_string(),
            "recognized": self.totals.recognized.to_string(),
            "variance": self.totals.variance.to_string(),
            "unmatched_revenue": self.unmatched_revenue.len(),
            "unmatched_bookings": self.unmatched_bookings.len(),
            "written": {
                "reconciliations": self.writes.reconciliations,
                "opportunities": self.writes.opportunities,
            },
            "failures": self.failures,
            "report": {"html": html, "csv": csv},
        })
    }

    /// The per-account rows as CSV (RFC 4180, a header line first).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut rows: Vec<Vec<String>> = vec![CSV_HEADER.iter().map(|h| (*h).to_owned()).collect()];
        for r in &self.rows {
            rows.push(vec![
                self.period.to_string(),
                r.account.as_str().to_owned(),
                r.account_name.clone(),
                r.customers.join(" "),
                r.currency.as_str().to_owned(),
                plain(r.booked),
                plain(r.recognized),
                plain(r.variance),
                self.reporting_currency.as_str().to_owned(),
                plain(r.booked_reporting),
                plain(r.recognized_reporting),
                r.deals.to_string(),
            ]);
        }
        for row in rows {
            // Writing to memory fails only on a broken invariant of the csv crate; a row
            // lost that way would show as a missing line, never as a panic in a Lambda.
            if let Err(error) = w.write_record(&row) {
                tracing::warn!(%error, "a reconciliation CSV row was not written");
            }
        }
        w.into_inner()
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// The report as one HTML page.
    pub fn to_html(&self) -> String {
        let period = self.period.to_string();
        let rc = self.reporting_currency.as_str();
        let t = &self.totals;
        let mut h = String::with_capacity(16 * 1024);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>Revenue reconciliation {p}</title>\n<style>{css}</style>\n</head>\n<body>\n\
             <h1>Revenue reconciliation <span class=\"period\">{p}</span></h1>\n\
             <p class=\"lead\">Closed Won bookings in Salesforce against revenue recognized in \
             Intacct, per account. Totals in {rc}.</p>\n",
            p = esc(&period),
            css = CSS,
            rc = esc(rc),
        );
        let _ = write!(
            h,
            "<section class=\"totals\">\n\
             <div><span>Booked</span><strong id=\"total-booked\">{b}</strong></div>\n\
             <div><span>Recognized</span><strong id=\"total-recognized\">{r}</strong></div>\n\
             <div><span>Variance</span><strong id=\"total-variance\">{v}</strong></div>\n\
             <div><span>Unmatched revenue</span><strong>{ur}</strong></div>\n\
             <div><span>Unmatched bookings</span><strong>{ub}</strong></div>\n\
             </section>\n",
            b = esc(&money(t.booked, rc)),
            r = esc(&money(t.recognized, rc)),
            v = esc(&money(t.variance, rc)),
            ur = esc(&money(t.unmatched_revenue, rc)),
            ub = esc(&money(t.unmatched_bookings, rc)),
        );
        h.push_str("<h2>Booked vs recognized per account</h2>\n");
        h.push_str(&chart(&self.rows, rc));
        self.account_table(&mut h);
        self.deal_table(&mut h);
        self.unmatched(&mut h);
        self.rates_table(&mut h);
        h.push_str("</body>\n</html>\n");
        h
    }

    fn account_table(&self, h: &mut String) {
        let rc = esc(self.reporting_currency.as_str());
        let _ = write!(
            h,
            "<h2>Accounts</h2>\n<table id=\"accounts\">\n<thead><tr><th>Account</th>\
             <th>Intacct customers</th><th>Currency</th><th class=\"n\">Booked</th>\
             <th class=\"n\">Recognized</th><th class=\"n\">Variance</th>\
             <th class=\"n\">Booked ({rc})</th><th class=\"n\">Recognized ({rc})</th>\
             <th class=\"n\">Deals</th></tr></thead>\n<tbody>\n"
        );
        for r in &self.rows {
            let _ = writeln!(
                h,
                "<tr class=\"account\" data-account=\"{id}\"><td>{name}<br><small>{id}</small></td>\
                 <td>{cust}</td><td>{cur}</td><td class=\"n\">{b}</td><td class=\"n\">{rec}</td>\
                 <td class=\"n {vc}\">{v}</td><td class=\"n\">{br}</td><td class=\"n\">{rr}</td>\
                 <td class=\"n\">{d}</td></tr>",
                id = esc(r.account.as_str()),
                name = esc(&r.account_name),
                cust = esc(&r.customers.join(", ")),
                cur = esc(r.currency.as_str()),
                b = amount(r.booked),
                rec = amount(r.recognized),
                v = amount(r.variance),
                vc = if r.variance.is_sign_negative() && !r.variance.is_zero() {
                    "neg"
                } else {
                    "pos"
                },
                br = amount(r.booked_reporting),
                rr = amount(r.recognized_reporting),
                d = r.deals,
            );
        }
        let t = &self.totals;
        let _ = write!(
            h,
            "</tbody>\n<tfoot><tr><th colspan=\"6\">Total ({rc})</th><th class=\"n\">{b}</th>\
             <th class=\"n\">{r}</th><th></th></tr></tfoot>\n</table>\n",
            b = amount(t.booked),
            r = amount(t.recognized),
        );
    }

    fn deal_table(&self, h: &mut String) {
        h.push_str("<h2>Deals closed in the period</h2>\n");
        if self.opportunities.is_empty() {
            h.push_str("<p class=\"none\">None.</p>\n");
            return;
        }
        h.push_str(
            "<table id=\"deals\">\n<thead><tr><th>Opportunity</th><th>Currency</th>\
             <th class=\"n\">Booked</th><th class=\"n\">Recognized (its documents)</th>\
             <th class=\"n\">Variance</th></tr></thead>\n<tbody>\n",
        );
        for o in &self.opportunities {
            let _ = writeln!(
                h,
                "<tr class=\"deal\"><td>{n}<br><small>{id}</small></td><td>{c}</td>\
                 <td class=\"n\">{b}</td><td class=\"n\">{r}</td><td class=\"n\">{v}</td></tr>",
                n = esc(&o.name),
                id = esc(o.opportunity.as_str()),
                c = esc(o.currency.as_str()),
                b = amount(o.booked),
                r = amount(o.recognized),
                v = amount(o.variance),
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }

    fn unmatched(&self, h: &mut String) {
        h.push_str("<h2>Unmatched revenue</h2>\n");
        if self.unmatched_revenue.is_empty() {
            h.push_str("<p class=\"none\">None: all recognized revenue found its account.</p>\n");
        } else {
            h.push_str(
                "<table id=\"unmatched-revenue\">\n<thead><tr><th>Entity</th><th>Customer</th>\
                 <th>Document</th><th>Opportunity</th><th>Currency</th><th class=\"n\">Amount</th>\
                 </tr></thead>\n<tbody>\n",
            );
            for r in &self.unmatched_revenue {
                let _ = writeln!(
                    h,
                    "<tr><td>{e}</td><td>{c}</td><td>{d}</td><td>{o}</td><td>{cur}</td>\
                     <td class=\"n\">{a}</td></tr>",
                    e = esc(r.entity.as_str()),
                    c = esc(&r.customer_id),
                    d = esc(r.document.as_deref().unwrap_or("")),
                    o = esc(r.opportunity.as_deref().unwrap_or("")),
                    cur = esc(r.amount.currency.as_str()),
                    a = amount(r.amount.amount),
                );
            }
            h.push_str("</tbody>\n</table>\n");
        }
        h.push_str("<h2>Unmatched bookings</h2>\n");
        if self.unmatched_bookings.is_empty() {
            h.push_str("<p class=\"none\">None: every deal has recognized revenue.</p>\n");
        } else {
            h.push_str(
                "<table id=\"unmatched-bookings\">\n<thead><tr><th>Opportunity</th><th>Account</th>\
                 <th>Close date</th><th>Currency</th><th class=\"n\">Amount</th></tr></thead>\n<tbody>\n",
            );
            for b in &self.unmatched_bookings {
                let _ = writeln!(
                    h,
                    "<tr><td>{n}<br><small>{id}</small></td><td>{a}</td><td>{d}</td><td>{c}</td>\
                     <td class=\"n\">{amt}</td></tr>",
                    n = esc(&b.name),
                    id = esc(b.opportunity.as_str()),
                    a = esc(&b.account_name),
                    d = b.close_date,
                    c = esc(b.amount.currency.as_str()),
                    amt = amount(b.amount.amount),
                );
            }
            h.push_str("</tbody>\n</table>\n");
        }
    }

    fn rates_table(&self, h: &mut String) {
        h.push_str("<h2>Exchange rates used</h2>\n");
        if self.rates.is_empty() {
            h.push_str("<p class=\"none\">None: every amount is in the reporting currency.</p>\n");
            return;
        }
        h.push_str(
            "<table id=\"rates\">\n<thead><tr><th>Source</th><th>From</th><th>To</th>\
             <th>For date</th><th class=\"n\">Rate</th></tr></thead>\n<tbody>\n",
        );
        for r in &self.rates {
            let _ = writeln!(
                h,
                "<tr><td>{s}</td><td>{f}</td><td>{t}</td><td>{d}</td><td class=\"n\">{r}</td></tr>",
                s = esc(&r.source),
                f = esc(r.from.as_str()),
                t = esc(r.to.as_str()),
                d = r.date,
                r = r.rate.round_dp(6).normalize(),
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
}

const CSS: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;\
margin:24px 32px;color:#1d2430;background:#fff}h1{font-size:24px;margin:0 0 4px}\
h1 .period{color:#52607a}h2{font-size:17px;margin:28px 0 8px}.lead{color:#52607a;margin:0 0 16px}\
.totals{display:flex;gap:12px;flex-wrap:wrap}.totals div{border:1px solid #d6dbe4;\
border-radius:6px;padding:8px 14px;min-width:150px}.totals span{display:block;font-size:12px;\
color:#52607a}.totals strong{font-size:18px}table{border-collapse:collapse;width:100%;\
font-size:13px}th,td{border-bottom:1px solid #e3e7ee;padding:5px 8px;text-align:left;\
vertical-align:top}thead th{background:#f3f5f9}.n{text-align:right;\
font-variant-numeric:tabular-nums}td.neg{color:#b42318}small{color:#7a869a}\
.none{color:#52607a}svg{display:block;max-width:100%}";

/// The SVG bar chart: two bars per account (booked, recognized) in the reporting currency.
fn chart(rows: &[AccountRow], currency: &str) -> String {
    const W: usize = 1100;
    const H: usize = 300;
    const LEFT: usize = 90;
    const TOP: usize = 30;
    const PLOT_H: usize = 200;
    let max = rows
        .iter()
        .flat_map(|r| [r.booked_reporting, r.recognized_reporting])
        .fold(Decimal::ZERO, Decimal::max);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Booked vs recognized per account, {c}\">\n\
         <rect x=\"{LEFT}\" y=\"6\" width=\"14\" height=\"14\" fill=\"{BOOKED_COLOUR}\"/>\
         <text x=\"{lx1}\" y=\"18\" font-size=\"13\">Booked ({c})</text>\
         <rect x=\"{lx2}\" y=\"6\" width=\"14\" height=\"14\" fill=\"{RECOGNIZED_COLOUR}\"/>\
         <text x=\"{lx3}\" y=\"18\" font-size=\"13\">Recognized ({c})</text>\n",
        c = esc(currency),
        lx1 = LEFT + 20,
        lx2 = LEFT + 160,
        lx3 = LEFT + 180,
    );
    let base = TOP + PLOT_H;
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{W}\" y2=\"{base}\" stroke=\"#8792a2\"/>\n\
         <text x=\"{x}\" y=\"{y}\" font-size=\"11\" text-anchor=\"end\">{m}</text>\n\
         <text x=\"{x}\" y=\"{base}\" font-size=\"11\" text-anchor=\"end\">0</text>\n",
        x = LEFT - 6,
        y = TOP + 4,
        m = esc(&amount(max)),
    );
    if rows.is_empty() || max <= Decimal::ZERO {
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{y}\" font-size=\"13\">Nothing booked or recognized.</text>",
            x = LEFT + 10,
            y = TOP + PLOT_H / 2,
        );
        s.push_str("</svg>\n");
        return s;
    }
    let slot = (W - LEFT - 10) / rows.len();
    let bar = (slot.saturating_sub(12) / 2).clamp(4, 60);
    let height = |v: Decimal| -> usize {
        if v <= Decimal::ZERO {
            return 0;
        }
        let h = (v * Decimal::from(PLOT_H) / max)
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        usize::try_from(h.mantissa()).unwrap_or(0).min(PLOT_H)
    };
    for (i, r) in rows.iter().enumerate() {
        let x = LEFT + i * slot + (slot - 2 * bar) / 2;
        for (j, (v, colour, what)) in [
            (r.booked_reporting, BOOKED_COLOUR, "booked"),
            (r.recognized_reporting, RECOGNIZED_COLOUR, "recognized"),
        ]
        .into_iter()
        .enumerate()
        {
            let bh = height(v);
            let _ = writeln!(
                s,
                "<rect class=\"{what}\" x=\"{bx}\" y=\"{by}\" width=\"{bar}\" height=\"{bh}\" \
                 fill=\"{colour}\"><title>{name}: {what} {val}</title></rect>",
                bx = x + j * bar,
                by = base - bh,
                name = esc(&r.account_name),
                val = esc(&money(v, currency)),
            );
        }
        let label: String = r.account_name.chars().take(22).collect();
        let _ = writeln!(
            s,
            "<text x=\"{lx}\" y=\"{ly}\" font-size=\"11\" text-anchor=\"middle\">{l}</text>",
            lx = x + bar,
            ly = base + 16,
            l = esc(&label),
        );
    }
    s.push_str("</svg>\n");
    s
}

/// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted attributes (the
/// operator console escapes with it too).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Two decimals, no grouping (CSV).
fn plain(d: Decimal) -> String {
    format!(
        "{:.2}",
        d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

/// Two decimals with thousands separators (`-12,345.60`).
fn amount(d: Decimal) -> String {
    let p = plain(d);
    let (sign, digits) = p.strip_prefix('-').map_or(("", p.as_str()), |r| ("-", r));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{frac}")
}

fn money(d: Decimal, currency: &str) -> String {
    format!("{} {currency}", amount(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_group_thousands_and_keep_cents() {
        assert_eq!(amount(Decimal::new(123456789, 2)), "1,234,567.89");
        assert_eq!(amount(Decimal::new(-10000, 2)), "-100.00");
        assert_eq!(amount(Decimal::new(5, 1)), "0.50");
        assert_eq!(amount(Decimal::new(100000, 0)), "100,000.00");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<b>\"O'Neil\" & Co</b>"),
            "&lt;b&gt;&quot;O&#39;Neil&quot; &amp; Co&lt;/b&gt;"
        );
    }
}
