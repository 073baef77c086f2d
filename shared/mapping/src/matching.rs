//! Matching (dedup) before anything is created: exact keys compared after normalization, tried
//! strongest first, then a fuzzy name score that only ever flags a pair for review. Pure
//! functions: the flows fetch candidates and call [`MatchPlan::decide`].

use serde_json::Value;

use crate::path::{Selected, SourcePath, TargetPath};
use crate::spec::Normalize;

/// Legal-form words dropped from company names before comparing.
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy",
    "ab",
    "as",
    "aps",
    "pty",
    "pte",
    "kk",
    "se",
];

/// A company name compared loosely: case, accents kept, punctuation dropped, `&` read as
/// `and`, a leading "the" and legal suffixes (Inc, Ltd, GmbH...) removed.
pub fn normalize_name(name: &str) -> String {
    let spaced: String = name
        .replace('&', " and ")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else if c == '.' || c == '\'' {
                '\u{0}'
            } else {
                ' '
            }
        })
        .filter(|c| *c != '\u{0}')
        .collect();
    let mut words: Vec<&str> = spaced.split_whitespace().collect();
    if words.first() == Some(&"the") && words.len() > 1 {
        words.remove(0);
    }
    while words.len() > 1 && words.last().is_some_and(|w| LEGAL_SUFFIXES.contains(w)) {
        words.pop();
    }
    words.join(" ")
}

/// The domain of an email address or website: `Jane@Sales.Acme.com` → `sales.acme.com`,
/// `https://www.acme.com/about` → `acme.com`.
pub fn email_domain(value: &str) -> Option<String> {
    let v = value.trim();
    let host = match v.rsplit_once('@') {
        Some((_, d)) => d,
        None => {
            let no_scheme = v.split_once("://").map_or(v, |(_, rest)| rest);
            let no_path = no_scheme.split(['/', '?', '#']).next().unwrap_or("");
            let no_port = no_path.split(':').next().unwrap_or("");
            no_port.rsplit_once('@').map_or(no_port, |(_, h)| h)
        }
    };
    let host = host.trim_end_matches('.').to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (host.contains('.') && !host.starts_with('.')).then_some(host)
}

/// Letters and digits only, upper-case: `GB 123 4567-89` → `GB123456789`.
pub fn alphanumeric_upper(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Normalizes one value; `None` when nothing comparable is left.
pub fn normalize(kind: Normalize, value: &str) -> Option<String> {
    let out = match kind {
        Normalize::Exact => value.trim().to_owned(),
        Normalize::Text => value.trim().to_lowercase(),
        Normalize::Domain => email_domain(value)?,
        Normalize::TaxId | Normalize::PostalCode => alphanumeric_upper(value),
        Normalize::Name => normalize_name(value),
    };
    (!out.is_empty()).then_some(out)
}

/// Jaro-Winkler similarity of two normalized company names, 0 to 1.
pub fn name_similarity(a: &str, b: &str) -> f64 {
    strsim::jaro_winkler(&normalize_name(a), &normalize_name(b))
}

/// One part of a compiled key.
#[derive(Debug, Clone)]
pub(crate) struct KeyPart {
    pub source: SourcePath,
    pub target: TargetPath,
    pub normalize: Normalize,
}

/// A compiled exact key.
#[derive(Debug, Clone)]
pub(crate) struct MatchKey {
    pub name: String,
    pub parts: Vec<KeyPart>,
}

/// A compiled fuzzy rule.
#[derive(Debug, Clone)]
pub(crate) struct Fuzzy {
    pub source: SourcePath,
    pub target: TargetPath,
    pub threshold: f64,
}

/// Compiled matching rules.
#[derive(Debug, Clone)]
pub struct MatchPlan {
    pub(crate) name: String,
    pub(crate) keys: Vec<MatchKey>,
    pub(crate) fuzzy: Option<Fuzzy>,
}

/// The outcome of matching one record against candidates.
#[derive(Debug, Clone, PartialEq)]
pub enum MatchDecision {
    /// Exactly one candidate has the same value for this key: link to it.
    Linked { candidate: usize, key: String },
    /// Several candidates share the key: a person must choose.
    Ambiguous { key: String, candidates: Vec<usize> },
    /// No exact key matched, but a name is this similar: flag for review, do not link.
    Review { candidate: usize, score: f64 },
    /// Nothing matched: safe to create.
    NoMatch,
}

fn text_at<'a>(v: &'a Value) -> Option<std::borrow::Cow<'a, str>> {
    match v {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// The value at a dotted path of a target record.
pub(crate) fn target_value<'a>(record: &'a Value, path: &TargetPath) -> Option<&'a Value> {
    path.segments.iter().try_fold(record, |v, s| v.get(&**s))
}

impl MatchPlan {
    /// The name of these rules in the spec.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn key_value(&self, key: &MatchKey, record: &Value, source_side: bool) -> Option<String> {
        let mut parts = Vec::with_capacity(key.parts.len());
        for p in &key.parts {
            let raw = if source_side {
                match p.source.select(record) {
                    Selected::One(v) => text_at(v)?,
                    _ => return None,
                }
            } else {
                text_at(target_value(record, &p.target)?)?
            };
            parts.push(normalize(p.normalize, &raw)?);
        }
        Some(parts.join("|"))
    }

    /// The keys of a source record that has them all: key name → normalized value (parts
    /// joined with `|`), strongest first.
    pub fn source_keys(&self, record: &Value) -> Vec<(String, String)> {
        self.keys
            .iter()
            .filter_map(|k| Some((k.name.clone(), self.key_value(k, record, true)?)))
            .collect()
    }

    /// The same keys computed from a target record.
    pub fn target_keys(&self, record: &Value) -> Vec<(String, String)> {
        self.keys
            .iter()
            .filter_map(|k| Some((k.name.clone(), self.key_value(k, record, false)?)))
            .collect()
    }

    /// Matches `record` (source side) against `candidates` (target records): exact keys in
    /// order, then the fuzzy name score.
    pub fn decide(&self, record: &Value, candidates: &[Value]) -> MatchDecision {
        for key in &self.keys {
            let Some(value) = self.key_value(key, record, true) else {
                continue;
            };
            let hits: Vec<usize> = candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| self.key_value(key, c, false).as_deref() == Some(value.as_str()))
                .map(|(i, _)| i)
                .collect();
            match hits.as_slice() {
                [] => {}
                [one] => {
                    return MatchDecision::Linked {
                        candidate: *one,
                        key: key.name.clone(),
                    };
                }
                many => {
                    return MatchDecision::Ambiguous {
                        key: key.name.clone(),
                        candidates: many.to_vec(),
                    };
                }
            }
        }
        let Some(fuzzy) = &self.fuzzy else {
            return MatchDecision::NoMatch;
        };
        let Selected::One(source) = fuzzy.source.select(record) else {
            return MatchDecision::NoMatch;
        };
        let Some(name) = text_at(source) else {
            return MatchDecision::NoMatch;
        };
        candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let other = text_at(target_value(c, &fuzzy.target)?)?;
                Some((i, name_similarity(&name, &other)))
            })
            .filter(|(_, score)| *score >= fuzzy.threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(MatchDecision::NoMatch, |(candidate, score)| {
                MatchDecision::Review { candidate, score }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_lose_case_punctuation_and_legal_suffixes() {
        assert_eq!(normalize_name("The ACME Corp., Inc."), "acme");
        assert_eq!(normalize_name("Smith & Sons Ltd"), "smith and sons");
        assert_eq!(normalize_name("O'Brien GmbH"), "obrien");
        // A name that is only a legal word keeps it.
        assert_eq!(normalize_name("Company"), "company");
    }

    #[test]
    fn domains_from_emails_and_websites() {
        assert_eq!(
            email_domain("Jane.Doe@Acme.COM").as_deref(),
            Some("acme.com")
        );
        assert_eq!(
            email_domain("https://www.acme.com/about?x=1").as_deref(),
            Some("acme.com")
        );
        assert_eq!(
            email_domain("acme.co.uk:8080").as_deref(),
            Some("acme.co.uk")
        );
        assert_eq!(email_domain("not a domain"), None);
    }

    #[test]
    fn ids_and_postal_codes() {
        assert_eq!(
            normalize(Normalize::TaxId, "gb 123-4567 89").as_deref(),
            Some("GB123456789")
        );
        assert_eq!(
            normalize(Normalize::PostalCode, " sw1a 1aa").as_deref(),
            Some("SW1A1AA")
        );
        assert_eq!(normalize(Normalize::Exact, "  "), None);
    }

    #[test]
    fn similarity_is_high_for_the_same_company_written_differently() {
        assert!(name_similarity("Acme Corporation", "ACME Corp.") > 0.99);
        assert!(name_similarity("Acme Industries", "Acme Industrial") > 0.9);
        assert!(name_similarity("Acme", "Globex") < 0.6);
    }

    fn plan() -> MatchPlan {
        let direct =
            |s: &str| SourcePath::Direct(s.split('.').map(Box::from).collect::<Vec<_>>().into());
        let target = |s: &str| TargetPath::parse(s).unwrap();
        MatchPlan {
            name: "customer".into(),
            keys: vec![
                MatchKey {
                    name: "external_id".into(),
                    parts: vec![KeyPart {
                        source: direct("Id"),
                        target: target("SFDC_ACCOUNT_ID"),
                        normalize: Normalize::Exact,
                    }],
                },
                MatchKey {
                    name: "name_postal".into(),
                    parts: vec![
                        KeyPart {
                            source: direct("Name"),
                            target: target("NAME"),
                            normalize: Normalize::Name,
                        },
                        KeyPart {
                            source: direct("BillingPostalCode"),
                            target: target("DISPLAYCONTACT.MAILADDRESS.ZIP"),
                            normalize: Normalize::PostalCode,
                        },
                    ],
                },
            ],
            fuzzy: Some(Fuzzy {
                source: direct("Name"),
                target: target("NAME"),
                threshold: 0.9,
            }),
        }
    }

    #[test]
    fn keys_are_tried_in_order_and_fuzzy_only_flags() {
        let p = plan();
        let account = json!({"Id": "001A", "Name": "Acme Inc.", "BillingPostalCode": "94105"});
        let by_id = json!({"SFDC_ACCOUNT_ID": "001A", "NAME": "Other"});
        let by_name = json!({"NAME": "ACME", "DISPLAYCONTACT": {"MAILADDRESS": {"ZIP": "94 105"}}});
        let similar = json!({"NAME": "Acmee Ltd"});
        assert_eq!(
            p.decide(&account, &[by_name.clone(), by_id.clone()]),
            MatchDecision::Linked {
                candidate: 1,
                key: "external_id".into()
            }
        );
        assert_eq!(
            p.decide(&account, std::slice::from_ref(&by_name)),
            MatchDecision::Linked {
                candidate: 0,
                key: "name_postal".into()
            }
        );
        assert_eq!(
            p.decide(&account, &[by_name.clone(), by_name.clone()]),
            MatchDecision::Ambiguous {
                key: "name_postal".into(),
                candidates: vec![0, 1]
            }
        );
        assert!(matches!(
            p.decide(&account, &[similar]),
            MatchDecision::Review { candidate: 0, .. }
        ));
        assert_eq!(
            p.decide(&account, &[json!({"NAME": "Globex"})]),
            MatchDecision::NoMatch
        );
        assert_eq!(
            p.source_keys(&account),
            vec![
                ("external_id".to_owned(), "001A".to_owned()),
                ("name_postal".to_owned(), "acme|94105".to_owned())
            ]
        );
        assert_eq!(
            p.target_keys(&by_name),
            vec![("name_postal".to_owned(), "acme|94105".to_owned())]
        );
    }
}
