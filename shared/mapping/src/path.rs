//! Source paths (JSONPath, RFC 9535, parsed by `serde_json_path`) and target paths (dotted
//! element names). A source path of the plain form `$.a.b` compiles to direct map lookups: most
//! fields of a real mapping are like that, and it is what keeps mapping off the profile.

use std::sync::Arc;

use serde_json::Value;
use serde_json_path::{JsonPath, PathElement};

use crate::schema::{Catalog, FieldType, ObjectDef};

/// A compiled JSONPath into a record.
#[derive(Debug, Clone)]
pub(crate) enum SourcePath {
    /// `$.a.b.c`: walk the keys.
    Direct(Arc<[Box<str>]>),
    /// Anything else: evaluate the query.
    Query(Arc<JsonPath>),
}

/// What a path selected in one record.
#[derive(Debug)]
pub(crate) enum Selected<'a> {
    None,
    One(&'a Value),
    Many(Vec<&'a Value>),
}

/// What a path selects, learned at compile time from the declared objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathType {
    pub ty: FieldType,
    /// The path can select several values (wildcards, filters, slices, descendants).
    pub many: bool,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl SourcePath {
    /// Parses `text` and checks it against `object`. Returns what it selects.
    pub(crate) fn compile(
        text: &str,
        object: &ObjectDef,
        catalog: &Catalog,
    ) -> Result<(SourcePath, PathType), String> {
        let query = JsonPath::parse(text).map_err(|e| format!("bad JSONPath `{text}`: {e}"))?;
        // The plain form: `$` then `.name` segments. Recognized on the text only after the
        // crate accepted it, so this is never a second parser.
        if let Some(rest) = text.strip_prefix("$.") {
            let segs: Vec<&str> = rest.split('.').collect();
            if segs.iter().all(|s| is_name(s)) {
                let ty = catalog
                    .resolve(object, &segs)
                    .map_err(|e| format!("JSONPath `{text}`: {e}"))?;
                let path = SourcePath::Direct(segs.iter().map(|s| Box::from(*s)).collect());
                return Ok((path, PathType { ty, many: false }));
            }
        }
        if text == "$" {
            return Ok((
                SourcePath::Query(Arc::new(query)),
                PathType {
                    ty: FieldType::Ref(object.name.clone()),
                    many: false,
                },
            ));
        }
        let many = text.contains(['*', '?', ':']) || text.contains("..");
        let filtered = text.contains('?');
        let shape = catalog.shape(object);
        let found = query.query_located(&shape);
        let ty = match found.first() {
            Some(node) => type_at(catalog, object, node.location().iter())?,
            // A filter compares values the sample record does not have: trust it, untyped.
            None if filtered => FieldType::Any,
            None => {
                return Err(format!(
                    "JSONPath `{text}` selects nothing in {}: check the field names",
                    object.name
                ));
            }
        };
        Ok((SourcePath::Query(Arc::new(query)), PathType { ty, many }))
    }

    /// Selects from `record`.
    pub(crate) fn select<'a>(&self, record: &'a Value) -> Selected<'a> {
        match self {
            SourcePath::Direct(segs) => {
                let mut v = record;
                for s in segs.iter() {
                    match v.get(&**s) {
                        Some(next) => v = next,
                        None => return Selected::None,
                    }
                }
                Selected::One(v)
            }
            SourcePath::Query(q) => {
                let nodes = q.query(record).all();
                match nodes.len() {
                    0 => Selected::None,
                    1 => Selected::One(nodes[0]),
                    _ => Selected::Many(nodes),
                }
            }
        }
    }

    /// Selects a list: every match of a query, or the elements of a single array.
    pub(crate) fn select_all<'a>(&self, record: &'a Value) -> Vec<&'a Value> {
        match self {
            SourcePath::Query(q) => q.query(record).all(),
            SourcePath::Direct(_) => match self.select(record) {
                Selected::One(Value::Array(items)) => items.iter().collect(),
                Selected::One(Value::Null) | Selected::None => Vec::new(),
                Selected::One(v) => vec![v],
                Selected::Many(v) => v,
            },
        }
    }
}

/// The declared type at a normalized location of the sample record.
fn type_at<'p>(
    catalog: &Catalog,
    object: &ObjectDef,
    elements: impl Iterator<Item = &'p PathElement<'p>>,
) -> Result<FieldType, String> {
    let mut ty = FieldType::Ref(object.name.clone());
    for el in elements {
        ty = match (el, &ty) {
            (PathElement::Name(n), FieldType::Ref(o)) => {
                let def = catalog.get(o).ok_or_else(|| catalog.unknown_object(o))?;
                catalog.field(def, n)?
            }
            (PathElement::Name(n), FieldType::Children(o)) => match &**n {
                "records" => FieldType::List(o.clone()),
                "totalSize" => FieldType::Int,
                _ => FieldType::Bool,
            },
            (PathElement::Index(_), FieldType::List(o)) => FieldType::Ref(o.clone()),
            _ => FieldType::Any,
        };
    }
    Ok(ty)
}

/// A dotted target path (`DISPLAYCONTACT.MAILADDRESS.CITY`), split once at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetPath {
    pub segments: Box<[Box<str>]>,
}

impl TargetPath {
    pub(crate) fn parse(text: &str) -> Result<TargetPath, String> {
        let segments: Vec<&str> = text.split('.').collect();
        if segments
            .iter()
            .any(|s| s.trim().is_empty() || *s != s.trim())
        {
            return Err(format!(
                "target `{text}` is not a dotted field path (e.g. DISPLAYCONTACT.MAILADDRESS.CITY)"
            ));
        }
        Ok(TargetPath {
            segments: segments.into_iter().map(Box::from).collect(),
        })
    }

    pub(crate) fn as_dotted(&self) -> String {
        self.segments.join(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SystemName;
    use serde_json::json;

    fn catalog() -> (Catalog, Arc<ObjectDef>) {
        let mut c = Catalog::default();
        let line = Arc::new(ObjectDef {
            name: "OpportunityLineItem".into(),
            system: SystemName::Salesforce,
            fields: [
                ("ProductCode".to_owned(), FieldType::String { max: None }),
                ("Quantity".to_owned(), FieldType::Decimal),
            ]
            .into(),
        });
        let account = Arc::new(ObjectDef {
            name: "Account".into(),
            system: SystemName::Salesforce,
            fields: [("BillingCity".to_owned(), FieldType::String { max: None })].into(),
        });
        let opp = Arc::new(ObjectDef {
            name: "Opportunity".into(),
            system: SystemName::Salesforce,
            fields: [
                ("Name".to_owned(), FieldType::String { max: None }),
                ("Account".to_owned(), FieldType::Ref("Account".into())),
                (
                    "OpportunityLineItems".to_owned(),
                    FieldType::Children("OpportunityLineItem".into()),
                ),
            ]
            .into(),
        });
        c.insert(line);
        c.insert(account);
        c.insert(opp.clone());
        (c, opp)
    }

    #[test]
    fn plain_paths_compile_to_direct_lookups() {
        let (c, opp) = catalog();
        let (p, t) = SourcePath::compile("$.Account.BillingCity", &opp, &c).unwrap();
        assert!(matches!(p, SourcePath::Direct(_)));
        assert_eq!(t.ty, FieldType::String { max: None });
        let rec = json!({"Account": {"BillingCity": "Lyon"}});
        assert!(matches!(p.select(&rec), Selected::One(v) if v == "Lyon"));
        assert!(matches!(p.select(&json!({})), Selected::None));
    }

    #[test]
    fn queries_are_typed_from_the_declared_shape() {
        let (c, opp) = catalog();
        let (p, t) = SourcePath::compile("$.OpportunityLineItems.records[*]", &opp, &c).unwrap();
        assert!(matches!(p, SourcePath::Query(_)));
        assert_eq!(t.ty, FieldType::Ref("OpportunityLineItem".into()));
        assert!(t.many);
        let rec = json!({"OpportunityLineItems": {"records": [{"ProductCode": "A"}, {"ProductCode": "B"}]}});
        assert_eq!(p.select_all(&rec).len(), 2);
        let (_, t) = SourcePath::compile("$['Name']", &opp, &c).unwrap();
        assert_eq!(t.ty, FieldType::String { max: None });
    }

    #[test]
    fn bad_paths_are_rejected_with_reasons() {
        let (c, opp) = catalog();
        let e = SourcePath::compile("$.Name[", &opp, &c).unwrap_err();
        assert!(e.starts_with("bad JSONPath"), "{e}");
        let e = SourcePath::compile("$.Nmae", &opp, &c).unwrap_err();
        assert!(e.contains("did you mean `Name`"), "{e}");
        let e = SourcePath::compile("$.OpportunityLineItems.records[*].Prodcode", &opp, &c)
            .unwrap_err();
        assert!(e.contains("selects nothing"), "{e}");
        // A filter is trusted (the sample has no values to filter on).
        assert!(
            SourcePath::compile(
                "$.OpportunityLineItems.records[?@.ProductCode == 'X']",
                &opp,
                &c
            )
            .is_ok()
        );
    }

    #[test]
    fn target_paths_split_on_dots() {
        assert_eq!(
            TargetPath::parse("DISPLAYCONTACT.MAILADDRESS.CITY")
                .unwrap()
                .segments
                .len(),
            3
        );
        assert!(TargetPath::parse("A..B").is_err());
        assert!(TargetPath::parse(" A").is_err());
    }
}
